"""The rules decide on values their quantities really take: trajectories of closed-form denoisers
that make regular paths and of ones that do not give opposite verdicts (issue 22). A rule that
passes on every denoiser here could not fail on real data."""

from __future__ import annotations

import torch

from trajreg import magnitudes, paper, projection, schedules, stats
from trajreg.denoisers import GaussianDenoiser, KDEDenoiser
from trajreg.trajectory import sample

D_DIM, B = 32, 24


def noise(seed: int = 0) -> torch.Tensor:
    return torch.randn(B, D_DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class Wandering:
    """A denoiser whose output jumps between K orthogonal targets as sigma falls: the sampling
    path chases each in turn and spans K directions (a legitimate, if unnatural, D(x, sigma))."""

    def __init__(self, K: int = 8):
        self.targets = 3.0 * torch.eye(D_DIM, dtype=torch.float64)[:K]
        self.edges = torch.logspace(torch.log10(torch.tensor(60.0)), torch.log10(torch.tensor(0.01)), K - 1)

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        k = int((self.edges > float(sigma)).sum())
        return self.targets[k].expand_as(x).to(x.dtype)


def anisotropic_gaussian() -> GaussianDenoiser:
    """N(mu, diag(4, ..., 4, 0.01, ..., 0.01)): every path lies in a plane, bending once."""
    var = torch.cat([torch.full((D_DIM // 2,), 4.0), torch.full((D_DIM // 2,), 0.01)]).double()
    return GaussianDenoiser(torch.ones(D_DIM, dtype=torch.float64), torch.diag(var))


def outside_2pcs(denoiser) -> stats.Estimate:
    t = sample(denoiser, noise(), schedules.polynomial(101), "euler", store_dtype=torch.float64)
    return stats.mean_ci(projection.explained_variance(t.x, 4)[:, 1].numpy())


def test_fig03_rule_tells_a_planar_path_from_a_wandering_one():
    c = paper.claim("fig03.outside_2pcs")
    regular, wandering = outside_2pcs(anisotropic_gaussian()), outside_2pcs(Wandering())
    assert regular.lo > 0.99 and c.decide(regular) == "stronger than the paper"
    assert wandering.hi < 0.6 and c.decide(wandering) == "does not reproduce"


def test_fig10_rule_tells_a_near_optimal_denoiser_from_a_poor_one():
    c = paper.claim("fig10.ratio_below_one")
    data = torch.randn(64, D_DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    kde = KDEDenoiser(data, dtype=torch.float64)
    cov = torch.cov(data.T) + 1e-3 * torch.eye(D_DIM, dtype=torch.float64)
    poor = GaussianDenoiser(data.mean(0) + 3.0, cov)      # a badly fitted model: its mean is off

    def share_below(learned) -> stats.Estimate:
        t = sample(learned, noise(2), schedules.polynomial(41), "euler", store_dtype=torch.float64)
        ratio = magnitudes.optimal_gap(t, kde)["ratio"]
        return stats.share_ci((ratio < 1).numpy())

    near = KDEDenoiser(data + 1e-3 * torch.randn_like(data), dtype=torch.float64)  # almost the optimum
    assert c.decide(share_below(near)) == "reproduces"
    assert c.decide(share_below(poor)) == "does not reproduce"
