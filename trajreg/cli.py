"""Command line: ``trajreg schedule`` (any search method of ``trajreg.search`` on a registered model or
a diffusers pipeline folder), ``trajreg gits`` (GITS with its own options), ``trajreg report`` (the
paper's analysis pages on one model, ``trajreg.model_report``), and the commands of
``trajreg.train``, ``trajreg.fid`` and ``trajreg.distributed`` (``train``, ``fid``, ``distributed``).

Every argument is checked before any model is loaded or run; a user error ends in one line
``trajreg <command>: error: ...`` and exit status 2, never a traceback. A denoiser whose output has
the wrong shape or is not finite stops the search the same way (``checked.checked``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import torch

FORMATS = ("list", "json", "diffusers", "diffusers-edm-euler", "diffusers-flow-euler",
           "diffusers-dpm-solver", "k-diffusion", "comfyui")
FORMAT_HELP = ("list: plain sigmas; json: a record with the search's cost; diffusers: K+1 levels for "
               "EulerDiscreteScheduler / pipe(sigmas=...); diffusers-edm-euler / -flow-euler / -dpm-solver: "
               "scheduler class, config flags and set_timesteps arguments for EDMEulerScheduler, "
               "FlowMatchEulerDiscreteScheduler, DPMSolverMultistepScheduler; k-diffusion: the sigma "
               "tensor (last 0); comfyui: the ManualSigmas string")
GRID_METHODS = {"gits-l2": 61, "gits-dev": 61, "gits-propagated": 21, "oss": 61, "exhaustive": 16}
SOLVER_AWARE = ("oss", "learned", "exhaustive")
WARM_METHODS = ("gits-l2", "gits-dev", "gits-propagated", "oss")
REF_STEPS = 100                                   # search.reference: iPNDM, 100 polynomial steps
LEARNED_ITERS = 20
AYS_DATA = 8192                                   # AYS's real samples (Sabour et al. 2024: 8192)
FMNIST_MODELS = ("fmnist-edm", "kde-fmnist")      # models whose data ship with trajreg


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.ArgumentDefaultsHelpFormatter(prog, max_help_position=32)


def _shared(p: argparse.ArgumentParser, warmup: int) -> None:
    """Options every schedule command takes: the model, K, the search noises, the output."""
    from trajreg import models

    m = p.add_argument_group("model (one of)")
    m.add_argument("--model", default=None, metavar="NAME",
                   help=f"a registered model: {', '.join(sorted(models.MODELS))} (default fmnist-edm)")
    m.add_argument("--pipeline", default=None, metavar="PATH", help="a local diffusers pipeline folder "
                   "(UNet on a DDPM/DDIM schedule, Stable Diffusion style, or SD3-style flow matching)")
    m.add_argument("--prompts", default=None, metavar="FILE",
                   help="prompts, one per line (text-conditioned pipelines; sample b uses prompt b mod P)")
    m.add_argument("--guidance", type=float, default=7.5, help="classifier-free guidance scale")
    p.add_argument("--steps", type=int, default=5, help="solver steps K (NFE for 1-eval solvers)")
    p.add_argument("--warmup", type=int, default=warmup, help="search (warm-up) samples")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per denoiser call (default 64, a multiple of the prompt count)")
    p.add_argument("--seed", type=int, default=0, help="search noise i is seed + i")
    p.add_argument("--format", default="list", choices=FORMATS, help=FORMAT_HELP)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    from trajreg import gits, models, search, solvers

    p = argparse.ArgumentParser(prog="trajreg", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description=(
        "Schedules for ODE diffusion samplers (GITS and other searches) on registered models or any "
        "diffusers pipeline folder, exported for diffusers, k-diffusion and ComfyUI."), epilog=(
        "defaults: trajreg schedule --model fmnist-edm --method gits-dev --steps 5 --solver ipndm "
        "--warmup 32 --format list\n          trajreg gits --model fmnist-edm --steps 5 --warmup 256 "
        "--grid 61 --teacher ipndm --metric dev --gamma 1.15\n"
        "          trajreg report --out trajreg-report (the book's sizes; --small for a quick one)\n"
        "'trajreg COMMAND --help' lists every option of a command with its default."))
    sub = p.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    s = sub.add_parser("schedule", formatter_class=_formatter,
                       help="a K-step schedule from any search method",
                       description="A K-step schedule from one of the search methods of trajreg.search "
                       "(search NFE and seconds go to stderr, the schedule to stdout); "
                       f"{', '.join(search.MODEL_FREE)} need no model.")
    s.add_argument("--method", default="gits-dev", choices=list(search.METHODS),
                   help="search method (gits-dev: GITS with the official code's cost; refined-multistart: "
                   "the most accurate on the optimality-gap page, at 10-20x GITS's model calls)")
    s.add_argument("--solver", default="ipndm", choices=list(solvers.SOLVERS),
                   help=f"solver the schedule is for; {', '.join(SOLVER_AWARE)} step with it and take "
                   f"{', '.join(search.SOLVERS)}")
    s.add_argument("--grid", type=int, default=None, help="grid points (default: the method's: "
                   + ", ".join(f"{k} {v}" for k, v in GRID_METHODS.items()) + ")")
    s.add_argument("--gamma", type=float, default=gits.GAMMA, help="GITS discount (gits-l2, gits-dev)")
    s.add_argument("--data", default=None, metavar="FILE", help="real samples for --method ays: a .npy of "
                   "N arrays shaped like the model's input, in its data range (default for the Fashion-MNIST "
                   f"models: the first {AYS_DATA} training images)")
    _shared(s, 32)
    g = sub.add_parser("gits", formatter_class=_formatter, help="GITS (warm-up, cost matrix, DP) with "
                       "its own options", description="GITS time schedule (warm-up, cost matrix, dynamic "
                       "programme; Chen et al., ICML 2024, Alg. 1).")
    g.add_argument("--grid", type=int, default=gits.N_GRID, help="points of the fine grid")
    g.add_argument("--teacher", default="ipndm", choices=gits.TEACHERS)
    g.add_argument("--metric", default=gits.METRIC, choices=gits.METRICS,
                   help="jump cost: dev (official code) or l2 (the paper's text)")
    g.add_argument("--gamma", type=float, default=gits.GAMMA)
    _shared(g, gits.N_WARMUP)
    r = sub.add_parser("report", formatter_class=_formatter, help="the regularity report of a model: the "
                       "paper's analysis pages run on it, built into a small site",
                       description="The paper's analysis pages (Fig. 2 deviation, Fig. 3 explained "
                       "variance, Fig. 4 projection, curvature and torsion, the GITS schedule and its gap to "
                       "polynomial) executed with papermill on one model into DIR/notebooks and built into a "
                       "Jupyter Book in DIR/_build/html. Verdicts on your model are companion findings about "
                       "it, decided by the paper's rules, not reproductions of the paper.")
    m = r.add_argument_group("model (one of)")
    m.add_argument("--pipeline", default=None, metavar="PATH", help="a local diffusers pipeline folder "
                   "(UNet on a DDPM/DDIM schedule, Stable Diffusion style, or SD3-style flow matching)")
    m.add_argument("--model", default=None, metavar="NAME", help="a registered model: "
                   f"{', '.join(sorted(models.MODELS))} (fmnist-edm: the main book's numbers)")
    m.add_argument("--prompts", default=None, metavar="FILE",
                   help="prompts, one per line (text-conditioned pipelines; guidance 7.5)")
    r.add_argument("--out", default="trajreg-report", metavar="DIR", help="report folder (new, empty or "
                   "an earlier report)")
    r.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    r.add_argument("--small", action="store_true", help="small sizes (32 trajectories, 32 warm-up samples, "
                   "...) instead of the book's (128 trajectories, 256 warm-up samples, ...)")
    sub.add_parser("train", help="train the embedded model (trajreg train --help)", add_help=False)
    sub.add_parser("fid", help="FID tools (trajreg fid --help)", add_help=False)
    sub.add_parser("distributed", add_help=False, help="sharded sampling and GITS warm-up under torchrun "
                   "(trajreg distributed --help)")
    return p


# --- checks before any compute ------------------------------------------------------------------


def _fail(msg: str) -> None:
    raise ValueError(msg)


def _check_device(device: str) -> None:
    try:
        d = torch.device(device)
    except (RuntimeError, ValueError):
        _fail(f"--device {device!r} is not a device; use cpu or cuda[:index]")
    if d.type == "cuda" and not torch.cuda.is_available():
        _fail(f"--device {device}: no CUDA device is available here; use --device cpu")
    if d.type == "cuda" and d.index is not None and d.index >= torch.cuda.device_count():
        _fail(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
    if d.type not in ("cpu", "cuda"):
        _fail(f"--device {device!r}: trajreg runs on cpu or cuda")


def _check(a: argparse.Namespace) -> None:
    """Every argument of a schedule command, before anything is loaded (ValueError naming it)."""
    from trajreg import models, search

    method = getattr(a, "method", "gits-dev")
    if a.model is not None and a.model not in models.MODELS:
        _fail(f"--model {a.model!r} is not registered; choose one of {', '.join(sorted(models.MODELS))} "
              "or give a diffusers folder with --pipeline")
    if a.model is not None and a.pipeline is not None:
        _fail("give --model or --pipeline, not both")
    if a.prompts is not None and a.pipeline is None:
        _fail("--prompts goes with a text-conditioned --pipeline")
    if not a.steps >= 1:
        _fail(f"--steps must be an integer >= 1, got {a.steps}")
    if not a.warmup >= 1:
        _fail(f"--warmup must be an integer >= 1, got {a.warmup}")
    if a.batch_size is not None and not a.batch_size >= 1:
        _fail(f"--batch-size must be an integer >= 1, got {a.batch_size}")
    if not a.seed >= 0:
        _fail(f"--seed must be >= 0, got {a.seed}")
    if not (a.gamma > 0 and math.isfinite(a.gamma)):
        _fail(f"--gamma must be a finite number > 0, got {a.gamma}")
    if not (a.guidance > 0 and math.isfinite(a.guidance)):
        _fail(f"--guidance must be a finite number > 0, got {a.guidance}")
    n = a.grid if a.grid is not None else GRID_METHODS.get(method)
    if n is not None:
        if not n >= 2:
            _fail(f"--grid must be >= 2 points, got {n}")
        if a.steps > n - 1:
            _fail(f"--steps {a.steps} needs a grid of more than {a.steps} points; --grid is {n}")
    if getattr(a, "grid", None) is not None and method not in GRID_METHODS and a.command == "schedule":
        _fail(f"--grid does not apply to --method {method} (grid methods: {', '.join(GRID_METHODS)})")
    given = getattr(a, "given", set())
    unused = {"--warmup", "--batch-size", "--seed"} if method in search.MODEL_FREE else set()
    if a.command == "schedule" and method not in ("gits-l2", "gits-dev"):
        unused.add("--gamma")
    if a.command == "schedule" and method != "ays":
        unused.add("--data")
    if a.prompts is None and "--guidance" in given:
        _fail("--guidance applies to text-conditioned pipelines (--pipeline with --prompts)")
    if unused & given:
        _fail(f"{', '.join(sorted(unused & given))} does not apply to --method {method}")
    if method in SOLVER_AWARE and a.solver not in search.SOLVERS:
        _fail(f"--method {method} steps with the solver: --solver must be one of {', '.join(search.SOLVERS)}")
    if method == "exhaustive" and math.comb(n - 2, a.steps - 1) > 200_000:
        _fail(f"--method exhaustive would enumerate {math.comb(n - 2, a.steps - 1):,} schedules on a "
              f"{n}-point grid; lower --grid or --steps")
    if a.prompts is not None:
        from trajreg import adapters  # imports diffusers: only for a pipeline

        a.prompt_list = adapters.read_prompts(a.prompts)
    if method not in search.MODEL_FREE:
        _check_device(a.device)
    if a.pipeline is not None:
        from pathlib import Path

        if not (Path(a.pipeline) / "model_index.json").is_file():
            _fail(f"--pipeline {a.pipeline!r} is not a diffusers pipeline folder (no model_index.json)")
    if a.format == "diffusers-dpm-solver" and a.pipeline is None:
        _fail("--format diffusers-dpm-solver needs a --pipeline with a discrete VP schedule")
    if a.format == "diffusers-dpm-solver" and method not in GRID_METHODS:
        _fail(f"--format diffusers-dpm-solver takes integer timesteps only: use a grid method "
              f"({', '.join(GRID_METHODS)}), whose grid lies on the model's timesteps, not {method}")
    if a.format == "diffusers-flow-euler" and a.pipeline is None:
        _fail("--format diffusers-flow-euler needs a flow-matching --pipeline")


def _check_model(a: argparse.Namespace, model: Any) -> None:
    """Checks that need the loaded pipeline (still before any search): prompts and formats."""
    P = getattr(model, "n_prompts", 1)
    if a.warmup % P:
        _fail(f"--warmup {a.warmup} must be a multiple of the {P} prompts (sample b uses prompt b mod P)")
    if a.batch_size is not None and a.batch_size % P:
        _fail(f"--batch-size {a.batch_size} must be a multiple of the {P} prompts")
    kind = getattr(model, "kind", "edm")
    if kind == "flow" and a.format in ("diffusers", "diffusers-edm-euler", "diffusers-dpm-solver"):
        _fail("a flow pipeline steps with FlowMatchEulerDiscreteScheduler: use --format "
              f"diffusers-flow-euler, not {a.format}")
    if kind != "flow" and a.format == "diffusers-flow-euler":
        _fail("--format diffusers-flow-euler is for flow-matching pipelines")
    if kind == "edm" and a.format == "diffusers-dpm-solver":
        _fail("--format diffusers-dpm-solver needs a --pipeline with a discrete VP schedule")


# --- the model, the noises, the search ------------------------------------------------------------


class _Model:
    """A registered model as the CLI uses it (the fields of ``adapters.Adapted`` it reads)."""

    def __init__(self, name: str, device: str, load: bool):
        from trajreg import models

        info = models.info(name)
        self.kind, self.shape, self.n_prompts = "edm", info.data_shape, 1
        self.sigma_min, self.sigma_max = info.sigma_min, info.sigma_max
        self.denoiser = None
        if load:
            try:
                self.denoiser = models.load(name, device=device)
            except OSError as e:
                _fail(f"could not load model {name!r}: {e}")

    def grid(self, n: int) -> torch.Tensor:
        from trajreg import schedules

        return schedules.polynomial(n, self.sigma_min, self.sigma_max)


def _load(a: argparse.Namespace, needs_model: bool) -> Any:
    """The registered model or the adapted pipeline (``needs_model`` False: only its sigma range)."""
    if a.pipeline is None:
        return _Model(a.model or "fmnist-edm", a.device, needs_model)
    from trajreg import adapters

    return adapters.load(a.pipeline, getattr(a, "prompt_list", None), guidance_scale=a.guidance,
                         device=a.device if needs_model else "cpu")


def _bar(a: argparse.Namespace, total: int | None, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="eval", disable=a.quiet, file=sys.stderr, dynamic_ncols=True)


def _expected_evals(method: str, B: int, n: int | None, K: int) -> int | None:
    """Denoiser evaluations (samples) the method will make, for the progress bar's total."""
    from trajreg import search

    if method in ("gits-l2", "gits-dev"):
        return B * (n - 1)
    if method == "oss":
        return search.oss_nfe(n, K, B)
    if method == "learned":
        return B * (REF_STEPS + (LEARNED_ITERS + 1) * K)
    return None


