"""Multi-GPU generation with torchrun (torch.distributed): samples and GITS warm-ups sharded by seed.

Each sample's noise comes only from its own seed (``data.noise``). The seed list is cut, in its
order, into batches of ``batch_size`` and the batches are dealt round-robin to the ranks (as EDM's
``generate.py`` does), so every batch holds the same samples whatever the number of processes:
the samples do not depend on it (and equal ``evaluate.final_samples`` on the whole list with the
same ``batch_size``). ``gather`` puts the final samples back in seed order; ``write_shard`` writes
them as PNGs named by seed (EDM's layout ``000000/000123.png``) or as ``.npz`` batches, which
``load_shards`` reads back. The GITS cost matrix is a mean over warm-up samples, so each rank sums
``batch * mean`` over its samples and ``cost_matrix`` all-reduces the sums and the counts: the
result equals ``gits.cost_matrix`` of the whole warm-up to float64 round-off.

Without torchrun everything runs in one process (world size 1); under torchrun ``setup`` joins the
process group (NCCL on ``--device cuda``, one GPU per process chosen by LOCAL_RANK; gloo on CPU).

Paper's CIFAR-10 setting (50k samples, seeds 0-49999, 4 GPUs as the authors ran it), with the
official EDM checkpoint registered as ``edm-cifar10-uncond-vp``::

    # GITS schedules for K = 1..10 steps from 256 warm-up samples (iPNDM teacher, 61-point grid)
    torchrun --standalone --nproc_per_node=4 -m trajreg.distributed gits \\
        --model edm-cifar10-uncond-vp --device cuda --warmup 256 --max-steps 10 \\
        --out runs/cifar10/gits.json
    # 50k samples with iPNDM at NFE 6 on that schedule, and on the polynomial (rho = 7) baseline
    torchrun --standalone --nproc_per_node=4 -m trajreg.distributed sample \\
        --model edm-cifar10-uncond-vp --device cuda --solver ipndm --nfe 6 \\
        --schedule runs/cifar10/gits.json --seeds 0-49999 --out runs/cifar10/ipndm-gits-6
    torchrun --standalone --nproc_per_node=4 -m trajreg.distributed sample \\
        --model edm-cifar10-uncond-vp --device cuda --solver ipndm --nfe 6 \\
        --schedule polynomial --seeds 0-49999 --out runs/cifar10/ipndm-poly-6

``--schedule gits`` instead of a file runs the warm-up first in the same job. Each ``sample`` run
writes 50k PNGs (about 120 MB for CIFAR-10) and ``meta.json`` (schedule, timing) into ``--out``;
score them with ``trajreg.fid.fid_from_folder(out, ref_stats, "inception")``. Warm-up noises use
seeds ``runs.WARMUP_SEED + seed + i``, never evaluation seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from trajreg import _validate, data, evaluate, files, gits, schedules, solvers
from trajreg.cache import model_key
from trajreg.denoisers import Denoiser
from trajreg.runs import WARMUP_SEED
from trajreg.trajectory import Trajectory

__all__ = ["FORMATS", "Context", "SampleShard", "WarmupShard", "batches", "cost_matrix", "current",
           "gather", "load_schedule", "load_shards", "main", "parse_seeds", "sample", "setup",
           "shard", "sharded_schedule", "sharded_warmup", "teardown", "write_shard"]

FORMATS = ("png", "npz")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
_RANGE = re.compile(r"^(\d+)-(\d+)$")


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank, the number of processes, the device it computes on."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    def __post_init__(self) -> None:
        _validate.at_least("world_size", self.world_size, 1)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank must lie in 0..world_size-1 = 0..{self.world_size - 1}, "
                             f"got {self.rank}")


@dataclass
class SampleShard:
    """This rank's seeds (in the order of the full list) and their final samples (n, *dims)."""

    seeds: list[int]
    x: torch.Tensor


@dataclass
class WarmupShard:
    """This rank's warm-up seeds and their teacher trajectories (``gits.warmup``)."""

    seeds: list[int]
    warm: Trajectory


