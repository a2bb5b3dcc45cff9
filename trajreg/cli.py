"""Command line: ``trajreg gits`` prints a GITS schedule; ``train`` and ``fid`` run those modules."""

from __future__ import annotations

import argparse
import json
import sys

import torch


def _gits(argv: list[str]) -> None:
    from trajreg import data, gits, models

    p = argparse.ArgumentParser(prog="trajreg gits", description="GITS time schedule for a "
                                "registered model (warm-up, cost matrix, dynamic programme).")
    p.add_argument("--model", default="fmnist-edm", choices=sorted(models.MODELS))
    p.add_argument("--steps", type=int, default=5, help="solver steps K (NFE for 1-eval solvers)")
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP, help="warm-up samples")
    p.add_argument("--grid", type=int, default=gits.N_GRID, help="points of the fine grid")
    p.add_argument("--teacher", default="ipndm", choices=gits.TEACHERS)
    p.add_argument("--metric", default="l2", choices=gits.METRICS)
    p.add_argument("--gamma", type=float, default=gits.GAMMA)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="list", choices=("list", "diffusers", "k-diffusion"))
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    info = models.info(a.model)
    noise = data.noise(range(a.seed, a.seed + a.warmup), info.data_shape, torch.float32, a.device)
    D = models.load(a.model, device=a.device)
    sigmas = gits.schedule(D, noise, a.steps, grid=gits.default_grid(a.grid, info.sigma_min,
                           info.sigma_max), teacher=a.teacher, metric=a.metric, gamma=a.gamma,
                           progress=True)
    export = {"list": gits.as_list, "diffusers": gits.as_diffusers,
              "k-diffusion": lambda s: gits.as_k_diffusion(s).tolist()}[a.format]
    print(json.dumps([round(s, 6) for s in export(sigmas)]))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trajreg`` command."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"gits": _gits}
    if argv[:1] == ["train"]:
        from trajreg.train import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["fid"]:
        from trajreg.fid import main as fid_main

        return fid_main(argv[1:])
    if not argv or argv[0] not in commands:
        print("usage: trajreg {gits,train,fid} [options]; trajreg <command> --help", file=sys.stderr)
        raise SystemExit(2)
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
