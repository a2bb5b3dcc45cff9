"""AMED-Solver and AMED-Plugin (trajreg.amed): predictor range, classical limits, NFE, training."""

import pytest
import torch

from trajreg import amed, schedules, solvers
from trajreg.denoisers import Counted
from trajreg.networks import EDMDenoiser, UNet, UNetConfig

DIM = 8
s_data = torch.logspace(-1.3, 0.3, DIM, dtype=torch.float64)


def gaussian_D(x, sigma):
    """Exact (differentiable) denoiser of N(0, diag(s^2)); sigma scalar or (B,)."""
    sig = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1)
    s2 = s_data.to(x.dtype) ** 2
    return s2 / (s2 + sig**2) * x


def x_T(n=64, seed=0):
    return 80.0 * torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def tiny_unet():
    torch.manual_seed(0)
    cfg = UNetConfig(channels=(8, 8, 8), emb_dim=16) if "emb_dim" in UNetConfig.__dataclass_fields__ \
        else UNetConfig(channels=(8, 8, 8))
    return EDMDenoiser(UNet(cfg)).eval().requires_grad_(False)


def test_predictor_outputs_in_range_and_features_from_the_bottleneck():
    D = tiny_unet()
    x = torch.randn(5, 1, 28, 28)
    with amed.bottleneck(D) as rec:
        D(x, torch.tensor(3.0))
        feat = rec.take(5, x)
    assert feat.shape == (5, 49)            # channel mean of the 7x7 middle block
    P = amed.Predictor(49, scale_dir=0.01, scale_time=0.2)
    for big in (0.0, 1e4, -1e4):
        r, c, a = P(feat + big, 80.0, 10.0)
        assert r.shape == c.shape == a.shape == (5,)
        assert bool(((r >= 0) & (r <= 1)).all())
        assert bool(((c >= 0.99) & (c <= 1.01)).all()) and bool(((a >= 0.8) & (a <= 1.2)).all())
    for kind, sampler in amed.SAMPLERS.items():            # AFS: zero features, one call fewer
        D_c = Counted(D)
        out = sampler(D_c, 80.0 * x.double(), schedules.polynomial(3), amed.Predictor(49), afs=True)
        assert out.shape == x.shape and bool(torch.isfinite(out).all()) and D_c.calls == 3, kind
    assert 8_000 < sum(p.numel() for p in amed.Predictor(64, 0.01, 0.2).parameters()) < 10_000
    with pytest.raises(ValueError, match="scale_time"):
        amed.Predictor(49, scale_time=1.5)


def test_fixed_half_is_dpm_solver_2():
    s = schedules.polynomial(6)
    x = x_T()
    got = amed.amed_solver(gaussian_D, x, s, amed.FixedPredictor(0.5))
    torch.testing.assert_close(got, solvers.dpm2(gaussian_D, x, s, r=0.5), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", [0.3, 0.5, 0.8])
def test_fixed_plugin_is_ipndm_on_the_interleaved_schedule(r):
    s = schedules.polynomial(5)
    mid = s[1:] ** r * s[:-1] ** (1 - r)
    inter = torch.stack([s[:-1], mid], 1).flatten()
    inter = torch.cat([inter, s[-1:]])
    x = x_T()
    got = amed.amed_plugin(gaussian_D, x, s, amed.FixedPredictor(r))
    torch.testing.assert_close(got, solvers.ipndm(gaussian_D, x, inter), rtol=1e-12, atol=1e-12)


def test_scale_factors_enter_as_written():
    s = schedules.polynomial(2)
    x = x_T(4)
    got = amed.amed_solver(gaussian_D, x, s, amed.FixedPredictor(0.4, c=1.01, a=0.9))
    t0, t1 = float(s[0]), float(s[1])
    tm = t1**0.4 * t0**0.6
    d = (x - gaussian_D(x, t0)) / t0
    xm = x + (tm - t0) * d
    want = x + 1.01 * (t1 - t0) * (xm - gaussian_D(xm, 0.9 * tm)) / tm
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("budget", [3, 5, 6, 8, 9, 10])
@pytest.mark.parametrize("kind", amed.KINDS)
def test_nfe_per_budget_as_the_authors_count(kind, budget):
    K, afs = amed.steps_for_nfe(budget)
    assert amed.nfe(K, afs) == budget and afs == (budget % 2 == 1)
    D = Counted(gaussian_D)
    amed.SAMPLERS[kind](D, x_T(3), schedules.polynomial(K + 1), amed.FixedPredictor(0.5), afs=afs)
    assert D.calls == budget


def test_afs_first_step_uses_the_normalised_sample():
    s = schedules.polynomial(2)
    x = x_T(4)
    got = amed.amed_solver(gaussian_D, x, s, amed.FixedPredictor(0.5), afs=True)
    t0, t1 = float(s[0]), float(s[1])
    tm = (t0 * t1) ** 0.5
    xm = x + (tm - t0) * x / (1 + t0**2) ** 0.5
    torch.testing.assert_close(got, x + (t1 - t0) * (xm - gaussian_D(xm, tm)) / tm)


@pytest.mark.parametrize("kind", amed.KINDS)
def test_training_reduces_the_held_out_teacher_loss(kind):
    s = schedules.get(amed.SCHEDULE[kind], 4)
    train_noise = torch.randn(128, DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    held = x_T(64, seed=2)
    targets = amed.teacher_targets(gaussian_D, held, s, kind)
    assert targets.shape == (4, 64, DIM)
    torch.testing.assert_close(targets[0], held)
    P0 = amed.Predictor(0)
    before = amed.teacher_loss(gaussian_D, P0, kind, s, targets)
    P, info = amed.train(gaussian_D, kind, s, train_noise, predictor=P0, epochs=4, batch_size=32,
                         lr=2e-2)
    after = amed.teacher_loss(gaussian_D, P, kind, s, targets)
    assert after < 0.7 * before, (before, after)
    per_step = amed.teacher_losses(gaussian_D, P, kind, s, targets)
    assert len(per_step) == 3 and sum(per_step) == pytest.approx(after)
    assert info["backward_passes"] == 4 * 4 * 3
    teacher, M = amed.TEACHER[kind]
    assert info["teacher_nfe"] == 128 * solvers.nfe(teacher, (M + 1) * 3 + 1)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="kind"):
        amed.teacher_targets(gaussian_D, x_T(2), schedules.polynomial(4), "euler")
    with pytest.raises(ValueError, match="polynomial"):
        amed.teacher_targets(gaussian_D, x_T(2), schedules.logsnr(4), "plugin")
    with pytest.raises(ValueError, match="budget"):
        amed.steps_for_nfe(1)
    with pytest.raises(ValueError, match="r must"):
        amed.FixedPredictor(1.0)
