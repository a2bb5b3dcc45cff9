"""Expected GPU time of each notebook at paper scale: network evaluations x measured cost per image-NFE.

Cost of one image-NFE on an NVIDIA H200 (results/gpu/bench.jsonl): the "random-cifar" row (a randomly
initialised 57.1M-parameter network of EDM's CIFAR-10 size, batch 500) and the "fmnist-edm" row (our
model, batch 2000). Other official models are scaled by the paper's Table 4 (GITS time on an A100,
the same 256 x 60-NFE warm-up for each model), relative to CIFAR-10. Counted: network evaluations
only; Inception features, the KDE denoiser, I/O and model loading are not in these numbers.

Usage: python scripts/paper_scale_hours.py > book/paper_scale_hours.md
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
from trajreg import results  # noqa: E402
from trajreg.paper import TABLE4  # noqa: E402  (paper Table 4, seconds on an A100)
from trajreg.tables import fmt  # noqa: E402  (the site's one number formatter)

TABLE4_S = {"edm-cifar10-uncond-vp": TABLE4["cifar10"], "edm-ffhq-uncond-vp": TABLE4["ffhq"],
            "edm-imagenet64-cond-adm": TABLE4["imagenet64"], "cm-lsun-bedroom-edm": TABLE4["lsun_bedroom"]}
KDE = ("kde-cifar10", "kde-fmnist")


def per_image_nfe_ms() -> dict[str, float]:
    """Milliseconds per image per network evaluation on the H200, by model name."""
    rows = results.read(ROOT / "results/gpu/bench.jsonl")
    cifar = next(r for r in rows if r["provenance"]["model"] == "random-cifar")
    fmnist = next(r for r in rows if r["provenance"]["model"] == "fmnist-edm")
    base = 1e3 * cifar["denoiser_call_s"] / cifar["batch"]
    out = {m: base * t / TABLE4_S["edm-cifar10-uncond-vp"] for m, t in TABLE4_S.items()}
    out["fmnist-edm"] = 1e3 * fmnist["denoiser_call_s"] / fmnist["batch"]
    return out


def _models(p: dict) -> list[str]:
    names = [p[k] for k in ("model",) if k in p] + list(p.get("model_names", []))
    return [n for n in dict.fromkeys(names) if n not in KDE]


def image_nfes(name: str, p: dict) -> int:
    """Network evaluations (images x NFE) per model of notebook ``name`` with parameters ``p``."""
    warm = p.get("n_warmup", 0) * (p.get("grid_size", 61) - 1)
    ref = p.get("n_ode", 0) * (2 * p.get("ref_steps", 100) - 1)            # Heun reference solutions
    if name in ("fig01_geometric_picture", "fig11_trajectory_rows"):
        return p["nfe"]
    if name == "model_card":
        return p["n_samples"] * (2 * (p["heun_steps"] - 1) + sum(p["euler_nfes"]))
    if name in ("gits_method", "tab04_time_cost"):
        extra = p.get("overhead_batch", 0) * p.get("overhead_nfe", 0) * len(p.get("overhead_solvers", []))
        return warm + extra
    if name == "tab01_fid_nfe":
        head = p["n_head"] * 3 * sum(p["nfes"])                       # iPNDM: polynomial, GITS dev, GITS L2
        grid = p["n_fid"] * 2 * len(p["solvers"]) * sum(p["nfes"])           # polynomial and GITS
        return warm + ref + head + grid
    if name == "tab03_schedules":
        return warm + ref + (p["n_fid"] + p.get("n_fid_ddim", 0)) * 4 * sum(p["nfes"])
    if name == "tab06_ablations":
        configs = (len(p["warmup_sizes"]) * p["max_subsets"] + len(p["gammas"]) + len(p["grid_sizes"])
                   + len(p["teachers"]) + len(p["metrics"]))
        extra_warm = sum(p["n_warmup_small"] * (g - 1) for g in p["grid_sizes"]) + \
            len(p["teachers"]) * p["n_warmup_small"] * 2 * (p["grid_size"] - 1)
        refs = p["n_ref"] * (2 * p["ref_steps"] - 1)
        return warm + extra_warm + refs + configs * p["n_ref"] * sum(p["nfes"])
    if name == "gits_why":     # the page itself: warm-up, references and class-histogram samples
        return warm + p["n_hist"] * (100 + 2 * p["hist_nfe"])
    if name == "beyond_optimality_gap":   # live run: references, searches (~100 evaluations of the
        refs = (p["n_search"] + p["n_eval"]) * 100                   # search set each) and judging
        return refs + 100 * p["n_search"] * p["K"] + 8 * p["n_eval"] * p["K"]
    if name == "beyond_portability":      # live: the mixture only; the network's numbers come from
        return 0                           # benchmarks/portability.py (see the params file)
    if name == "explore_trajectories":
        return p["n_traj"] * p["nfe"] + p["n_warmup"] * (p.get("grid_size", 61) - 1)
    if "n_traj" in p:
        return p["n_traj"] * p["nfe"]
    raise ValueError(f"no count for {name}")


def rows() -> list[tuple[str, str, int, float]]:
    """(notebook, models, image-NFEs per model, hours on one H200) for every params/paper file."""
    cost = per_image_nfe_ms()
    out = []
    for path in sorted((ROOT / "params/paper").glob("*.yaml")):
        p = yaml.safe_load(path.read_text())
        models = _models(p)
        n = image_nfes(path.stem, p)
        hours = sum(n * cost[m] for m in models) / 3.6e6
        out.append((path.stem, ", ".join(models) or "KDE only", n, hours))
    return out


def main() -> None:
    cost = per_image_nfe_ms()
    print("| model | ms per image-NFE (H200) |\n|---|---|")
    for m, c in cost.items():
        print(f"| `{m}` | {fmt(c)} |")
    print("\n| notebook | networks | image-NFEs per network | GPU hours (1 H200, networks only) |")
    print("|---|---|---|---|")
    for name, models, n, hours in rows():
        print(f"| {name} | {models} | {n:,} | {fmt(hours, 2)} |")


if __name__ == "__main__":
    main()
