"""Tests of trajreg.solvers against the exact PF-ODE solution for Gaussian data.

For data N(mu, diag(s^2)) the denoiser is D(x, sigma) = mu + s^2 / (s^2 + sigma^2) (x - mu) and the
ODE dx/dsigma = (x - D) / sigma has, per coordinate, the solution
x(sigma) - mu = (x(sigma_max) - mu) sqrt((s^2 + sigma^2) / (s^2 + sigma_max^2)).
Run with -s to print the measured convergence orders.
"""

import math

import pytest
import torch

from trajreg import schedules, solvers

DIM, BATCH, SIGMA_MAX, SIGMA_MIN = 12, 4, 80.0, 0.002
s = torch.logspace(math.log10(0.05), math.log10(2.0), DIM, dtype=torch.float64)
mu = torch.linspace(-1.0, 1.0, DIM, dtype=torch.float64)


def gaussian_denoiser(x: torch.Tensor, sigma) -> torch.Tensor:
    """Exact denoiser of N(mu, diag(s^2)); sigma a float, 0-d tensor or (B,) tensor."""
    sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sig.ndim == 1:
        sig = sig[:, None]
    s2, m = s.to(x.dtype), mu.to(x.dtype)
    return m + s2**2 / (s2**2 + sig**2) * (x - m)


