import pytest
import torch

from trajreg.networks import EDMDenoiser, UNet, UNetConfig

TINY = UNetConfig(channels=(8, 16, 16), emb_dim=32, dropout=0.0)


def test_unet_shapes_and_config_roundtrip():
    net = UNet(TINY)
    y = net(torch.randn(3, 1, 28, 28), torch.zeros(3))
    assert y.shape == (3, 1, 28, 28)
    assert UNetConfig.from_dict(TINY.to_dict()) == TINY


def test_default_unet_size_in_the_issue_range():
    n = sum(p.numel() for p in UNet().parameters())
    assert 1_000_000 <= n <= 4_000_000


@pytest.mark.parametrize("sigma", [0.002, 1.0, 80.0])
def test_preconditioning_matches_edm_table(sigma):
    """With F = 0 at init, D = c_skip x exactly (EDM Table 1, sigma_data = 0.5)."""
    torch.manual_seed(0)
    D = EDMDenoiser(UNet(TINY)).eval()
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64)
    c_skip = 0.25 / (sigma**2 + 0.25)
    torch.testing.assert_close(D(x, sigma), c_skip * x)


def test_per_sample_sigma_equals_scalar_calls():
    torch.manual_seed(0)
    net = UNet(TINY)
    for p in net.parameters():  # leave the zero-init so the output depends on sigma
        p.data.normal_(0, 0.05)
    D = EDMDenoiser(net).eval()
    x = torch.randn(3, 1, 28, 28)
    s = torch.tensor([0.1, 1.0, 10.0])
    batched = D(x, s)
    for i in range(3):
        torch.testing.assert_close(batched[i:i + 1], D(x[i:i + 1], float(s[i])), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(batched[0], batched[2])
