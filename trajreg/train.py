"""EDM training recipe (Karras et al. 2022, section 5 and Table 1) for the embedded Fashion-MNIST model.

Run ``python -m trajreg.train --out runs/fmnist-edm --kimg 300`` (resumes if ``--out`` holds a
checkpoint); ``python -m trajreg.train export runs/fmnist-edm trajreg/weights`` writes the shipped
EMA weights (safetensors) with their provenance.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from trajreg import _validate, files
from trajreg.data import fashion_mnist
from trajreg.networks import EDMDenoiser, UNet, UNetConfig

__all__ = ["TrainConfig", "edm_loss", "export", "hardware", "loss_curve", "main", "train"]


@dataclass
class TrainConfig:
    """Hyper-parameters of the EDM recipe; defaults are the ones used for the shipped model."""

    kimg: float = 300.0  # training length in thousands of images
    batch: int = 128
    lr: float = 1e-3
    lr_rampup_kimg: float = 10.0
    P_mean: float = -1.2
    P_std: float = 1.2
    sigma_data: float = 0.5
    ema_halflife_kimg: float = 50.0
    ema_rampup_ratio: float = 0.1
    xflip: bool = True
    seed: int = 0
    checkpoint_every: int = 200  # optimiser steps
    net: dict = field(default_factory=lambda: UNetConfig().to_dict())


def edm_loss(D: EDMDenoiser, y: torch.Tensor, g: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """lambda(sigma) ||D(y + n; sigma) - y||^2 with ln sigma ~ N(P_mean, P_std^2) (EDM eq. 8, Table 1)."""
    rnd = torch.randn(y.shape[0], generator=g).to(y.device)
    sigma = (rnd * cfg.P_std + cfg.P_mean).exp()
    weight = (sigma**2 + cfg.sigma_data**2) / (sigma * cfg.sigma_data) ** 2
    n = torch.randn(y.shape, generator=g).to(y.device) * sigma[:, None, None, None]
    return (weight[:, None, None, None] * (D(y + n, sigma) - y) ** 2).mean()


def _ema_beta(cfg: TrainConfig, nimg: int) -> float:
    halflife = min(cfg.ema_halflife_kimg * 1000, nimg * cfg.ema_rampup_ratio)
    return 0.5 ** (cfg.batch / max(halflife, 1e-8))


def train(out: str | Path, cfg: TrainConfig | None = None, device: str = "cpu") -> Path:
    """Train (or resume) an EDM model on Fashion-MNIST; checkpoints and a loss log go to ``out``."""
    cfg = cfg or TrainConfig()
    _validate.positive("kimg", cfg.kimg)
    _validate.at_least("batch", cfg.batch, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    data = fashion_mnist("train").to(device)
    D = EDMDenoiser(UNet(UNetConfig.from_dict(cfg.net)), cfg.sigma_data).to(device)
    ema = copy.deepcopy(D).eval().requires_grad_(False)
    opt = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(cfg.seed)
    state = {"step": 0, "nimg": 0, "wall": 0.0, "threads": torch.get_num_threads(),
             "hardware": hardware(device)}
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        s = torch.load(ckpt, map_location=device, weights_only=False)
        D.load_state_dict(s["net"])
        ema.load_state_dict(s["ema"])
        opt.load_state_dict(s["opt"])
        g.set_state(s["rng"])
        state = s["state"]
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    total = int(cfg.kimg * 1000)
    bar = tqdm(total=total, initial=state["nimg"], unit="img", unit_scale=True, desc="train")
    t0 = time.time() - state["wall"]
    with open(out / "log.jsonl", "a") as log, bar:
        while state["nimg"] < total:
            idx = torch.randint(len(data), (cfg.batch,), generator=g)
            y = data[idx]
            if cfg.xflip:
                flip = torch.rand(cfg.batch, generator=g) < 0.5
                y = torch.where(flip.to(device)[:, None, None, None], y.flip(-1), y)
            D.train()
            loss = edm_loss(D, y, g, cfg)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {state['step']}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = cfg.lr * min(state["nimg"] / max(cfg.lr_rampup_kimg * 1000, 1e-8), 1)
            opt.step()
            state["step"] += 1
            state["nimg"] += cfg.batch
            beta = _ema_beta(cfg, state["nimg"])
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), D.parameters(), strict=True):
                    p_ema.lerp_(p, 1 - beta)
            state["wall"] = time.time() - t0
            log.write(json.dumps({"step": state["step"], "nimg": state["nimg"],
                                  "loss": loss.item(), "wall": round(state["wall"], 2)}) + "\n")
            bar.update(cfg.batch)
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if state["step"] % cfg.checkpoint_every == 0 or state["nimg"] >= total:
                _save(ckpt, D, ema, opt, g, state)
    return ckpt


def hardware(device: str | torch.device) -> str:
    """Short description of where training runs: the GPU's name, or the CPU and torch threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def _save(path: Path, D, ema, opt, g: torch.Generator, state: dict) -> None:
    with files.atomic(path) as tmp:
        torch.save({"net": D.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "rng": g.get_state(), "state": dict(state)}, tmp)


