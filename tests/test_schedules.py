"""Tests of trajreg.schedules: end points, order, dtype, the reference 7-point grids, checks."""

import math

import pytest
import torch

from trajreg import schedules

# 7-point grids for sigma in [0.002, 80] from the official code (official-code.md section 3).
REFERENCE_GRIDS = {
    ("polynomial", 7.0): [80, 30.18, 9.72, 2.52, 0.470, 0.0515, 0.002],
    ("logsnr", None): [80, 13.68, 2.339, 0.400, 0.0684, 0.0117, 0.002],
    ("time_uniform", 1.0): [80, 20.97, 6.95, 2.82, 1.287, 0.527, 0.002],
    ("time_uniform", 2.0): [80, 8.67, 2.30, 0.926, 0.384, 0.110, 0.002],
}

CASES = [("polynomial", {}), ("polynomial", {"rho": 3.0}), ("logsnr", {}),
         ("time_uniform", {}), ("time_uniform", {"rho": 2.0})]


def _round_sig(v: float, digits: int = 3) -> float:
    return float(f"{v:.{digits - 1}e}")


@pytest.mark.parametrize(("name", "rho"), list(REFERENCE_GRIDS))
def test_reference_grids_to_3_significant_digits(name, rho):
    kw = {} if rho is None else {"rho": rho}
    got = schedules.get(name, 7, **kw).tolist()
    want = REFERENCE_GRIDS[(name, rho)]
    assert [_round_sig(g) for g in got] == [_round_sig(w) for w in want]


@pytest.mark.parametrize(("name", "kw"), CASES)
@pytest.mark.parametrize("n", [2, 3, 18, 257])
@pytest.mark.parametrize(("sigma_min", "sigma_max"), [(0.002, 80.0), (0.01, 5.0)])
def test_endpoints_exact_descending_float64(name, kw, n, sigma_min, sigma_max):
    s = schedules.get(name, n, sigma_min=sigma_min, sigma_max=sigma_max, **kw)
    assert s.dtype == torch.float64 and s.shape == (n,)
    assert s[0].item() == sigma_max and s[-1].item() == sigma_min
    assert (s[1:] < s[:-1]).all()


def test_logsnr_is_uniform_in_log_sigma():
    steps = schedules.logsnr(11).log().diff()
    torch.testing.assert_close(steps, torch.full_like(steps, math.log(0.002 / 80) / 10))


def test_vp_map_round_trip_and_fit():
    beta_d, beta_min = schedules.vp_fit(0.002, 80.0)
    assert beta_d == pytest.approx(17.538, abs=1e-3)
    assert beta_min == pytest.approx(-0.00477, abs=1e-5)
    t = torch.linspace(1e-3, 1, 50, dtype=torch.float64)
    sigma = schedules.vp_sigma(t, beta_d, beta_min)
    assert sigma[0].item() == pytest.approx(0.002, rel=1e-9)
    assert sigma[-1].item() == pytest.approx(80.0, rel=1e-12)
    torch.testing.assert_close(schedules.vp_t(sigma, beta_d, beta_min), t)
    # A fit down to sigma = 0 (used by DEIS on schedules ending at 0) maps 0 to eps_s.
    beta_d, beta_min = schedules.vp_fit(0.0, 80.0)
    zero = torch.zeros(1, dtype=torch.float64)
    assert schedules.vp_t(zero, beta_d, beta_min).item() == pytest.approx(1e-3, rel=1e-12)
    # The other branch of vp_t (beta_min > 0).
    beta_d, beta_min = schedules.vp_fit(0.1, 80.0)
    assert beta_min > 0
    ends = torch.tensor([80.0, 0.1], dtype=torch.float64)
    torch.testing.assert_close(schedules.vp_t(ends, beta_d, beta_min),
                               torch.tensor([1.0, 1e-3], dtype=torch.float64))


def test_recommended_names_exist():
    from trajreg import solvers

    assert set(schedules.RECOMMENDED) == set(solvers.SOLVERS)
    for name, kw in schedules.RECOMMENDED.values():
        assert schedules.get(name, 5, **kw).shape == (5,)
    assert schedules.RECOMMENDED["deis"] == ("time_uniform", {"rho": 2.0})


BAD_INPUTS = [
    ({"n": 1}, "n"), ({"n": 0}, "n"), ({"n": 2.5}, "n"), ({"n": True}, "n"),
    ({"sigma_min": 0.0}, "sigma_min"), ({"sigma_min": -1.0}, "sigma_min"),
    ({"sigma_min": float("nan")}, "sigma_min"), ({"sigma_max": float("inf")}, "sigma_max"),
    ({"sigma_min": 80.0, "sigma_max": 80.0}, "sigma_min"), ({"sigma_min": 90.0}, "sigma_min"),
    ({"rho": 0.0}, "rho"), ({"rho": -7.0}, "rho"),
]


@pytest.mark.parametrize(("name", "kw", "param"), [
    (name, kw, param) for name in schedules.SCHEDULES for kw, param in BAD_INPUTS
    if not (name == "logsnr" and param == "rho")])
def test_bad_inputs_raise_naming_the_parameter(name, kw, param):
    with pytest.raises(ValueError, match=param):
        schedules.get(name, **{"n": 7, **kw})


def test_time_uniform_rejects_non_monotone_vp_fit_and_bad_eps():
    with pytest.raises(ValueError, match="sigma_min"):
        schedules.time_uniform(7, sigma_min=1.0, sigma_max=2.0)
    with pytest.raises(ValueError, match="eps_s"):
        schedules.time_uniform(7, eps_s=0.0)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="logsnr"):
        schedules.get("karras", 7)