def _run_search(a: argparse.Namespace, model: Any) -> tuple[Any, float]:
    """Search with batched warm-up / reference (bounded memory); (SearchResult, total seconds)."""
    from trajreg import checked, data, evaluate, gits, schedules, search

    method, K = a.method, a.steps
    kw: dict[str, Any] = {"sigma_min": model.sigma_min, "sigma_max": model.sigma_max}
    if method in search.MODEL_FREE:
        r = search.search(method, lambda x, s: x, torch.zeros(1, 1), K, a.solver, **kw)
        return r, r.seconds
    B, bs = a.warmup, a.batch_size or 64 * getattr(model, "n_prompts", 1)
    noise = data.noise(range(a.seed, a.seed + B), model.shape, torch.float32, a.device)
    n = a.grid or GRID_METHODS.get(method)
    bar = _bar(a, _expected_evals(method, B, n, K), method)
    D = checked.checked(model.denoiser, on_call=bar.update)
    start = time.perf_counter()
    if n is not None:
        kw["grid"] = model.grid(n)
    if method in WARM_METHODS:
        kw["warm"] = gits.warmup(D, noise, kw.pop("grid"), "ipndm", batch_size=bs)
    if method in ("gits-l2", "gits-dev"):
        kw["gamma"] = a.gamma
    if method in ("oss", "exhaustive", "gits-propagated"):
        kw["batch_size"] = bs
    if method in ("learned", "exhaustive"):
        ref = schedules.polynomial(REF_STEPS + 1, model.sigma_min, model.sigma_max)
        kw["x_ref"] = evaluate.final_samples(D, noise, ref, "ipndm", batch_size=bs)
    if method == "learned":
        kw["iters"] = LEARNED_ITERS
    if method == "ays":
        kw["x0"], kw["batch_size"] = _ays_data(a, model).to(a.device), bs
    prep = time.perf_counter() - start
    r = search.search(method, D, noise, K, a.solver, **kw)
    bar.close()
    return r, prep + r.seconds