# --- process group -------------------------------------------------------------------------------


def _device(device: str | torch.device) -> torch.device:
    """Check the --device choice; "cuda" means this process's GPU, cuda:LOCAL_RANK."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {str(device)!r}")
    if dev.type == "cpu":
        return dev
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu")
    index = dev.index if dev.index is not None else int(os.environ.get("LOCAL_RANK", "0"))
    if index >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK/device index {index} but only {torch.cuda.device_count()} "
                         "CUDA GPUs are visible; start at most that many processes per node")
    return torch.device("cuda", index)


def current(device: str | torch.device = "cpu") -> Context:
    """The Context of an initialised process group, or world size 1 where there is none."""
    dev = _device(device)
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), dev)
    return Context(0, 1, dev)


def setup(device: str | torch.device = "cpu") -> Context:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
    environment): NCCL for CUDA, gloo for CPU. Without those variables: one process, no group."""
    dev = _device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    env = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if not dist.is_initialized() and all(k in os.environ for k in env):
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://")
    return current(dev)


def teardown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _group_needed(ctx: Context) -> None:
    """Raise unless a process group matches ``ctx`` (collectives need one for world size > 1)."""
    if not dist.is_initialized() or dist.get_world_size() != ctx.world_size:
        raise RuntimeError(f"world_size={ctx.world_size} needs an initialised process group of "
                           "that size: start with torchrun and call distributed.setup()")


# --- seeds and shards ----------------------------------------------------------------------------


def parse_seeds(spec: str | int | Sequence[int]) -> list[int]:
    """Seed list from EDM's syntax: "0-49999", "0,3,10-19" (ranges inclusive), an int n (seeds
    0..n-1) or a sequence of ints; seeds must be distinct and >= 0."""
    if isinstance(spec, bool):
        raise TypeError("seeds must be a string such as '0-49999', an int or a list of ints")
    if isinstance(spec, int):
        _validate.at_least("seeds (a count)", spec, 1)
        return list(range(spec))
    if isinstance(spec, str):
        seeds: list[int] = []
        for part in spec.replace(" ", "").split(","):
            m = _RANGE.match(part)
            if m:
                lo, hi = int(m[1]), int(m[2])
                if hi < lo:
                    raise ValueError(f"seeds: range {part!r} ends before it starts; write 'LOW-HIGH'")
                seeds.extend(range(lo, hi + 1))
            elif part.isdigit():
                seeds.append(int(part))
            else:
                raise ValueError(f"seeds: cannot read {part!r} in {spec!r}; use non-negative ints "
                                 "and inclusive ranges separated by commas, e.g. '0-49999' or '0,5,10-19'")
    else:
        seeds = [int(s) for s in spec]
        if any(s < 0 for s in seeds):
            raise ValueError("seeds must be >= 0")
    if not seeds:
        raise ValueError("seeds: the list is empty")
    if len(set(seeds)) != len(seeds):
        seen: set[int] = set()
        dup = next(s for s in seeds if s in seen or seen.add(s))
        raise ValueError(f"seeds must be distinct, but {dup} appears more than once")
    if max(seeds) >= 2**63:
        raise ValueError("seeds must be < 2**63")
    return seeds


def batches(seeds: Sequence[int], batch_size: int) -> list[list[int]]:
    """The seed list cut, in order, into batches of ``batch_size`` (the last one may be shorter)."""
    _validate.at_least("batch_size", batch_size, 1)
    seeds = list(seeds)
    return [seeds[i: i + batch_size] for i in range(0, len(seeds), batch_size)]


def shard(seeds: Sequence[int], batch_size: int, ctx: Context) -> list[list[int]]:
    """The batches rank ``ctx.rank`` handles: batch b goes to rank b mod world_size (EDM's way), so
    the batches, and hence the samples, are the same for any number of processes."""
    return batches(seeds, batch_size)[ctx.rank:: ctx.world_size]


# --- sampling ------------------------------------------------------------------------------------


