import json

import torch

from trajreg.networks import UNetConfig
from trajreg.train import TrainConfig, _ema_beta, export, train

TINY = UNetConfig(channels=(8, 8, 8), emb_dim=16, dropout=0.0, attn_levels=()).to_dict()


def _cfg(kimg):
    return TrainConfig(kimg=kimg, batch=8, lr=1e-3, lr_rampup_kimg=0.0, checkpoint_every=1, net=TINY)


def test_resume_continues_exactly(tmp_path):
    """Train 4 steps straight vs 2 + resume 2: identical weights (rng and optimiser state restored)."""
    train(tmp_path / "a", _cfg(0.032))
    train(tmp_path / "b", _cfg(0.016))
    train(tmp_path / "b", _cfg(0.032))
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert a["state"]["step"] == b["state"]["step"] == 4
    for k in a["ema"]:
        torch.testing.assert_close(a["ema"][k], b["ema"][k])
    lines = (tmp_path / "b" / "log.jsonl").read_text().splitlines()
    assert [json.loads(s)["step"] for s in lines] == [1, 2, 3, 4]


def test_export_writes_verified_safetensors(tmp_path):
    from trajreg.files import verify

    train(tmp_path / "run", _cfg(0.016))
    path = export(tmp_path / "run", tmp_path / "w", name="tiny")
    meta = json.loads((tmp_path / "w" / "tiny.json").read_text())
    verify(path, meta["sha256"])
    assert meta["images_seen"] == 16 and meta["parameters"] > 0


def test_ema_halflife_ramps_up():
    cfg = TrainConfig(batch=128, ema_halflife_kimg=50, ema_rampup_ratio=0.1)
    assert _ema_beta(cfg, 1280) < _ema_beta(cfg, 128_000) < _ema_beta(cfg, 10_000_000)
    assert abs(_ema_beta(cfg, 10_000_000) ** (50_000 / 128) - 0.5) < 1e-9


def test_loss_curve_bins_and_deduplicates(tmp_path):
    from trajreg.train import loss_curve

    rows = [{"step": i, "nimg": 8 * i, "loss": float(i)} for i in range(1, 11)]
    rows += [{"step": 10, "nimg": 80, "loss": 10.0}]  # repeated after a resume
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in rows))
    assert loss_curve(log, bins=5) == [[16, 1.5], [32, 3.5], [48, 5.5], [64, 7.5], [80, 9.5]]