def _ays_data(a: argparse.Namespace, model: Any) -> torch.Tensor:
    """AYS's real samples: --data, else the Fashion-MNIST training images for those models."""
    from trajreg import data

    if a.data is None:
        if a.pipeline is None and (a.model or "fmnist-edm") in FMNIST_MODELS:
            return data.fashion_mnist("train")[:AYS_DATA].to(torch.float32)
        _fail("--method ays needs real samples of the model's data: --data FILE (.npy, N x "
              f"{' x '.join(map(str, model.shape))})")
    import numpy as np

    try:
        x = torch.from_numpy(np.load(a.data)).to(torch.float32)
    except (OSError, ValueError) as e:
        _fail(f"--data {a.data!r} could not be read as a .npy array: {e}")
    if tuple(x.shape[1:]) != tuple(model.shape) or x.shape[0] < 2 or not bool(torch.isfinite(x).all()):
        _fail(f"--data must hold N >= 2 finite samples of shape {tuple(model.shape)}, got {tuple(x.shape)}")
    return x


def _emit(a: argparse.Namespace, model: Any, sigmas: torch.Tensor, meta: dict[str, Any]) -> None:
    """Print the schedule in ``a.format`` to stdout."""
    from trajreg import export

    f = a.format
    if f == "list":
        out: Any = export.as_list(sigmas)
    elif f == "json":
        print(export.to_json(sigmas, "keep", **meta))
        return
    elif f == "diffusers":
        out = export.euler_discrete(sigmas).set_timesteps["sigmas"]
    elif f == "k-diffusion":
        out = export.k_diffusion(sigmas).tolist()
    elif f == "comfyui":
        print(export.comfyui(sigmas))
        return
    else:
        exp = {"diffusers-edm-euler": lambda: export.edm_euler(sigmas),
               "diffusers-flow-euler": lambda: export.flow_match_euler(sigmas),
               "diffusers-dpm-solver": lambda: export.dpm_solver(sigmas, model.pipe.scheduler.alphas_cumprod),
               }[f]()
        out = {"scheduler": exp.scheduler, "config": exp.config, "nfe": exp.nfe,
               "set_timesteps": {k: v.tolist() if isinstance(v, torch.Tensor) else v
                                 for k, v in exp.set_timesteps.items()}}
    print(json.dumps(out))