def sample(denoiser: Denoiser, seeds: Sequence[int], shape: Sequence[int], sigmas: torch.Tensor,
           solver: str = "euler", *, ctx: Context | None = None, batch_size: int = 500,
           dtype: torch.dtype = torch.float64, out: str | Path | None = None, fmt: str = "png",
           keep: bool = True, progress: bool = False, **solver_kw: Any) -> SampleShard:
    """Final samples of this rank's seeds: the PF-ODE solved by ``solver`` on ``sigmas`` from
    x = sigmas[0] * noise(seed) (``evaluate.final_samples``, batch by batch).

    With ``out`` each batch is written there at once (``write_shard``, format ``fmt``); ``keep``
    False then drops the samples from memory (x of the result is empty). Noises are drawn on the
    CPU in ``dtype`` and moved to ``ctx.device``; samples are returned on the CPU. A progress bar
    (``progress``) shows on rank 0 only.
    """
    ctx = ctx or current()
    solvers.get(solver)
    _validate.choice("fmt", fmt, FORMATS)
    sigmas = _validate.sigmas(sigmas)
    mine = shard(seeds, batch_size, ctx)
    xs, done = [], []
    for b in tqdm(mine, disable=not (progress and ctx.rank == 0), unit="batch", desc="sampling"):
        noise = data.noise(b, shape, dtype, ctx.device)
        x = evaluate.final_samples(denoiser, noise, sigmas, solver, batch_size=len(b),
                                   **solver_kw).cpu()
        if out is not None:
            write_shard(out, b, x, fmt)
        if keep:
            xs.append(x)
        done.extend(b)
    x = torch.cat(xs) if xs else torch.empty((0, *shape), dtype=dtype)
    return SampleShard(done, x)


def gather(part: SampleShard, seeds: Sequence[int], ctx: Context | None = None) -> torch.Tensor:
    """All ranks' samples in the order of ``seeds``, on every rank (len(seeds), *dims), CPU.

    Collective: every rank must call it. Memory: the whole set on each rank; for 50k images prefer
    ``write_shard`` files and ``load_shards``.
    """
    ctx = ctx or current()
    order = {s: i for i, s in enumerate(seeds)}
    missing = [s for s in part.seeds if s not in order]
    if missing:
        raise ValueError(f"shard holds seeds not in the seed list, e.g. {missing[0]}")
    if len(part.seeds) != len(part.x):
        raise ValueError(f"shard has {len(part.seeds)} seeds but {len(part.x)} samples")
    pos = torch.tensor([order[s] for s in part.seeds], dtype=torch.long)
    x = part.x
    if ctx.world_size > 1:
        _group_needed(ctx)
        pos, x = _all_gather_padded(pos, x, ctx)
    full = torch.empty((len(seeds), *x.shape[1:]), dtype=x.dtype)
    hits = torch.zeros(len(seeds), dtype=torch.long)
    full[pos] = x
    hits.index_add_(0, pos, torch.ones_like(pos))
    if not (hits == 1).all():
        bad = int((hits != 1).nonzero()[0])
        raise ValueError(f"the shards cover seed {list(seeds)[bad]} {int(hits[bad])} times, not once")
    return full