def loss_curve(log: Path, bins: int = 100, max_step: int | None = None) -> list[list[float]]:
    """[[images seen, mean loss], ...] of a run's log, averaged over ``bins`` equal spans of steps."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if max_step is None or r["step"] <= max_step]
    rows = list({r["step"]: r for r in rows}.values())  # a resumed run may repeat steps
    per = max(1, math.ceil(len(rows) / bins))
    chunks = [rows[i:i + per] for i in range(0, len(rows), per)]
    return [[c[-1]["nimg"], round(sum(r["loss"] for r in c) / len(c), 5)] for c in chunks]


def export(run: str | Path, dest: str | Path, name: str = "fmnist-edm", note: str = "") -> Path:
    """Write the EMA weights of ``run`` as ``dest/name.safetensors`` plus provenance ``name.json``."""
    from safetensors.torch import save_file

    run, dest = Path(run), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    s = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    cfg = json.loads((run / "config.json").read_text())
    weights = {k: v.contiguous() for k, v in s["ema"].items()}
    path = dest / f"{name}.safetensors"
    with files.atomic(path) as tmp:
        save_file(weights, str(tmp))
    meta = {
        "name": name, "kind": "edm-unet", "net": cfg["net"], "sigma_data": cfg["sigma_data"],
        "parameters": sum(v.numel() for v in weights.values()),
        "sha256": files.sha256(path), "train_config": cfg,
        "steps": s["state"]["step"], "images_seen": s["state"]["nimg"],
        "wall_time_s": round(s["state"]["wall"], 1),
        "hardware": s["state"].get("hardware") or f"{platform.processor() or platform.machine()}, "
        f"{s['state'].get('threads', torch.get_num_threads())} torch threads",
        "torch": torch.__version__, "command": f"python -m trajreg.train --out {run} "
        f"--kimg {cfg['kimg']} --batch {cfg['batch']} --lr {cfg['lr']} "
        f"--ema-halflife-kimg {cfg['ema_halflife_kimg']} --seed {cfg['seed']}", "note": note,
        "loss_curve": loss_curve(run / "log.jsonl", max_step=s["state"]["step"]),
    }
    files.write_json(dest / f"{name}.json", meta)
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: train (default) or export."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:
        p = argparse.ArgumentParser(prog="python -m trajreg.train export")
        p.add_argument("run")
        p.add_argument("dest")
        p.add_argument("--name", default="fmnist-edm")
        p.add_argument("--note", default="")
        a = p.parse_args(argv[1:])
        print(export(a.run, a.dest, a.name, a.note))
        return
    p = argparse.ArgumentParser(prog="python -m trajreg.train", description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    d = TrainConfig()
    for f in ("kimg", "batch", "lr", "seed", "checkpoint_every", "ema_halflife_kimg"):
        p.add_argument(f"--{f.replace('_', '-')}", type=type(getattr(d, f)), default=getattr(d, f))
    p.add_argument("--no-xflip", action="store_true")
    p.add_argument("--channels", default=",".join(map(str, UNetConfig().channels)))
    p.add_argument("--blocks-per-level", type=int, default=UNetConfig().blocks_per_level)
    a = p.parse_args(argv)
    net = UNetConfig(channels=tuple(int(c) for c in a.channels.split(",")),
                     blocks_per_level=a.blocks_per_level).to_dict()
    cfg = TrainConfig(kimg=a.kimg, batch=a.batch, lr=a.lr, seed=a.seed, xflip=not a.no_xflip,
                      checkpoint_every=a.checkpoint_every, ema_halflife_kimg=a.ema_halflife_kimg,
                      net=net)
    if not math.isfinite(cfg.lr) or cfg.lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {cfg.lr}")
    train(a.out, cfg, a.device)


if __name__ == "__main__":
    main()
