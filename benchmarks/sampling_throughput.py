"""Sampling throughput and solver overhead: images/s, and sampling time / (NFE x one denoiser call).

    python benchmarks/sampling_throughput.py --model fmnist-edm --n 10000 --batch 1000
    python benchmarks/sampling_throughput.py --model random-cifar --n 2000 --batch 500 --device cuda

``random-cifar`` is a randomly initialised network of the size of EDM's CIFAR-10 DDPM++ model
(our UNet with 128-256-256-256 channels, 4 blocks per level, attention at 16x16: 57.1M
parameters, vs 55.7M), for throughput only. A ratio near 1 means the solver adds nothing to the
network's cost; the solvers' own arithmetic (step weights, history) is the difference.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from trajreg import evaluate, models, results, schedules
from trajreg.networks import EDMDenoiser, UNet, UNetConfig
from trajreg.solvers import get as get_solver
from trajreg.solvers import nfe as count_nfe

RANDOM_CIFAR = UNetConfig(img_channels=3, img_resolution=32, channels=(128, 256, 256, 256),
                          blocks_per_level=4, attn_levels=(1,), emb_dim=512)


def build(name: str, device: str) -> tuple[torch.nn.Module, tuple[int, ...]]:
    """Denoiser and image shape of a registry model or of the random CIFAR-size stand-in."""
    if name == "random-cifar":
        torch.manual_seed(0)
        D = EDMDenoiser(UNet(RANDOM_CIFAR), 0.5).eval().requires_grad_(False).to(device)
        return models.NoGrad(D), (3, 32, 32)
    return models.load(name, device), models.info(name).data_shape


def bench(model: str, n: int, batch: int, solver: str, steps: int, device: str) -> dict:
    """Time one denoiser call on a batch and the whole sampling of n images; return the figures."""
    D, shape = build(model, device)
    sigmas = schedules.polynomial(steps)
    nfe = count_nfe(solver, sigmas)
    x = torch.randn(batch, *shape, device=device)
    t_call = evaluate.time_denoiser(D, x * 80.0, sigma=1.0, repeats=5)
    sample = get_solver(solver)
    evaluate._sync(sample(D, x[:2] * 80.0, sigmas))           # warm-up: kernels, allocator
    start = time.perf_counter()
    for i in range(0, n, batch):
        b = min(batch, n - i)
        out = sample(D, torch.randn(b, *shape, device=device) * 80.0, sigmas)
    evaluate._sync(out)
    wall = time.perf_counter() - start
    batches = -(-n // batch)
    return {"model": model, "device": torch.cuda.get_device_name(device) if "cuda" in device
            else f"cpu, {torch.get_num_threads()} threads", "solver": solver, "nfe": nfe, "n": n,
            "batch": batch, "denoiser_call_s": round(t_call, 5), "sampling_s": round(wall, 3),
            "images_per_s": round(n / wall, 1),
            "overhead": round(wall / (batches * nfe * t_call), 3)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fmnist-edm", help="registry name or 'random-cifar'")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--solver", default="heun")
    p.add_argument("--steps", type=int, default=18, help="schedule points (heun 18 -> 35 NFE)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", help="add the result to this JSON-lines file (``trajreg.results``; a row of "
                   "the same model, n, solver, NFE and batch is replaced)")
    a = p.parse_args(argv)
    for k in ("n", "batch", "steps"):
        if getattr(a, k) < 1:
            p.error(f"--{k} must be >= 1, got {getattr(a, k)}")
    command = results.command("benchmarks/sampling_throughput.py", argv)
    r = bench(a.model, a.n, a.batch, a.solver, a.steps, a.device)
    prov = results.provenance(command, r.pop("model"), n=r.pop("n"), seeds=None, device=a.device)
    if a.model == "random-cifar":   # which weights the timing belongs to (tests/test_results.py)
        prov["model_sha256_unrecorded"] = "a randomly initialised network (no weights file)"
    r = {"provenance": prov, **{k: v for k, v in r.items() if k != "device"}}
    print(f"{prov['model']} on {prov['hardware']}: {r['solver']} {r['nfe']} NFE, {prov['n']} images in "
          f"batches of {r['batch']}: {r['images_per_s']} img/s; one call {1e3 * r['denoiser_call_s']:.2f} "
          f"ms; sampling / (NFE x call) = {r['overhead']}", file=sys.stderr)
    if a.json:
        results.write_row(a.json, r, key=("model", "n", "solver", "nfe", "batch"))


if __name__ == "__main__":
    main()