def _all_gather_padded(pos: torch.Tensor, x: torch.Tensor,
                       ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    """all_gather of rows of unequal count: pad to the largest shard, then drop the padding."""
    n = torch.tensor([len(pos)], device=ctx.device)
    counts = [torch.zeros_like(n) for _ in range(ctx.world_size)]
    dist.all_gather(counts, n)
    counts_cpu = [int(c) for c in counts]
    m = max(counts_cpu)
    xp = torch.zeros((m, *x.shape[1:]), dtype=x.dtype, device=ctx.device)
    xp[: len(x)] = x.to(ctx.device)
    pp = torch.full((m,), -1, dtype=torch.long, device=ctx.device)
    pp[: len(pos)] = pos.to(ctx.device)
    xs, ps = [torch.empty_like(xp) for _ in counts], [torch.empty_like(pp) for _ in counts]
    dist.all_gather(xs, xp)
    dist.all_gather(ps, pp)
    return (torch.cat([p[:c] for p, c in zip(ps, counts_cpu, strict=True)]).cpu(),
            torch.cat([v[:c] for v, c in zip(xs, counts_cpu, strict=True)]).cpu())


# --- files -----------------------------------------------------------------------------------------


def _png_path(out: Path, seed: int) -> Path:
    """EDM's layout: seed 1234 -> out/001000/001234.png."""
    return out / f"{seed - seed % 1000:06d}" / f"{seed:06d}.png"


def write_shard(out: str | Path, seeds: Sequence[int], x: torch.Tensor, fmt: str = "png") -> list[Path]:
    """Write samples (n, C, H, W) in [-1, 1] named by seed: one 8-bit PNG each (C = 1 or 3,
    ``fid.to_uint8``), or one ``samples-FIRST-LAST.npz`` holding ``seeds`` and ``x`` as they are."""
    from trajreg import fid

    _validate.choice("fmt", fmt, FORMATS)
    seeds = [int(s) for s in seeds]
    if len(seeds) != len(x):
        raise ValueError(f"write_shard: {len(seeds)} seeds but {len(x)} samples")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "npz":
        path = out / f"samples-{seeds[0]:06d}-{seeds[-1]:06d}.npz"
        with files.atomic(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, seeds=np.array(seeds, dtype=np.int64), x=x.detach().cpu().numpy())
        return [path]
    from PIL import Image

    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"PNG output needs images (n, 1 or 3, H, W), got shape {tuple(x.shape)}")
    pixels = fid.to_uint8(x.detach().cpu()).permute(0, 2, 3, 1).numpy()
    paths = []
    for s, img in zip(seeds, pixels, strict=True):
        path = _png_path(out, s)
        with files.atomic(path) as tmp:
            Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(tmp, format="PNG")
        paths.append(path)
    return paths


def load_shards(out: str | Path) -> tuple[list[int], torch.Tensor]:
    """All ``.npz`` shards under ``out``: (seeds ascending, samples (n, *dims) in that order)."""
    files = sorted(Path(out).glob("samples-*-*.npz"))
    if not files:
        raise FileNotFoundError(f"no samples-*.npz shards under {out}")
    seeds, xs = [], []
    for f in files:
        with np.load(f) as z:
            seeds.append(torch.from_numpy(z["seeds"]))
            xs.append(torch.from_numpy(z["x"]))
    s, x = torch.cat(seeds), torch.cat(xs)
    if len(s.unique()) != len(s):
        raise ValueError(f"the shards under {out} hold some seeds twice (two runs in one folder?)")
    order = s.argsort()
    return s[order].tolist(), x[order]


# --- GITS ----------------------------------------------------------------------------------------


def sharded_warmup(denoiser: Denoiser, seeds: Sequence[int], shape: Sequence[int],
                   grid: torch.Tensor | int | None = None, teacher: str = "ipndm", *,
                   ctx: Context | None = None, batch_size: int = 256,
                   dtype: torch.dtype = torch.float64, progress: bool = False,
                   **teacher_kw: Any) -> WarmupShard:
    """This rank's part of the GITS warm-up (Algorithm 1): ``gits.warmup`` on the noises of its
    seeds, batched as one process would batch the whole list."""
    ctx = ctx or current()
    mine = [s for b in shard(seeds, batch_size, ctx) for s in b]
    noise = data.noise(mine, shape, dtype, ctx.device)
    warm = gits.warmup(denoiser, noise, grid, teacher, batch_size=batch_size,
                       progress=progress and ctx.rank == 0, **teacher_kw)
    return WarmupShard(mine, warm)