def _schedule(a: argparse.Namespace) -> None:
    from trajreg import search

    _check(a)
    model = _load(a, a.method not in search.MODEL_FREE)
    _check_model(a, model)
    r, seconds = _run_search(a, model)
    where = "no model" if a.method in search.MODEL_FREE else a.device
    print(f"{a.method}: search NFE {r.nfe} ({r.nfe / a.warmup:.0f} per sample), {seconds:.1f} s on {where}",
          file=sys.stderr)
    meta = {"method": a.method, "solver": a.solver, "model": a.pipeline or a.model or "fmnist-edm",
            "search_nfe": r.nfe, "search_seconds": round(seconds, 3)}
    _emit(a, model, r.sigmas, meta)


def _gits(a: argparse.Namespace) -> None:
    from trajreg import checked, data, gits

    a.method = f"gits-{a.metric}"
    _check(a)
    model = _load(a, True)
    _check_model(a, model)
    noise = data.noise(range(a.seed, a.seed + a.warmup), model.shape, torch.float32, a.device)
    bar = _bar(a, a.warmup * (a.grid - 1), "gits warm-up")
    D = checked.checked(model.denoiser, on_call=bar.update)
    start = time.perf_counter()
    bs = a.batch_size or 64 * model.n_prompts
    warm = gits.warmup(D, noise, model.grid(a.grid), a.teacher, batch_size=bs)
    sigmas = warm.sigmas[gits.search(gits.cost_matrix(warm, a.metric), a.steps, a.gamma)]
    bar.close()
    seconds = time.perf_counter() - start
    print(f"gits: warm-up NFE {a.warmup * (a.grid - 1)}, {seconds:.1f} s on {a.device}", file=sys.stderr)
    _emit(a, model, sigmas, {"method": "gits", "metric": a.metric, "gamma": a.gamma,
                             "model": a.pipeline or a.model or "fmnist-edm",
                             "search_seconds": round(seconds, 3)})


