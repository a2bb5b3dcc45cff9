"""trajreg.diagnose on a Gaussian, where the flow is known: x(s) - mu = (Sigma + s^2)^1/2
(Sigma + t^2)^-1/2 (x(t) - mu), a contraction (J_D = Sigma (Sigma + s^2 I)^-1 < I)."""

import pytest
import torch

from trajreg import diagnose, gits, schedules, solvers
from trajreg.denoisers import GaussianDenoiser

DIM = 6


@pytest.fixture(scope="module")
def gauss():
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(DIM, DIM, generator=g, dtype=torch.float64))
    lam = torch.tensor([0.01, 0.05, 0.2, 0.5, 1.0, 2.0], dtype=torch.float64)
    mu = torch.randn(DIM, generator=g, dtype=torch.float64) * 0.3
    return GaussianDenoiser(mu, Q @ torch.diag(lam) @ Q.T), mu, Q, lam


def exact_flow(gauss, x, t, s):
    """The PF-ODE solution at s from x at t (closed form)."""
    _, mu, Q, lam = gauss
    scale = ((lam + s**2) / (lam + t**2)).sqrt()
    return mu + ((x - mu) @ Q * scale) @ Q.T


def noise(n, seed=1):
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_expansion_factor_matches_closed_form(gauss):
    D, _, _, lam = gauss
    x = exact_flow(gauss, 80 * noise(3), 80.0, 5.0)
    est = diagnose.expansion_factor(D, x, 5.0, 0.1, n_iter=30, n_steps=60)
    exact = float(((lam.max() + 0.1**2) / (lam.max() + 5.0**2)).sqrt())
    assert est.shape == (3,)
    assert torch.allclose(est, torch.full((3,), exact, dtype=torch.float64), rtol=2e-2)
    assert (est <= 1).all()


def test_propagated_error_never_exceeds_landing_error(gauss):
    D = gauss[0]
    warm = gits.warmup(D, noise(8), 31)
    jumps = [(0, 8), (8, 15), (15, 22), (22, 30), (3, 29)]
    rows = diagnose.propagation(D, warm, jumps)
    assert [(r["i"], r["j"]) for r in rows] == jumps
    for r in rows:
        assert r["landing"].shape == (8,) and (r["landing"] > 0).all()
        assert (r["final"] <= r["landing"] * 1.01 + 1e-12).all()


def test_propagation_matches_evaluate(gauss):
    from trajreg import evaluate

    D = gauss[0]
    warm = gits.warmup(D, noise(4), 21)
    ours = diagnose.propagation(D, warm, [(2, 9)])[0]
    theirs = evaluate.propagated_error(D, warm, [(2, 9)], n=4, device="cpu")[0]
    assert float(ours["landing"].mean()) == pytest.approx(theirs["local"], rel=1e-9)
    assert float(ours["final"].mean()) == pytest.approx(theirs["propagated"], rel=1e-9)


def test_oracle_first_jump_with_exact_state_follows_the_teacher(gauss):
    D = gauss[0]
    z = noise(5)
    fine = schedules.polynomial(61, sigma_min=0.01, sigma_max=5.0)
    sigmas = torch.cat([torch.tensor([80.0], dtype=torch.float64), fine])
    exact_end = exact_flow(gauss, 80 * z, 80.0, 0.01)
    x_at = exact_flow(gauss, 80 * z, 80.0, 5.0)
    assert torch.allclose(diagnose.teacher_state(D, z, 5.0, 60), x_at, atol=1e-4)
    oracle = diagnose.oracle_first_jump(D, z, sigmas, "ipndm", x_at)
    assert torch.allclose(oracle, solvers.ipndm(D, x_at, fine))
    assert (oracle - exact_end).norm(dim=1).max() < 2e-3
    own = solvers.ipndm(D, 80 * z, sigmas)
    assert (own - exact_end).norm(dim=1).min() > 5e-3          # the first jump's error stays
    control = diagnose.oracle_first_jump(D, z, sigmas, "euler")
    euler_jump = 80 * z + (5.0 - 80.0) * (80 * z - D(80 * z, 80.0)) / 80.0
    assert torch.allclose(control, solvers.euler(D, euler_jump, fine))


def test_forced_first_jump_merges_the_first_steps():
    poly = schedules.polynomial(11)
    forced = diagnose.forced_first_jump(poly, 6.0)
    assert forced[0] == 80 and (forced[1:] <= 6.0).all()
    assert forced[1] == poly[poly <= 6.0][0]
    assert len(forced) == len(poly) - int((poly[1:] > 6.0).sum())
    with pytest.raises(ValueError, match="sigma_stop"):
        diagnose.forced_first_jump(poly, 0.001)


def test_first_stop_sweep_keeps_nfe():
    s = torch.tensor([80.0, 5.1, 2.0, 0.8, 0.3, 0.002], dtype=torch.float64)
    sweep = diagnose.first_stop_sweep(s, [7.5, 10, 30, 5.1, 100])
    assert list(sweep) == [7.5, 10.0, 30.0]                    # 5.1 already there, 100 outside
    for stop, new in sweep.items():
        assert len(new) == len(s) and solvers.nfe("ipndm", new) == solvers.nfe("ipndm", s)
        assert new[1] == stop and new.tolist()[2:-1] == [5.1, 2.0, 0.8]


def test_per_sample_costs_average_to_the_cost_matrix(gauss):
    warm = gits.warmup(gauss[0], noise(6), 21)
    for metric in ("l2", "dev"):
        per = diagnose.per_sample_costs(warm, metric)
        C = gits.cost_matrix(warm, metric)
        upper = torch.isfinite(C)
        assert torch.equal(upper, torch.isfinite(per[..., 0]))
        assert torch.allclose(per.mean(-1)[upper], C[upper], rtol=1e-9, atol=1e-12)


def test_choice_frequency_counts_and_seed(gauss):
    warm = gits.warmup(gauss[0], noise(16), 21)
    a = diagnose.choice_frequency(warm, "l2", 1.15, K=4, n_boot=12, seed=3)
    assert sum(a.values()) == 12
    assert all(len(p) == 5 and p[0] == 0 and p[-1] == 20 for p in a)
    assert a == diagnose.choice_frequency(warm, "l2", 1.15, K=4, n_boot=12, seed=3)
    assert list(a.values()) == sorted(a.values(), reverse=True)


def test_hybrid_denoiser_switches_at_sigma():
    def hi(x, s):
        return torch.ones_like(x)

    def lo(x, s):
        return torch.zeros_like(x)

    D = diagnose.hybrid_denoiser(hi, lo, 20.0)
    x = torch.zeros(3, 2)
    assert D(x, 80.0).eq(1).all() and D(x, 20.0).eq(0).all()
    mixed = D(x, torch.tensor([30.0, 10.0, 25.0]))
    assert mixed[:, 0].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="sigma_switch"):
        diagnose.hybrid_denoiser(hi, lo, 0.0)