def cost_matrix(part: WarmupShard, metric: str = gits.METRIC, ctx: Context | None = None) -> torch.Tensor:
    """The GITS cost c[i, j] (``gits.cost_matrix``, paper Sec. 4.3) over ALL ranks' warm-up samples.

    c_ij is a mean over samples, so each rank contributes B_r * (its mean) and its count B_r; both
    are all-reduced (summed) and divided. Collective: every rank must call it. Returns the (N, N)
    float64 matrix on the CPU, +inf where i >= j, on every rank.
    """
    ctx = ctx or current()
    _validate.choice("metric", metric, gits.METRICS)
    N, B = len(part.warm.sigmas), part.warm.n_samples
    upper = torch.ones(N, N, dtype=torch.bool).triu(1)
    sums = torch.zeros(N * N + 1, dtype=torch.float64)
    if B:
        sums[:-1] = torch.where(upper, gits.cost_matrix(part.warm, metric) * B, 0.0).flatten()
        sums[-1] = B
    if ctx.world_size > 1:
        _group_needed(ctx)
        sums = sums.to(ctx.device)
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        sums = sums.cpu()
    total = float(sums[-1])
    if total == 0:
        raise ValueError("cost_matrix: no warm-up samples on any rank")
    return torch.where(upper, sums[:-1].reshape(N, N) / total, math.inf)


def sharded_schedule(denoiser: Denoiser, seeds: Sequence[int], shape: Sequence[int], n_steps: int,
                     *, grid: torch.Tensor | int | None = None, teacher: str = "ipndm",
                     metric: str = gits.METRIC, gamma: float = gits.GAMMA, ctx: Context | None = None,
                     **warmup_kw: Any) -> torch.Tensor:
    """``gits.schedule`` with the warm-up shared among the ranks: the K+1 sigmas, on every rank."""
    part = sharded_warmup(denoiser, seeds, shape, grid, teacher, ctx=ctx, **warmup_kw)
    return part.warm.sigmas[gits.search(cost_matrix(part, metric, ctx), n_steps, gamma)]


def load_schedule(path: str | Path, n_steps: int, model: str | None = None) -> torch.Tensor:
    """The K = ``n_steps`` sigmas from a JSON file written by the ``gits`` command."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"schedule file {path} does not exist")
    meta = json.loads(path.read_text())
    if "schedules" not in meta:
        raise ValueError(f"{path} is not a schedule file of `trajreg.distributed gits`")
    if model is not None and meta.get("model") != model:
        raise ValueError(f"{path} was computed for model {meta.get('model')!r}, not {model!r}")
    if str(n_steps) not in meta["schedules"]:
        raise ValueError(f"{path} has schedules for K in {sorted(map(int, meta['schedules']))}, "
                         f"not K = {n_steps}; rerun gits with a larger --max-steps")
    return torch.tensor(meta["schedules"][str(n_steps)], dtype=torch.float64)


# --- command line --------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    """Options shared by both commands."""
    from trajreg import models

    p.add_argument("--model", required=True, choices=sorted(models.MODELS))
    p.add_argument("--device", default="cpu", help="'cpu' (gloo) or 'cuda' (NCCL, GPU LOCAL_RANK)")
    p.add_argument("--dtype", default="float64", choices=sorted(DTYPES),
                   help="dtype of noises and solver states (the network runs in its own)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on rank 0")


def _gits_options(p: argparse.ArgumentParser) -> None:
    """Warm-up options (the official code's defaults)."""
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP, help="warm-up samples")
    p.add_argument("--warmup-seed", type=int, default=0,
                   help="warm-up seeds are runs.WARMUP_SEED + this + (0..warmup-1)")
    p.add_argument("--warmup-batch", type=int, default=256)
    p.add_argument("--grid", type=int, default=gits.N_GRID, help="points of the fine grid")
    p.add_argument("--teacher", default="ipndm", choices=gits.TEACHERS)
    p.add_argument("--metric", default=gits.METRIC, choices=gits.METRICS)
    p.add_argument("--gamma", type=float, default=gits.GAMMA)