def _check_report(a: argparse.Namespace) -> None:
    """Every argument of ``trajreg report``, before any notebook runs (ValueError naming it)."""
    import importlib.util
    from pathlib import Path

    from trajreg import model_report, models

    if a.pipeline is None and a.model is None:
        _fail("give the model: --pipeline PATH (a diffusers folder) or --model NAME (a registered model)")
    if a.pipeline is not None and a.model is not None:
        _fail("give --pipeline or --model, not both")
    if a.model is not None and a.model not in models.MODELS:
        _fail(f"--model {a.model!r} is not registered; choose one of {', '.join(sorted(models.MODELS))} "
              "or give a diffusers folder with --pipeline")
    if a.prompts is not None and a.pipeline is None:
        _fail("--prompts goes with a text-conditioned --pipeline")
    if a.pipeline is not None and not (Path(a.pipeline) / "model_index.json").is_file():
        _fail(f"--pipeline {a.pipeline!r} is not a diffusers pipeline folder (no model_index.json); save one "
              "with pipe.save_pretrained(folder)")
    if a.prompts is not None:
        from trajreg import adapters

        a.prompt_list = adapters.read_prompts(a.prompts)
    _check_device(a.device)
    model_report.check_out(Path(a.out))
    missing = [m for m in ("papermill", "nbformat", "jupyter_book") if importlib.util.find_spec(m) is None]
    if missing:
        _fail(f"trajreg report needs {', '.join(missing)}: pip install 'trajreg[book]'")
    model_report.notebooks_dir()


def _short(key: str) -> str:
    """A cache key "name@sha256" with the first 16 hex digits of its checksum."""
    name, _, sha = key.partition("@")
    return f"{name}@{sha[:16]}…" if sha else name


def _report(a: argparse.Namespace) -> None:
    """``trajreg report``: check everything, load the model once to check it, then run the pages."""
    from pathlib import Path

    from trajreg import adapters, cache, model_report, runs

    _check_report(a)
    about, n_prompts, prompts = {}, 1, ""
    if a.pipeline is not None:
        plist = getattr(a, "prompt_list", None)
        m = adapters.load(a.pipeline, plist, device="cpu")        # kind, prompts, prediction type
        spec = runs.PIPELINE + str(Path(a.pipeline).resolve())
        prompts = str(Path(a.prompts).resolve()) if a.prompts else ""
        n_prompts = m.n_prompts
        about = {"kind": m.kind, "sample shape": " × ".join(map(str, m.shape)),
                 "sigma range": f"{m.sigma_min:.4g} to {m.sigma_max:.4g} (EDM's sigma; data range "
                 f"{m.data_range or 'unbounded'})"}
        if plist:
            about["prompts"] = f"{len(plist)} from {prompts} (guidance {adapters.GUIDANCE:g})"
        about["cache key"] = _short(runs.pipeline_key(a.pipeline, plist))
        del m
    else:
        spec = a.model
        _Model(a.model, "cpu", True)                              # its weights load and verify
        about = {"cache key": _short(cache.model_key(a.model))}

    def log(line: str) -> None:
        print(f"trajreg report: {line}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        index = model_report.run(spec, a.out, prompts=prompts, device=a.device, small=a.small,
                                 n_prompts=n_prompts, about=about, log=log)
    except model_report.ReportError as e:
        print(f"trajreg report: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    log(f"done in {time.perf_counter() - start:.0f} s; open {index}")
    print(index)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trajreg`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        from trajreg.train import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["fid"]:
        from trajreg.fid import main as fid_main

        return fid_main(argv[1:])
    if argv[:1] == ["distributed"]:
        from trajreg.distributed import main as distributed_main

        return distributed_main(argv[1:])
    p = _parser()
    a = p.parse_args(argv)
    a.given = {tok.split("=")[0] for tok in argv if tok.startswith("--")}     # flags the user typed
    if a.command is None:
        p.print_help(sys.stderr)
        raise SystemExit(2)
    try:
        {"schedule": _schedule, "gits": _gits, "report": _report}[a.command](a)
    except (ValueError, OSError, ImportError) as e:
        print(f"trajreg {a.command}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except torch.OutOfMemoryError:
        print(f"trajreg {a.command}: error: out of memory on {a.device}; lower --batch-size", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print(f"trajreg {a.command}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
