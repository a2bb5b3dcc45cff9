"""Run notebooks N at a time, longest first: execute them in place, or check them with nbval.

    python scripts/run_notebooks.py execute [--jobs N] NOTEBOOK...
    python scripts/run_notebooks.py check [--jobs N] [--threads T] NOTEBOOK...

``execute`` runs papermill in place at the notebook's default parameters, in the notebook's own
folder, with the kernel ``python3`` (the venv's, registered by ``make setup``) and TRAJREG_RECORD=1,
then stamps the hash of its code (scripts/stamp_notebooks.py). ``check`` re-executes it with nbval
(``--nbval-lax``: only cells marked ``# NBVAL_CHECK_OUTPUT`` are compared) and TRAJREG_CHECK=1.
Both run one CPU thread per notebook by default (OMP_NUM_THREADS=1): two single-thread notebooks
use two cores better than one notebook with two threads. ``--threads T`` sets OMP_NUM_THREADS=T
instead: checking with 2 threads shows the checked numbers do not depend on the thread count.
Order: notebooks with no recorded time first, then by the time their last run took
(notebooks/run_times.json, seconds by notebook, merged after every successful run of either mode:
checking takes about as long as executing), so the workers end at about the same time.
Prints each notebook's time and a summary; exits 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp_notebooks import stamp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "notebooks" / "run_times.json"
BIN = Path(sys.executable).parent      # the venv's bin when run as .venv/bin/python


def read_times(path: Path = TIMES) -> dict[str, float]:
    """{notebook stem: seconds} recorded by earlier runs ({} if none)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def order(notebooks: list[str], times: dict[str, float]) -> list[str]:
    """Unknown notebooks first (in the given order), then the known ones longest first."""
    unknown = [nb for nb in notebooks if Path(nb).stem not in times]
    known = sorted((nb for nb in notebooks if Path(nb).stem in times),
                   key=lambda nb: -times[Path(nb).stem])
    return unknown + known


def command(mode: str, nb: Path, threads: int = 1) -> tuple[list[str], dict[str, str]]:
    """The command that runs notebook ``nb`` in ``mode`` and the variables it adds to the environment."""
    env = {"OMP_NUM_THREADS": str(threads), "JUPYTER_PREFER_ENV_PATH": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if mode == "execute":
        return ([str(BIN / "papermill"), str(nb), str(nb), "--cwd", str(nb.parent), "--kernel",
                 "python3", "--no-progress-bar", "--log-level", "WARNING"],
                {**env, "TRAJREG_RECORD": "1"})
    return ([str(BIN / "pytest"), "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
             "-q", str(nb)], {**env, "TRAJREG_CHECK": "1"})


def run_one(mode: str, nb: str, threads: int = 1) -> tuple[str, bool, float, str]:
    """Run one notebook; (notebook, passed, seconds, output of a failure)."""
    path = Path(nb).resolve()
    cmd, env = command(mode, path, threads)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    ok = proc.returncode == 0
    if ok and mode == "execute":
        stamp(str(path))
    seconds = time.perf_counter() - start
    print(f"{mode} {nb}: {'passed' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    return nb, ok, seconds, "" if ok else proc.stdout[-20000:] + proc.stderr[-20000:]


def record(results: list[tuple[str, bool, float, str]], path: Path = TIMES) -> None:
    """Merge the run times of this run into ``path`` (failed runs are not recorded)."""
    times = read_times(path)
    times.update({Path(nb).stem: round(s) for nb, ok, s, _ in results if ok})
    path.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None, times_path: Path = TIMES) -> int:
    """Run the notebooks; 0 if all passed, else 1."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=("execute", "check"))
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", 2)))
    p.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each notebook")
    a = p.parse_intermixed_args(argv)
    if a.jobs < 1:
        p.error(f"--jobs must be >= 1, got {a.jobs}")
    if a.threads < 1:
        p.error(f"--threads must be >= 1, got {a.threads}")
    if not a.notebooks:
        print("no notebooks to run", file=sys.stderr)
        return 0
    queue = order(a.notebooks, read_times(times_path))
    start = time.perf_counter()
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda nb: run_one(a.mode, nb, a.threads), queue))
    record(results, times_path)
    failed = [r for r in results if not r[1]]
    for nb, _, _, output in failed:
        print(f"\n===== {nb} FAILED =====\n{output}", file=sys.stderr)
    print(f"\n{a.mode}: {len(results) - len(failed)} of {len(results)} notebooks passed in "
          f"{time.perf_counter() - start:.0f} s with {a.jobs} job(s) of {a.threads} thread(s)"
          + (f"; FAILED: {', '.join(r[0] for r in failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
