import pytest
import torch

from trajreg.denoisers import Counted, GaussianDenoiser, GaussianMixtureDenoiser, KDEDenoiser


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def kde_direct(y, x, sigma):
    """Unchunked softmax(-|x - y_i|^2 / 2 sigma^2)-weighted mean of the data, float64."""
    yf, xf = y.reshape(len(y), -1).double(), x.reshape(len(x), -1).double()
    s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1)
    w = (-torch.cdist(xf, yf) ** 2 / (2 * s ** 2)).softmax(1)
    return (w @ yf).reshape(x.shape)


def random_cov(D, g):
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    return A @ A.T / D + 0.1 * torch.eye(D, dtype=torch.float64)


def gaussian_formula(mu, cov, x, sigma):
    """mu + Sigma (Sigma + sigma^2 I)^-1 (x - mu), dense."""
    s2 = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1, 1) ** 2
    M = cov @ torch.linalg.inv(cov + s2 * torch.eye(len(mu), dtype=torch.float64))
    return mu + (M @ (x - mu)[..., None])[..., 0]


# ---- KDE -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_size", [1, 3, 7, 20, 64])
@pytest.mark.parametrize("sigma", [0.05, 0.5, 3.0])
def test_kde_chunked_equals_direct(chunk_size, sigma):
    g = gen()
    y = torch.randn(20, 2, 3, generator=g, dtype=torch.float64)
    x = y[:5] + sigma * torch.randn(5, 2, 3, generator=g, dtype=torch.float64)
    D = KDEDenoiser(y, chunk_size=chunk_size)
    torch.testing.assert_close(D(x, sigma), kde_direct(y, x, sigma), rtol=1e-10, atol=1e-10)


def test_kde_large_sigma_gives_mean_and_small_sigma_nearest():
    g = gen(1)
    y = torch.randn(50, 4, generator=g, dtype=torch.float64)
    x = torch.randn(8, 4, generator=g, dtype=torch.float64)
    D = KDEDenoiser(y, chunk_size=16)
    # weights differ by O(|x| |y| / sigma^2) = O(1 / sigma) for x at the sigma scale
    torch.testing.assert_close(D(1e6 * x, 1e6), y.mean(0).expand(8, 4), rtol=0, atol=1e-5)
    # the limit sigma -> 0 is the nearest data point
    nearest = y[torch.cdist(x, y).argmin(1)]
    torch.testing.assert_close(D.nearest(x), nearest)
    torch.testing.assert_close(D(x, 1e-3), nearest, rtol=0, atol=1e-8)


def test_kde_per_sample_sigma_equals_loop():
    g = gen(2)
    y = torch.randn(30, 6, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.1, 0.7, 2.0, 40.0], dtype=torch.float64)
    D = KDEDenoiser(y, chunk_size=7)
    looped = torch.cat([D(x[i:i + 1], float(s)) for i, s in enumerate(sigma)])
    torch.testing.assert_close(D(x, sigma), looped, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(D(x, torch.tensor(0.7)), D(x, 0.7))


def test_kde_float32_high_dim_close_to_float64():
    # Fashion-MNIST-like scale: d = 784, data in [-1, 1], x at sigma = 80 and sigma = 0.5
    g = gen(3)
    y = torch.rand(300, 784, generator=g, dtype=torch.float64) * 2 - 1
    D64, D32 = KDEDenoiser(y, chunk_size=128), KDEDenoiser(y.float(), chunk_size=128)
    for sigma in (80.0, 0.5):
        x = y[:16] + sigma * torch.randn(16, 784, generator=g, dtype=torch.float64)
        out = D32(x.float(), sigma)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), D64(x, sigma), rtol=0, atol=1e-4)


