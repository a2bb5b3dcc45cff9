"""Command line: ``trajreg gits`` prints a GITS schedule, ``schedule`` one of any search method
(``trajreg.search``); ``train`` and ``fid`` run those modules."""

from __future__ import annotations

import argparse
import json
import sys

import torch


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every schedule command shares: model, steps, seed, output format, device."""
    from trajreg import models

    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--model", default="fmnist-edm", choices=sorted(models.MODELS))
    p.add_argument("--steps", type=int, default=5, help="solver steps K (NFE for 1-eval solvers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="list", choices=("list", "diffusers", "k-diffusion"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p


def _warmup_noise(a: argparse.Namespace):
    """(model info, a.warmup noises from seed a.seed) for a parsed schedule command."""
    from trajreg import data, models

    info = models.info(a.model)
    return info, data.noise(range(a.seed, a.seed + a.warmup), info.data_shape, torch.float32, a.device)


def _print_schedule(sigmas, fmt: str) -> None:
    """Print a schedule as JSON in ``fmt`` (plain list, diffusers sigmas, k-diffusion sigmas)."""
    from trajreg import gits

    export = {"list": gits.as_list, "diffusers": gits.as_diffusers,
              "k-diffusion": lambda s: gits.as_k_diffusion(s).tolist()}[fmt]
    print(json.dumps([round(s, 6) for s in export(sigmas)]))


def _gits(argv: list[str]) -> None:
    from trajreg import gits, models

    p = _parser("trajreg gits", "GITS time schedule for a registered model (warm-up, cost matrix, "
                "dynamic programme).")
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP, help="warm-up samples")
    p.add_argument("--grid", type=int, default=gits.N_GRID, help="points of the fine grid")
    p.add_argument("--teacher", default="ipndm", choices=gits.TEACHERS)
    p.add_argument("--metric", default=gits.METRIC, choices=gits.METRICS,
                   help="jump cost: dev (official code, default) or l2 (the paper's text)")
    p.add_argument("--gamma", type=float, default=gits.GAMMA)
    a = p.parse_args(argv)
    info, noise = _warmup_noise(a)
    D = models.load(a.model, device=a.device)
    sigmas = gits.schedule(D, noise, a.steps, grid=gits.default_grid(a.grid, info.sigma_min,
                           info.sigma_max), teacher=a.teacher, metric=a.metric, gamma=a.gamma,
                           progress=True)
    _print_schedule(sigmas, a.format)


def _schedule(argv: list[str]) -> None:
    from trajreg import models, search

    p = _parser("trajreg schedule", "A K-step schedule from one of the search methods of "
                f"trajreg.search: {', '.join(search.METHODS)} (search NFE and seconds go to stderr).")
    p.add_argument("--method", default="gits-l2", choices=list(search.METHODS))
    p.add_argument("--solver", default="ipndm", help="solver the schedule is for; the solver-aware "
                   f"methods (oss, learned, exhaustive) take {', '.join(search.SOLVERS)}")
    p.add_argument("--warmup", type=int, default=32, help="search (warm-up) samples")
    p.add_argument("--grid", type=int, default=None, help="grid points (default: the method's)")
    a = p.parse_args(argv)
    info, noise = _warmup_noise(a)
    kw = {"sigma_min": info.sigma_min, "sigma_max": info.sigma_max}
    if a.grid is not None:
        kw["grid"] = search.coarse_grid(a.grid, info.sigma_min, info.sigma_max)
    r = search.search(a.method, models.load(a.model, device=a.device), noise, a.steps, a.solver,
                      **kw)
    print(f"{a.method}: search NFE {r.nfe}, {r.seconds:.1f} s", file=sys.stderr)
    _print_schedule(r.sigmas, a.format)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trajreg`` command."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"gits": _gits, "schedule": _schedule}
    if argv[:1] == ["train"]:
        from trajreg.train import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["fid"]:
        from trajreg.fid import main as fid_main

        return fid_main(argv[1:])
    if not argv or argv[0] not in commands:
        print("usage: trajreg {gits,schedule,train,fid} [options]; trajreg <command> --help",
              file=sys.stderr)
        raise SystemExit(2)
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