def exact(x_T: torch.Tensor, sigma_end: float, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """Exact PF-ODE solution from x_T at sigma_max to sigma_end."""
    return mu + (x_T - mu) * torch.sqrt((s**2 + sigma_end**2) / (s**2 + sigma_max**2))


def make_x_T(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return mu + torch.sqrt(s**2 + SIGMA_MAX**2) * torch.randn(BATCH, DIM, dtype=torch.float64,
                                                               generator=g)


class Counted:
    """Wrap a denoiser and count its calls."""

    def __init__(self, denoiser):
        self.denoiser, self.calls = denoiser, 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.denoiser(x, sigma)


# Dynamic thresholding (dpmpp_3m and unipc, on pixel models in [-1, 1] as in the authors' code) rescales
# the data prediction of this Gaussian (|D| reaches 2 and more), so the ODE it solves is another;
# the exact-solution tests switch it off (it is tested on its own below).


def solve(name: str, denoiser, x, sigmas, **kw) -> torch.Tensor:
    """Solver ``name`` without dynamic thresholding (unless ``kw`` says otherwise)."""
    return solvers.get(name)(denoiser, x, sigmas, **(solvers.without_thresholding(name) | kw))


def error(name: str, n_steps: int, schedule: str = "logsnr") -> float:
    x_T = make_x_T()
    sigmas = schedules.get(schedule, n_steps + 1, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX)
    x = solve(name, gaussian_denoiser, x_T, sigmas)
    return (x - exact(x_T, SIGMA_MIN)).abs().max().item()


# Measured order of convergence, log2(err(64 steps) / err(128 steps)) on the logSNR schedule, and
# the accepted range. ipndm (fixed Adams-Bashforth weights on a non-uniform grid) and dpmpp_3m (the
# official 3M update weighs the second difference D2 by phi_3 where a Taylor-exact third-order
# step needs 2 phi_3) are second order; unipc (UniP-3 + UniC) and deis (tAB3) reach 3-4 before the
# Euler warm-up step's O(h^2) error would take over at much finer grids. dpm_2m_eps (noise
# prediction, the official Stable Diffusion teacher) measures 1.99.
ORDER_BOUNDS = {
    "euler": (0.9, 1.1), "heun": (1.85, 2.3), "dpm2": (1.85, 2.3), "ipndm": (1.85, 2.5),
    "dpmpp_2m": (1.85, 2.3), "dpm_2m_eps": (1.85, 2.3), "dpmpp_3m": (1.85, 2.5),
    "unipc": (3.3, 4.5), "deis": (3.3, 4.5), "res_m": (1.85, 2.3),
}


def test_convergence_orders():
    assert set(ORDER_BOUNDS) == set(solvers.SOLVERS)
    rows, failures = [], []
    for name, (lo, hi) in ORDER_BOUNDS.items():
        e64, e128 = error(name, 64), error(name, 128)
        order = math.log2(e64 / e128)
        rows.append(f"{name:10s} {e64:10.3e} {e128:10.3e} {order:6.2f}   [{lo}, {hi}]")
        if not lo <= order <= hi:
            failures.append(name)
    print("\nsolver      err(64)    err(128)   order  accepted  (logSNR, sigma 80 -> 0.002)")
    print("\n".join(rows))
    assert not failures, f"orders out of range for {failures}"


# Max-abs error bounds at 128 steps (measured: about half of these or less).
TOL_128 = {"euler": 0.1, "heun": 5e-3, "dpm2": 5e-3, "ipndm": 5e-3, "dpmpp_2m": 5e-3,
           "dpm_2m_eps": 5e-3, "dpmpp_3m": 1.5e-3, "unipc": 1e-4, "deis": 1e-4,
           "res_m": 5e-3}


@pytest.mark.parametrize("name", list(solvers.SOLVERS))
@pytest.mark.parametrize("schedule", ["polynomial", "logsnr"])
def test_converges_to_exact_solution(name, schedule):
    errs = [error(name, n, schedule) for n in (8, 32, 128)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < TOL_128[name]


@pytest.mark.parametrize("name", list(solvers.SOLVERS))
def test_schedule_ending_at_zero(name):
    x_T = make_x_T(1)
    sigmas = torch.cat([schedules.polynomial(129), torch.zeros(1, dtype=torch.float64)])
    counted = Counted(gaussian_denoiser)
    x = solve(name, counted, x_T, sigmas)
    assert torch.isfinite(x).all()
    assert (x - exact(x_T, 0.0)).abs().max() < 2 * TOL_128[name]  # 128 steps + one to 0
    assert counted.calls == solvers.nfe(name, sigmas)


@pytest.mark.parametrize("name", list(solvers.SOLVERS))
@pytest.mark.parametrize("n", [2, 3, 4, 5, 9])
def test_nfe_matches_denoiser_calls(name, n):
    counted = Counted(gaussian_denoiser)
    sigmas = schedules.polynomial(n)
    solvers.get(name)(counted, make_x_T(), sigmas)
    assert counted.calls == solvers.nfe(name, sigmas) == solvers.nfe(name, n)
    assert counted.calls == (2 * (n - 1) if name in ("heun", "dpm2") else n - 1)


@pytest.mark.parametrize("name", list(solvers.SOLVERS))
def test_callback(name):
    sigmas, x_T, records = schedules.logsnr(7), make_x_T(), []
    x = solvers.get(name)(gaussian_denoiser, x_T, sigmas, callback=records.append)
    assert [r["i"] for r in records] == list(range(len(sigmas) - 1))
    for r in records:
        assert set(r) == {"i", "sigma", "sigma_next", "x", "denoised"}
        assert r["sigma"] == sigmas[r["i"]] and r["sigma_next"] == sigmas[r["i"] + 1]
        assert r["x"].shape == r["denoised"].shape == x.shape
    torch.testing.assert_close(records[0]["x"], x_T)
    # The state and denoised output at sigma_i; unipc reuses D at its predicted point instead.
    checked = records[:1] if name == "unipc" else records
    for r in checked:
        torch.testing.assert_close(r["denoised"], gaussian_denoiser(r["x"], r["sigma"]))
    if name == "euler":  # the returned x is one step on from the last recorded state
        last = records[-1]
        step = (last["sigma_next"] - last["sigma"]) * (last["x"] - last["denoised"]) / last["sigma"]
        torch.testing.assert_close(x, last["x"] + step)


@pytest.mark.parametrize("name", list(solvers.SOLVERS))
def test_per_sample_sigma_interface_dtype_and_no_mutation(name):
    x_T = make_x_T()
    x_copy = x_T.clone()
    B = x_T.shape[0]

    def per_sample(x, sigma):
        assert isinstance(sigma, float) or (torch.is_tensor(sigma) and sigma.ndim == 0)
        sig = torch.as_tensor(sigma, dtype=x.dtype).expand(B)   # the (B,) form of the contract
        return gaussian_denoiser(x, sig)

    sigmas = schedules.polynomial(9)
    solver = solvers.get(name)
    torch.testing.assert_close(solver(per_sample, x_T, sigmas),
                               solver(gaussian_denoiser, x_T, sigmas), rtol=0, atol=1e-12)
    assert torch.equal(x_T, x_copy)
    x32 = solver(gaussian_denoiser, x_T.float(), sigmas)
    assert x32.dtype == torch.float32
    torch.testing.assert_close(x32.double(), solver(gaussian_denoiser, x_T, sigmas),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ipndm_adams_bashforth_weights_integrate_polynomials(order):
    # Step over [0, 1] from slopes at u = 0, -1, ..., -(order-1): exact for degree < order.
    for degree in range(order):
        quad_rule = sum(c * (-j) ** degree for j, c in enumerate(solvers.AB[order]))
        assert quad_rule == pytest.approx(1 / (degree + 1), abs=1e-14)


def test_order_one_variants_equal_euler():
    x_T, sigmas = make_x_T(), schedules.polynomial(17)
    x_euler = solvers.euler(gaussian_denoiser, x_T, sigmas)
    for name in ("ipndm", "deis"):
        x = solvers.get(name)(gaussian_denoiser, x_T, sigmas, max_order=1)
        torch.testing.assert_close(x, x_euler, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("name", "kw", "lo", "hi"), [
    ("unipc", {"max_order": 1}, 1.8, 2.2), ("unipc", {"max_order": 2}, 2.8, 3.3),
    ("unipc", {"lower_order_final": False}, 3.3, 4.5), ("deis", {"max_order": 2}, 1.8, 2.2),
    ("deis", {"max_order": 3}, 2.6, 3.3), ("ipndm", {"max_order": 2}, 1.8, 2.3),
    ("dpmpp_3m", {"lower_order_final": False}, 1.85, 2.5),
    ("dpm_2m_eps", {"lower_order_final": False}, 1.85, 2.3),
])
def test_keyword_variants_converge_at_their_order(name, kw, lo, hi):
    x_T, errs = make_x_T(), []
    for n in (64, 128):
        x = solve(name, gaussian_denoiser, x_T, schedules.logsnr(n + 1), **kw)
        errs.append((x - exact(x_T, SIGMA_MIN)).abs().max().item())
    assert lo <= math.log2(errs[0] / errs[1]) <= hi, errs


def test_dynamic_threshold_is_the_official_function():
    g = torch.Generator().manual_seed(0)
    D = 1.5 * torch.randn(3, 2, 5, 7, dtype=torch.float64, generator=g)
    D[1] *= 0.2                                             # sample 1 stays within [-1, 1]
    D[1] = D[1].clamp(-1, 1)
    got = solvers.dynamic_threshold(D)
    for b in range(3):                                      # per sample, over all coordinates
        s_b = max(float(torch.quantile(D[b].abs().flatten(), 0.995)), 1.0)
        torch.testing.assert_close(got[b], D[b].clamp(-s_b, s_b) / s_b, rtol=0, atol=0)
    assert torch.equal(got[1], D[1])                        # |D| <= 1: a no-op
    assert got.abs().max() == 1.0 and not torch.equal(got[0], D[0])
    assert solvers.dynamic_threshold(D.float()).dtype == torch.float32


def small_gaussian(x: torch.Tensor, sigma) -> torch.Tensor:
    """Exact denoiser of N(0.3 mu, diag((s / 20)^2)): |D| <= 1 along these trajectories."""
    sig = torch.as_tensor(sigma, dtype=x.dtype)
    m, s2 = 0.3 * mu.to(x.dtype), (s / 20).to(x.dtype) ** 2
    return m + s2 / (s2 + sig**2) * (x - m)


class Declared:
    """A denoiser that declares the range of its data (as ``models.load`` and the adapters do)."""

    def __init__(self, denoiser, data_range):
        self.denoiser, self.data_range = denoiser, data_range

    def __call__(self, x, sigma):
        return self.denoiser(x, sigma)


@pytest.mark.parametrize("name", ["dpmpp_3m", "unipc"])
def test_thresholding_follows_the_data_range(name):
    x_T, sigmas = make_x_T(), schedules.logsnr(11)
    solver = solvers.get(name)
    on = solver(gaussian_denoiser, x_T, sigmas, thresholding=True)
    off = solve(name, gaussian_denoiser, x_T, sigmas)
    assert (on - off).abs().max() > 0.1                     # D overshoots [-1, 1]: it acts
    # undeclared data (this Gaussian), data outside [-1, 1]: off; pixels in [-1, 1]: on
    assert torch.equal(solver(gaussian_denoiser, x_T, sigmas), off)
    assert torch.equal(solver(Declared(gaussian_denoiser, (-4.0, 4.0)), x_T, sigmas), off)
    assert torch.equal(solver(Declared(gaussian_denoiser, (-1.0, 1.0)), x_T, sigmas), on)
    # through wrappers (a counting wrapper around a declaring one)
    assert torch.equal(solver(Counted(Declared(gaussian_denoiser, (-1.0, 1.0))), x_T, sigmas), on)
    # data within [-1, 1] (the case thresholding is made for): a no-op, same convergence
    small = 0.3 * mu + (s / 20) * torch.randn(BATCH, DIM, dtype=torch.float64,
                                              generator=torch.Generator().manual_seed(0))
    x_T = small + SIGMA_MAX * torch.randn(BATCH, DIM, dtype=torch.float64,
                                          generator=torch.Generator().manual_seed(1))
    errs = []
    small_D = Declared(small_gaussian, (-1.0, 1.0))
    for n in (8, 32, 128):
        x = solver(small_D, x_T, schedules.logsnr(n + 1))
        assert torch.equal(x, solve(name, small_gaussian, x_T, schedules.logsnr(n + 1)))
        errs.append(float((x - solve("heun", small_gaussian, x_T, schedules.logsnr(513))).abs().max()))
    assert errs[0] > errs[1] > errs[2]


@pytest.mark.parametrize("name", ["dpmpp_3m", "unipc"])
def test_default_converges_on_gaussian_data_of_std_4(name):
    # with thresholding forced on these solvers stop converging on N(0, 16): the default is off
    std = 4.0

    def D(x, sigma):
        sig = torch.as_tensor(sigma, dtype=x.dtype)
        return std**2 / (std**2 + sig**2) * x

    x_T = math.sqrt(std**2 + SIGMA_MAX**2) * torch.randn(
        BATCH, DIM, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    truth = x_T * math.sqrt((std**2 + SIGMA_MIN**2) / (std**2 + SIGMA_MAX**2))
    solver = solvers.get(name)
    errs = {str(on): [float((solver(D, x_T, schedules.logsnr(n + 1), **on) - truth).abs().max())
                 for n in (8, 32, 128)] for on in ({}, {"thresholding": True})}
    default, forced = errs.values()
    assert default[0] > 10 * default[1] > 100 * default[2] and default[2] < 2e-3
    assert min(forced) > 1.0                                 # no convergence: another ODE's answer


def test_thresholding_defaults_to_the_data_range():
    import inspect

    defaults = {name: inspect.signature(f).parameters.get("thresholding")
                for name, f in solvers.SOLVERS.items()}
    follow = sorted(n for n, p in defaults.items() if p is not None and p.default is None)
    assert follow == ["dpmpp_3m", "unipc"]
    assert defaults["dpmpp_2m"].default is False             # diffusers' DPM-Solver++(2M)
    assert solvers.thresholds(Declared(gaussian_denoiser, (-1.0, 0.5)))
    assert not solvers.thresholds(Declared(gaussian_denoiser, (-1.0, 1.5)))
    assert not solvers.thresholds(gaussian_denoiser)


def test_deis_coefficients_match_integral_in_vp_time():
    from scipy.integrate import quad

    sigmas = schedules.time_uniform(8, rho=2.0)
    C = solvers.deis_coefficients(sigmas, max_order=4)
    beta_d, beta_min = schedules.vp_fit(SIGMA_MIN, SIGMA_MAX)
    t = schedules.vp_t(sigmas, beta_d, beta_min).tolist()

    def dsigma_dtau(tau):  # sigma^2 = exp(B) - 1 gives dsigma/dtau = B' (1 + sigma^2) / (2 sigma)
        sig = math.sqrt(math.expm1(0.5 * beta_d * tau**2 + beta_min * tau))
        return (beta_d * tau + beta_min) * (1 + sig**2) / (2 * sig)

    for i, row in enumerate(C):
        assert len(row) == min(i + 1, 4)
        assert sum(row) == pytest.approx(float(sigmas[i + 1] - sigmas[i]), rel=1e-10)
        prev = [t[i - k] for k in range(len(row))]
        for j, c in enumerate(row):
            def ell(tau, j=j, prev=prev):
                return math.prod((tau - p) / (prev[j] - p) for k, p in enumerate(prev) if k != j)
            want = quad(lambda tau, ell=ell: dsigma_dtau(tau) * ell(tau), t[i], t[i + 1],
                        epsabs=1e-12, epsrel=1e-9)[0]
            assert c == pytest.approx(want, rel=1e-7, abs=1e-9)


def test_with_trajreg_gaussian_denoiser_full_covariance():
    denoisers = pytest.importorskip("trajreg.denoisers")
    g = torch.Generator().manual_seed(3)
    Q, _ = torch.linalg.qr(torch.randn(DIM, DIM, dtype=torch.float64, generator=g))
    cov = Q @ torch.diag(s**2) @ Q.T
    D = denoisers.GaussianDenoiser(mu, (cov + cov.T) / 2)
    x_T = make_x_T()
    # Exact solution in the eigenbasis of cov.
    scale = torch.sqrt((s**2 + SIGMA_MIN**2) / (s**2 + SIGMA_MAX**2))
    want = mu + ((x_T - mu) @ Q * scale) @ Q.T
    for name in ("heun", "dpmpp_2m", "dpm_2m_eps", "unipc", "deis"):
        x = solve(name, D, x_T, schedules.polynomial(129))
        assert (x - want).abs().max() < TOL_128[name], name


def test_bad_inputs_raise():
    x_T, sigmas = make_x_T(), schedules.polynomial(5)
    with pytest.raises(ValueError, match="euler"):
        solvers.get("ddpm")
    with pytest.raises(ValueError, match="solver"):
        solvers.nfe("ddpm", 5)
    for name, solver in solvers.SOLVERS.items():
        with pytest.raises(ValueError, match="descending"):
            solver(gaussian_denoiser, x_T, sigmas.flip(0))
        with pytest.raises(ValueError, match="at least 2"):
            solver(gaussian_denoiser, x_T, sigmas[:1])
        with pytest.raises(ValueError, match=">= 0"):
            solver(gaussian_denoiser, x_T, torch.tensor([1.0, -0.5], dtype=torch.float64))
        bad = x_T.clone()
        bad[1, 2] = float("nan")
        with pytest.raises(ValueError, match="x contains"):
            solver(gaussian_denoiser, bad, sigmas)
        with pytest.raises(TypeError, match="x must be"):
            solver(gaussian_denoiser, x_T.tolist(), sigmas)
        assert solvers.get(name) is solver
    with pytest.raises(ValueError, match="max_order"):
        solvers.ipndm(gaussian_denoiser, x_T, sigmas, max_order=5)
    with pytest.raises(ValueError, match="r must"):
        solvers.dpm2(gaussian_denoiser, x_T, sigmas, r=0.0)
    with pytest.raises(ValueError, match="sigmas"):
        solvers.nfe("heun", 1)


def _res_step_generic(x, D_i, D_prev, t_prev, t_i, t_next):
    """Independent form of one RES(M) step: the 2-stage exponential step x' = e^-h x + h (b1 D_i + b2 D_aux)
    with D_aux = D_prev at c2 = (lambda(t_prev) - lambda_i) / h, b2 = phi_2(-h) / c2, b1 = phi_1(-h) - b2."""
    h = math.log(t_i / t_next)
    phi_1 = (math.exp(-h) - 1) / -h
    phi_2 = (phi_1 - 1) / -h
    c2 = (math.log(t_i) - math.log(t_prev)) / h
    b2 = phi_2 / c2
    return math.exp(-h) * x + h * ((phi_1 - b2) * D_i + b2 * D_prev)


def test_res_m_matches_the_generic_exponential_step_and_differs_from_dpmpp_2m():
    x_T = make_x_T()
    sigmas = schedules.polynomial(6, SIGMA_MIN, SIGMA_MAX)
    seen = []
    solvers.res_m(gaussian_denoiser, x_T, sigmas, callback=seen.append)
    t = sigmas.tolist()
    # rebuild every step from the recorded states and denoiser outputs
    for k in range(1, len(seen)):
        i = seen[k]["i"]
        x_next = seen[k + 1]["x"] if k + 1 < len(seen) else solvers.res_m(
            gaussian_denoiser, x_T, sigmas)
        want = _res_step_generic(seen[k]["x"], seen[k]["denoised"], seen[k - 1]["denoised"],
                                 t[i - 1], t[i], t[i + 1])
        torch.testing.assert_close(x_next, want, rtol=1e-10, atol=1e-10)
    # first step is DDIM
    ddim = (t[1] / t[0]) * seen[0]["x"] + (1 - t[1] / t[0]) * seen[0]["denoised"]
    torch.testing.assert_close(seen[1]["x"], ddim, rtol=1e-12, atol=1e-12)
    plain = solvers.dpmpp_2m(gaussian_denoiser, x_T, sigmas, lower_order_final=False)
    assert (solvers.res_m(gaussian_denoiser, x_T, sigmas) - plain).abs().max() > 1e-4