def _parser() -> argparse.ArgumentParser:
    """``sample`` and ``gits`` sub-commands."""
    p = argparse.ArgumentParser(prog="python -m trajreg.distributed", description="Sharded "
                                "sampling and GITS warm-up; start with torchrun for several GPUs.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="final samples of a seed range, written by seed")
    _common(s)
    s.add_argument("--solver", required=True, choices=sorted(solvers.SOLVERS))
    s.add_argument("--nfe", type=int, required=True, help="denoiser evaluations per sample")
    s.add_argument("--schedule", required=True, help="'gits' (warm-up in this job), 'recommended', "
                   f"one of {sorted(schedules.SCHEDULES)}, or a JSON file written by the gits command")
    s.add_argument("--seeds", required=True, help="e.g. 0-49999 or 0,5,10-19 (inclusive)")
    s.add_argument("--batch", type=int, default=500, help="samples per batch (per GPU)")
    s.add_argument("--format", default="png", choices=FORMATS)
    s.add_argument("--out", required=True, help="output folder")
    _gits_options(s)
    g = sub.add_parser("gits", help="GITS schedules for K = 1..max-steps from a sharded warm-up")
    _common(g)
    _gits_options(g)
    g.add_argument("--max-steps", type=int, default=10)
    g.add_argument("--out", required=True, help="JSON file for the schedules and cost matrix")
    return p


def _run_gits(a: argparse.Namespace, ctx: Context, denoiser: Denoiser, info: Any,
              progress: bool) -> tuple[WarmupShard, torch.Tensor, float]:
    """Sharded warm-up and reduced cost matrix for the CLI; (shard, cost, seconds)."""
    start = time.perf_counter()
    seeds = range(WARMUP_SEED + a.warmup_seed, WARMUP_SEED + a.warmup_seed + a.warmup)
    grid = gits.default_grid(a.grid, info.sigma_min, info.sigma_max)
    part = sharded_warmup(denoiser, seeds, info.data_shape, grid, a.teacher, ctx=ctx,
                  batch_size=a.warmup_batch, dtype=DTYPES[a.dtype], progress=progress)
    cost = cost_matrix(part, a.metric, ctx)
    return part, cost, time.perf_counter() - start


def _sigmas(a: argparse.Namespace, K: int, ctx: Context, denoiser: Denoiser, info: Any,
            progress: bool) -> torch.Tensor:
    """The K-step schedule named by --schedule."""
    if a.schedule == "gits":
        part, cost, _ = _run_gits(a, ctx, denoiser, info, progress)
        return part.warm.sigmas[gits.search(cost, K, a.gamma)]
    if a.schedule == "recommended":
        return evaluate.baseline(a.solver, K, info.sigma_min, info.sigma_max)
    if a.schedule in schedules.SCHEDULES:
        return schedules.get(a.schedule, K + 1, sigma_min=info.sigma_min, sigma_max=info.sigma_max)
    return load_schedule(a.schedule, K, a.model)


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    """Argument errors found before any work starts (argparse exits with status 2)."""
    try:
        if a.command == "sample":
            a.seed_list = parse_seeds(a.seeds)
            _validate.at_least("--batch", a.batch, 1)
            _validate.at_least("--nfe", a.nfe, 1)
            a.n_steps = evaluate.n_steps(a.solver, a.nfe)
            if a.n_steps is None:
                raise ValueError(f"--nfe {a.nfe} is not reachable with {a.solver} "
                                 f"({solvers.nfe(a.solver, 2)} evaluations per step)")
            if a.schedule == "gits" and a.n_steps > a.grid - 1:
                raise ValueError(f"--nfe {a.nfe} needs {a.n_steps} steps, more than a --grid of "
                                 f"{a.grid} points allows")
            known = ("gits", "recommended", *schedules.SCHEDULES)
            if a.schedule not in known and not Path(a.schedule).is_file():
                raise ValueError(f"--schedule {a.schedule!r} is neither one of {sorted(known)} "
                                 "nor an existing JSON file")
        else:
            _validate.at_least("--max-steps", a.max_steps, 1)
            if a.max_steps > a.grid - 1:
                raise ValueError(f"--max-steps {a.max_steps} needs a grid of more than "
                                 f"{a.max_steps} points, got --grid {a.grid}")
        _validate.at_least("--warmup", a.warmup, 1)
        _validate.at_least("--warmup-batch", a.warmup_batch, 1)
        _validate.at_least("--grid", a.grid, 2)
        _validate.positive("--gamma", a.gamma)
        if a.warmup_seed < 0:
            raise ValueError(f"--warmup-seed must be >= 0, got {a.warmup_seed}")
        _device(a.device)
    except ValueError as e:
        p.error(str(e))


def _max_over_ranks(value: float, ctx: Context) -> float:
    """The largest ``value`` among the ranks (the slowest rank's time)."""
    if ctx.world_size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def _cmd_sample(a: argparse.Namespace, ctx: Context, denoiser: Denoiser, info: Any,
                progress: bool) -> None:
    """The ``sample`` command: schedule, sharded sampling into --out, meta.json from rank 0."""
    sigmas = _sigmas(a, a.n_steps, ctx, denoiser, info, progress)
    start = time.perf_counter()
    part = sample(denoiser, a.seed_list, info.data_shape, sigmas, a.solver, ctx=ctx,
                  batch_size=a.batch, dtype=DTYPES[a.dtype], out=a.out, fmt=a.format, keep=False,
                  progress=progress)
    seconds = _max_over_ranks(time.perf_counter() - start, ctx)
    if ctx.rank == 0:
        files.write_json(Path(a.out) / "meta.json", {
            "model": a.model, "model_key": model_key(a.model), "solver": a.solver,
            "nfe": solvers.nfe(a.solver, sigmas), "schedule": a.schedule, "sigmas": gits.as_list(sigmas),
            "seeds": a.seeds, "n": len(a.seed_list), "batch": a.batch, "dtype": a.dtype,
            "format": a.format, "world_size": ctx.world_size, "device": _device_name(ctx),
            "seconds": seconds, "images_per_s": len(a.seed_list) / seconds,
            "rank0_samples": len(part.seeds)})
        print(f"{len(a.seed_list)} samples in {seconds:.1f} s on {ctx.world_size} process(es) "
              f"-> {a.out}", file=sys.stderr)


def _cmd_gits(a: argparse.Namespace, ctx: Context, denoiser: Denoiser, info: Any,
              progress: bool) -> None:
    """The ``gits`` command: schedules for K = 1..max-steps and the cost matrix, as JSON."""
    part, cost, seconds = _run_gits(a, ctx, denoiser, info, progress)
    seconds = _max_over_ranks(seconds, ctx)
    paths = gits.search_all(cost, a.max_steps, a.gamma)
    if ctx.rank == 0:
        files.write_json(Path(a.out), {
            "model": a.model, "model_key": model_key(a.model), "warmup": a.warmup,
            "warmup_seeds": f"{WARMUP_SEED + a.warmup_seed}-"
                            f"{WARMUP_SEED + a.warmup_seed + a.warmup - 1}",
            "grid": a.grid, "teacher": a.teacher, "metric": a.metric, "gamma": a.gamma,
            "sigma_min": info.sigma_min, "sigma_max": info.sigma_max, "dtype": a.dtype,
            "world_size": ctx.world_size, "device": _device_name(ctx), "seconds": seconds,
            "schedules": {str(K): gits.as_list(part.warm.sigmas[idx]) for K, idx in paths.items()},
            "cost": [[v if math.isfinite(v) else None for v in row] for row in cost.tolist()]})
        print(f"GITS schedules K = 1..{a.max_steps} from {a.warmup} warm-up samples in "
              f"{seconds:.1f} s -> {a.out}", file=sys.stderr)


def _device_name(ctx: Context) -> str:
    """The GPU's name, or 'cpu'."""
    return torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else "cpu"


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``[torchrun ...] python -m trajreg.distributed {sample,gits} [options]``."""
    from trajreg import models

    p = _parser()
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    _check_args(p, a)
    ctx = setup(a.device)
    try:
        info = models.info(a.model)
        denoiser = models.load(a.model, device=ctx.device)
        progress = not a.no_progress and ctx.rank == 0
        (_cmd_sample if a.command == "sample" else _cmd_gits)(a, ctx, denoiser, info, progress)
    finally:
        teardown()


if __name__ == "__main__":
    main()