def test_kde_dtype_argument_and_single_point():
    y = torch.tensor([[1.0, -2.0]])
    D = KDEDenoiser(y, dtype=torch.float64)
    assert D.y.dtype == torch.float64
    x = torch.tensor([[5.0, 5.0], [0.0, 0.0]])
    torch.testing.assert_close(D(x, 3.0), y.expand(2, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kde_cuda_matches_cpu():
    g = gen(4)
    y = torch.randn(100, 10, generator=g, dtype=torch.float64)
    x = torch.randn(6, 10, generator=g, dtype=torch.float64)
    out = KDEDenoiser(y, device="cuda", chunk_size=33)(x.cuda(), 0.8)
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), kde_direct(y, x, 0.8))


# ---- Gaussian ------------------------------------------------------------------------------------

def test_gaussian_equals_dense_formula():
    g = gen(5)
    D = 7
    mu, cov = torch.randn(D, generator=g, dtype=torch.float64), random_cov(D, g)
    x = torch.randn(5, D, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.01, 0.3, 1.0, 5.0, 80.0], dtype=torch.float64)
    G = GaussianDenoiser(mu, cov)
    torch.testing.assert_close(G(x, sigma), gaussian_formula(mu, cov, x, sigma))
    torch.testing.assert_close(G(x, 0.3), gaussian_formula(mu, cov, x, 0.3).expand(5, D))


def test_gaussian_low_rank_and_isotropic():
    g = gen(6)
    D, k, floor = 6, 2, 0.05
    mu = torch.randn(D, generator=g, dtype=torch.float64)
    U, _ = torch.linalg.qr(torch.randn(D, k, generator=g, dtype=torch.float64))
    lam = torch.tensor([3.0, 0.5], dtype=torch.float64)
    cov = U @ torch.diag(lam) @ U.T + floor * (torch.eye(D, dtype=torch.float64) - U @ U.T)
    x = torch.randn(4, D, generator=g, dtype=torch.float64)
    torch.testing.assert_close(GaussianDenoiser.from_eig(mu, lam, U, floor)(x, 0.4),
                               gaussian_formula(mu, cov, x, 0.4).expand(4, D))
    # floor 0: the denoiser projects onto the affine subspace mu + span(U) as sigma -> 0
    out = GaussianDenoiser.from_eig(mu, lam, U)(x, 1e-6)
    torch.testing.assert_close(out, mu + (x - mu) @ U @ U.T, rtol=0, atol=1e-9)
    # isotropic: (sigma^2 mu + var x) / (var + sigma^2), JSTAT 4.3 with var = 1
    iso = GaussianDenoiser.isotropic(mu, 1.0)(x, 2.0)
    torch.testing.assert_close(iso, mu * 4 / 5 + x / 5)


def test_gaussian_log_prob_matches_torch():
    g = gen(7)
    D = 5
    mu, cov = torch.randn(D, generator=g, dtype=torch.float64), random_cov(D, g)
    x = torch.randn(3, D, generator=g, dtype=torch.float64)
    ref = torch.distributions.MultivariateNormal(mu, cov + 0.49 * torch.eye(D, dtype=torch.float64))
    torch.testing.assert_close(GaussianDenoiser(mu, cov).log_prob(x, 0.7), ref.log_prob(x))


def test_gaussian_image_shaped_and_float32_io():
    g = gen(8)
    mu = torch.randn(1, 2, 2, generator=g, dtype=torch.float64)
    G = GaussianDenoiser(mu, random_cov(4, g))
    x = torch.randn(3, 1, 2, 2, generator=g)
    out = G(x, 1.0)
    assert out.shape == x.shape and out.dtype == torch.float32


def test_gaussian_rejects_bad_cov():
    mu = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="cov"):
        GaussianDenoiser(mu, torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="positive semi-definite"):
        GaussianDenoiser(mu, -torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianDenoiser(mu, torch.triu(torch.ones(3, 3, dtype=torch.float64)))


# ---- mixture -------------------------------------------------------------------------------------

def test_mixture_with_one_component_equals_gaussian():
    g = gen(9)
    mu, cov = torch.randn(4, generator=g, dtype=torch.float64), random_cov(4, g)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    M = GaussianMixtureDenoiser([1.0], [GaussianDenoiser(mu, cov)])
    torch.testing.assert_close(M(x, 0.9), GaussianDenoiser(mu, cov)(x, 0.9))


def test_mixture_equals_dense_formula():
    g = gen(10)
    K, D = 3, 4
    pi = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    means = 2 * torch.randn(K, D, generator=g, dtype=torch.float64)
    covs = torch.stack([random_cov(D, g) for _ in range(K)])
    x = 2 * torch.randn(5, D, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.2, 0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    eye = torch.eye(D, dtype=torch.float64)
    logp = torch.stack([torch.distributions.MultivariateNormal(
        means[k], covs[k] + sigma[:, None, None] ** 2 * eye).log_prob(x) for k in range(K)], 1)
    w = (logp + pi.log()).softmax(1)
    ref = sum(w[:, k, None] * gaussian_formula(means[k], covs[k], x, sigma) for k in range(K))
    M = GaussianMixtureDenoiser.from_covs(2 * pi, means, covs)     # weights are normalised
    torch.testing.assert_close(M(x, sigma), ref)


def test_mixture_separated_components_tiny_sigma():
    means = torch.tensor([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    comps = [GaussianDenoiser.isotropic(m, 1e-8) for m in means]      # nearly point masses
    M = GaussianMixtureDenoiser([1.0, 1.0, 1.0], comps)
    x = torch.tensor([[9.0, 1.0], [-8.0, -1.0], [0.5, 7.0]], dtype=torch.float64)
    torch.testing.assert_close(M(x, 1e-2), means, rtol=0, atol=1e-3)
    torch.testing.assert_close(M.responsibilities(x, 1e-2), torch.eye(3, dtype=torch.float64))


def test_mixture_rejects_bad_weights():
    c = GaussianDenoiser.isotropic(torch.zeros(2))
    with pytest.raises(ValueError, match="weights"):
        GaussianMixtureDenoiser([0.5, 0.5], [c])
    with pytest.raises(ValueError, match="weights"):
        GaussianMixtureDenoiser([-1.0], [c])


# ---- validation and counting ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: KDEDenoiser(torch.randn(10, 3)),
    lambda: GaussianDenoiser.isotropic(torch.zeros(3)),
    lambda: GaussianMixtureDenoiser([1.0], [GaussianDenoiser.isotropic(torch.zeros(3))]),
])
def test_inputs_validated(make):
    D = make()
    with pytest.raises(ValueError, match="x must have shape"):
        D(torch.zeros(2, 4), 1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        D(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        D(torch.tensor([[0.0, float("nan"), 1.0]]), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        D(torch.zeros(2, 3), torch.ones(3))
    with pytest.raises(ValueError, match="sigma"):
        D(torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="sigma"):
        D(torch.zeros(2, 3), float("nan"))


def test_kde_rejects_bad_data():
    with pytest.raises(ValueError, match="data"):
        KDEDenoiser(torch.zeros(5))
    with pytest.raises(ValueError, match="data contains"):
        KDEDenoiser(torch.tensor([[0.0], [float("inf")]]))
    with pytest.raises(ValueError, match="chunk_size"):
        KDEDenoiser(torch.zeros(5, 2), chunk_size=0)


def test_counted():
    D = Counted(KDEDenoiser(torch.randn(5, 2)))
    D(torch.zeros(3, 2), 1.0)
    D(torch.zeros(4, 2), 0.5)
    assert (D.calls, D.samples) == (2, 7)


def test_example_mixture_is_seeded_and_checks_its_sizes():
    a, b = GaussianMixtureDenoiser.example(), GaussianMixtureDenoiser.example()
    x = torch.randn(3, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a(x, 1.0), b(x, 1.0))
    assert not torch.equal(a(x, 1.0), GaussianMixtureDenoiser.example(seed=1)(x, 1.0))
    assert len(a.components) == 4 and a.dims == (16,)
    with pytest.raises(ValueError, match="dim and n_comp"):
        GaussianMixtureDenoiser.example(dim=0)
