"""A compact UNet for 28x28 images and the EDM preconditioning that turns it into a denoiser."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Attention", "EDMDenoiser", "FourierEmbedding", "ResBlock", "UNet", "UNetConfig"]


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`UNet`; stored beside the weights so a checkpoint rebuilds itself."""

    img_channels: int = 1
    img_resolution: int = 28
    channels: tuple[int, ...] = (32, 64, 64)  # per resolution: 28, 14, 7
    blocks_per_level: int = 1
    attn_levels: tuple[int, ...] = (2,)  # self-attention at 7x7
    emb_dim: int = 128
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch // 4), ch)


class FourierEmbedding(nn.Module):
    """Sinusoidal embedding of the scalar noise level c_noise (as in DDPM/EDM positional embeddings)."""

    def __init__(self, dim: int, max_period: float = 10_000.0):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        # c_noise = ln(sigma)/4 lies in about [-1.6, 1.1]: scale so the slowest frequencies move.
        a = (250.0 * c)[:, None] * self.freqs[None]
        return torch.cat([a.cos(), a.sin()], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv residual block with an additive noise embedding."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm0, self.conv0 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.affine = nn.Linear(emb_dim, cout)
        self.norm1, self.conv1 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = dropout
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv1.weight)
        nn.init.zeros_(self.conv1.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.affine(emb)[:, :, None, None]
        h = F.dropout(F.silu(self.norm1(h)), p=self.dropout, training=self.training)
        return self.skip(x) + self.conv1(h)


class Attention(nn.Module):
    """Single-head self-attention over spatial positions, residual."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm, self.qkv, self.proj = _norm(ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return x + self.proj(h.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    """UNet F_theta(c_in x, c_noise) for small images (EDM's 'F' network, our compact version)."""

    def __init__(self, cfg: UNetConfig | None = None):
        super().__init__()
        cfg = cfg or UNetConfig()
        self.cfg = cfg
        ch, E = cfg.channels, cfg.emb_dim
        self.embed = nn.Sequential(FourierEmbedding(E), nn.Linear(E, E), nn.SiLU(), nn.Linear(E, E))
        self.stem = nn.Conv2d(cfg.img_channels, ch[0], 3, padding=1)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        skips, c = [ch[0]], ch[0]
        for lvl, cout in enumerate(ch):
            for _ in range(cfg.blocks_per_level):
                self.down.append(self._block(c, cout, lvl))
                c = cout
                skips.append(c)
            if lvl < len(ch) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([self._block(c, c, len(ch) - 1, attn=True), self._block(c, c, -1)])
        for lvl, cout in reversed(list(enumerate(ch))):
            for _ in range(cfg.blocks_per_level + 1):
                self.up.append(self._block(c + skips.pop(), cout, lvl))
                c = cout
            if lvl > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.head = nn.Sequential(_norm(c), nn.SiLU(), nn.Conv2d(c, cfg.img_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def _block(self, cin: int, cout: int, lvl: int, attn: bool | None = None) -> nn.ModuleList:
        use_attn = lvl in self.cfg.attn_levels if attn is None else attn
        parts = [ResBlock(cin, cout, self.cfg.emb_dim, self.cfg.dropout)]
        return nn.ModuleList(parts + [Attention(cout)] if use_attn else parts)

    @staticmethod
    def _run(block: nn.Module, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if not isinstance(block, nn.ModuleList):  # down/up-sampling layer
            return block(h)
        h = block[0](h, emb)
        return block[1](h) if len(block) > 1 else h

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        emb = self.embed(c_noise)
        h = self.stem(x)
        hs = [h]
        for block in self.down:
            h = self._run(block, h, emb)
            hs.append(h)
        for block in self.mid:
            h = self._run(block, h, emb)
        for block in self.up:
            if isinstance(block, nn.ModuleList):
                h = torch.cat([h, hs.pop()], dim=1)
            h = self._run(block, h, emb)
        return self.head(h)


class EDMDenoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise): EDM preconditioning (Karras et al. 2022, Tab. 1)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        self.net, self.sigma_data = net, sigma_data

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        sd = self.sigma_data
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
        sigma = sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma
        s = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (sd**2 + s**2).sqrt()
        c_noise = sigma.log() / 4
        F_x = self.net((c_in * x).to(torch.float32), c_noise.to(torch.float32))
        return (c_skip * x + c_out * F_x.to(x.dtype)).to(x.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype
