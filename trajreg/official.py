"""Official paper-scale checkpoints and FID reference statistics: download, verify, load.

The paper (ICML 2024, section 5; ``reference/paper.md`` section 5) samples from EDM's released
networks (CIFAR-10, FFHQ-64, AFHQv2-64, ImageNet-64 class-conditional) and the EDM-trained LSUN
Bedroom-256 network of the Consistency Models release, and scores FID against EDM's reference
statistics. ``trajreg.models`` registers them under these names; this module downloads them with
a progress bar into ``official_dir()``, checks their sha256 and wraps each network as a denoiser
D(x, sigma).

Checksums, honestly: neither NVIDIA nor OpenAI publishes sha256 sums for these files, and none was
found elsewhere, so none is built in (``Remote.sha256`` is None). A pickle runs code when it is
loaded, so a file is never unpickled before its sha256 has been checked against, in this order:

1. the ``sha256=`` argument of :func:`load_network` / :func:`fetch`;
2. the environment variable ``TRAJREG_SHA256_<NAME>`` (name upper-cased, ``-`` -> ``_``, e.g.
   ``TRAJREG_SHA256_EDM_CIFAR10_UNCOND_VP``);
3. a published value in the registry (none known today);
4. the pin recorded in ``official_dir()/pins.json`` the first time the file was seen
   (trust on first use). The first download is therefore NOT verified against anything published:
   its sha256 is printed and pinned, and every later load must match the pin. Compare the printed
   value with a colleague's copy, or pass the value you trust through 1. or 2.

A file whose sha256 differs from the expected value is refused with ``trajreg.files.ChecksumError``
(a ``ValueError``) before it is opened as a pickle. Folders: ``$TRAJREG_OFFICIAL_DIR`` if set,
else ``trajreg.data.cache_dir()`` (``$TRAJREG_CACHE`` or ``~/.cache/trajreg``) ``/official``.

EDM pickles need NVIDIA's ``torch_utils`` and ``dnnlib`` packages (from github.com/NVlabs/edm) to
unpickle; the LSUN network needs OpenAI's ``cm`` package (github.com/openai/consistency_models).
Their code is not copied here: when missing, loading says what to clone and put on PYTHONPATH.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from trajreg import _validate, files
from trajreg.data import cache_dir
from trajreg.denoisers import as_sigma
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN  # the official code forces EDM nets to this range

__all__ = ["CHECKPOINTS", "CMPrecond", "CM_BEDROOM256", "CM_HINT", "Checkpoint", "Conditioned", "EDM_HINT",
           "EDM_URL", "FID_REFS", "OfficialDenoiser", "Remote", "expected_sha256", "fetch", "fid_ref_path",
           "load_network", "official_dir", "pins_path", "read_pins", "require", "seed_labels",
           "unpickle_ema"]

EDM_URL = "https://nvlabs-fi-cdn.nvidia.com/edm/"
EDM_HINT = ("EDM checkpoints are pickles that need NVIDIA's `torch_utils` and `dnnlib` packages: "
            "`git clone https://github.com/NVlabs/edm` and put that folder on PYTHONPATH "
            "(e.g. `export PYTHONPATH=/path/to/edm:$PYTHONPATH`), then load again")
CM_HINT = ("the LSUN Bedroom network is a state dict for OpenAI's `cm` UNet: "
           "`git clone https://github.com/openai/consistency_models` and put that folder on "
           "PYTHONPATH (its attention layers also need the packages listed in its setup.py, "
           "e.g. flash-attn), then load again")


@dataclass(frozen=True)
class Remote:
    """A file published at ``url``; ``sha256`` is a published checksum, None where none is known."""

    name: str
    url: str
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def env(self) -> str:
        """Environment variable through which a user passes the expected sha256."""
        return "TRAJREG_SHA256_" + self.name.upper().replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class Checkpoint:
    """An official network: its file, what it is, the shape of one sample, how to load it."""

    file: Remote
    description: str
    data_shape: tuple[int, ...]
    label_dim: int = 0                    # number of classes of a class-conditional network
    kind: str = "edm"                     # "edm": pickle with 'ema'; "cm": consistency-models .pt
    requires: tuple[str, ...] = ("torch_utils", "dnnlib")
    config: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.file.name


# Architecture of the LSUN Bedroom-256 EDM network, as the Consistency Models release samples it
# (openai/consistency_models scripts/launch.sh, "LSUN-256 (bedroom)", with cm/script_util.py
# defaults for the flags it does not pass).
CM_BEDROOM256 = dict(image_size=256, num_channels=256, num_res_blocks=2, channel_mult="",
                     learn_sigma=False, class_cond=False, attention_resolutions="32,16,8",
                     num_heads=4, num_head_channels=64, num_heads_upsample=-1,
                     use_scale_shift_norm=False, dropout=0.1, resblock_updown=True,
                     use_new_attention_order=False)

CHECKPOINTS: dict[str, Checkpoint] = {c.name: c for c in (
    Checkpoint(Remote("edm-cifar10-uncond-vp", EDM_URL + "pretrained/edm-cifar10-32x32-uncond-vp.pkl"),
               "EDM, CIFAR-10 32x32, unconditional, VP (DDPM++) architecture (official)", (3, 32, 32)),
    Checkpoint(Remote("edm-ffhq-uncond-vp", EDM_URL + "pretrained/edm-ffhq-64x64-uncond-vp.pkl"),
               "EDM, FFHQ 64x64, unconditional, VP architecture (official)", (3, 64, 64)),
    Checkpoint(Remote("edm-afhqv2-uncond-vp", EDM_URL + "pretrained/edm-afhqv2-64x64-uncond-vp.pkl"),
               "EDM, AFHQv2 64x64, unconditional, VP architecture (official)", (3, 64, 64)),
    Checkpoint(Remote("edm-imagenet64-cond-adm", EDM_URL + "pretrained/edm-imagenet-64x64-cond-adm.pkl"),
               "EDM, ImageNet 64x64, class-conditional (1000 classes), ADM architecture (official)",
               (3, 64, 64), label_dim=1000),
    Checkpoint(Remote("cm-lsun-bedroom-edm",
                      "https://openaipublic.blob.core.windows.net/consistency/edm_bedroom256_ema.pt"),
               "EDM-trained LSUN Bedroom 256x256 teacher of the Consistency Models release",
               (3, 256, 256), kind="cm", requires=("cm",), config=CM_BEDROOM256),
)}

# EDM's Inception reference statistics (npz with mu, sigma), as its fid.py writes them.
FID_REFS: dict[str, Remote] = {r.name: r for r in (
    Remote("edm-cifar10-32x32", EDM_URL + "fid-refs/cifar10-32x32.npz"),
    Remote("edm-ffhq-64x64", EDM_URL + "fid-refs/ffhq-64x64.npz"),
    Remote("edm-afhqv2-64x64", EDM_URL + "fid-refs/afhqv2-64x64.npz"),
    Remote("edm-imagenet-64x64", EDM_URL + "fid-refs/imagenet-64x64.npz"),
)}


# ----------------------------------------------------------------------------------------------
# Files: where they live, which sha256 they must have, download, trust-on-first-use pins.


def official_dir() -> Path:
    """Folder of downloaded official files: $TRAJREG_OFFICIAL_DIR, else cache_dir()/official."""
    env = os.environ.get("TRAJREG_OFFICIAL_DIR")
    return Path(env) if env else cache_dir() / "official"


def pins_path() -> Path:
    """JSON file of sha256 values pinned on first use, by file name."""
    return official_dir() / "pins.json"


def read_pins() -> dict[str, dict]:
    """The pins recorded so far ({} when there are none)."""
    path = pins_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def _pin(remote: Remote, digest: str) -> None:
    """Record ``digest`` as the trusted sha256 of ``remote`` (written atomically)."""
    pins = read_pins()
    pins[remote.filename] = {"sha256": digest, "url": remote.url,
                             "pinned": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                             "verified_against": "nothing published (trust on first use)"}
    files.write_json(pins_path(), pins, sort_keys=True)


def expected_sha256(remote: Remote, sha256_arg: str | None = None) -> tuple[str | None, str]:
    """(expected sha256 or None, where it came from): argument, environment, published, pin."""
    for value, source in ((sha256_arg, "the sha256 argument"),
                          (os.environ.get(remote.env), f"${remote.env}"),
                          (remote.sha256, "the published checksum"),
                          (read_pins().get(remote.filename, {}).get("sha256"), str(pins_path()))):
        if value:
            value = value.strip().lower()
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ValueError(f"expected sha256 from {source} must be 64 hex digits, got {value!r}")
            return value, source
    return None, ""


def fetch(remote: Remote, *, sha256_arg: str | None = None, path: str | Path | None = None,
          download: bool = True) -> Path:
    """Path of ``remote``'s file (``path``, else official_dir()/filename, downloaded if absent),
    returned only once its sha256 matches the expected value (see the module docstring); a file
    seen for the first time with no expected value is pinned and its sha256 printed.
    """
    dest = Path(path) if path is not None else official_dir() / remote.filename
    expected, source = expected_sha256(remote, sha256_arg)
    if dest.is_file():
        got = _check(remote, dest, expected, source)
    elif path is not None or not download:
        raise FileNotFoundError(f"{dest} does not exist; download {remote.url} there "
                                f"(or call without path= to download into {official_dir()})")
    else:
        with files.atomic(dest) as part:                 # a refused download is deleted unopened
            got = _check(remote, files.stream(remote.url, part), expected, source)
    if expected is None:
        _pin(remote, got)
        print(f"{remote.name}: sha256 {got} of {dest} pinned in {pins_path()}. It was NOT verified "
              f"against a published value (none is known); later loads must match this pin. "
              f"Pass sha256=... or set ${remote.env} to check against a value you trust.")
    return dest


def _check(remote: Remote, path: Path, expected: str | None, source: str) -> str:
    """sha256 of ``path``; ChecksumError unless it equals ``expected`` (when there is one)."""
    if expected is not None:
        files.verify(path, expected, source=source, hint=(
            f"Refusing to load {remote.name} (a pickle runs code when loaded). If the file changed "
            f"on purpose, delete it and its entry in {pins_path()} to download and pin it again, "
            f"or pass the sha256 you trust."))
        return expected
    return files.sha256(path)


# ----------------------------------------------------------------------------------------------
# Networks.


def require(modules: Sequence[str], hint: str) -> None:
    """Raise ModuleNotFoundError with ``hint`` unless every top-level module in ``modules`` imports."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ModuleNotFoundError(f"cannot load: module(s) {', '.join(missing)} not importable; {hint}",
                                  name=missing[0])


def _hint(ckpt: Checkpoint) -> str:
    return CM_HINT if ckpt.kind == "cm" else EDM_HINT


def unpickle_ema(path: Path, ckpt: Checkpoint) -> nn.Module:
    """``pickle.load(path)['ema']``; call only on a file :func:`fetch` has verified."""
    require(ckpt.requires, _hint(ckpt))
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)  # noqa: S301 (sha256 checked by fetch before this call)
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f"unpickling {path} needs module {e.name!r}; {_hint(ckpt)}",
                                  name=e.name) from e
    if not isinstance(data, dict) or "ema" not in data:
        raise ValueError(f"{path} is not an EDM network pickle: expected a dict with key 'ema'")
    return data["ema"]


class CMPrecond(nn.Module):
    """EDM preconditioning of a consistency-models UNet F(x, t): sigma_data 0.5, c_noise =
    1000 * ln(sigma) / 4, as Consistency Models' KarrasDenoiser.denoise (Karras et al. 2022, Tab. 1).
    """

    def __init__(self, model: nn.Module, img_resolution: int, sigma_data: float = 0.5):
        super().__init__()
        self.model, self.sigma_data = model, sigma_data
        self.img_resolution, self.img_channels, self.label_dim = img_resolution, 3, 0

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, class_labels=None) -> torch.Tensor:
        sd, s = self.sigma_data, sigma.reshape(-1, 1, 1, 1).to(torch.float32)
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = 1000 * 0.25 * torch.log(sigma.reshape(-1).to(torch.float32) + 1e-44)
        return c_skip * x + c_out * self.model(c_in * x, c_noise).to(torch.float32)


def _load_cm(path: Path, ckpt: Checkpoint, use_fp16: bool) -> nn.Module:
    """Consistency Models' UNet from its state dict (``torch.load(weights_only=True)``)."""
    require(ckpt.requires, _hint(ckpt))
    from cm.script_util import create_model

    model = create_model(**ckpt.config, use_fp16=use_fp16)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if use_fp16:
        model.convert_to_fp16()
    return CMPrecond(model, ckpt.data_shape[-1])


def seed_labels(seeds: Sequence[int], label_dim: int, shape: Sequence[int]) -> torch.Tensor:
    """Class label of each seed, uniform in [0, label_dim): the draw that follows the seed's noise
    (trajreg.data.noise) on its own generator, as EDM's generate.py draws labels after latents."""
    _validate.at_least("label_dim", label_dim, 1)
    out = []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        torch.randn(tuple(shape), generator=g, dtype=torch.float64)
        out.append(int(torch.randint(label_dim, (1,), generator=g)))
    return torch.tensor(out, dtype=torch.int64)


class OfficialDenoiser(nn.Module):
    """D(x, sigma, class_labels=None) of an official network ``net(x, sigma, class_labels)``.

    Runs the network in float32 under ``torch.inference_mode`` and returns x's dtype. A
    class-conditional network (``label_dim`` > 0) takes labels as ints (B,) or one-hot (B, label_dim);
    called without labels, row i of a batch gets the label of seed i (:func:`seed_labels`), so a
    batch holds random classes as in the paper, and exactly the paper's per-seed labels when the
    batch's seeds are 0..B-1; ``class_label`` fixes one class for every row instead. Per-sample
    labels for any seeds: ``D.for_seeds(seeds)``.
    """

    def __init__(self, net: nn.Module, data_shape: Sequence[int], class_label: int | None = None):
        super().__init__()
        self.net, self.data_shape = net, tuple(data_shape)
        self.label_dim = int(getattr(net, "label_dim", 0) or 0)
        self.sigma_min, self.sigma_max = SIGMA_MIN, SIGMA_MAX
        if class_label is not None:
            _validate.choice("class_label", class_label, range(max(self.label_dim, 0)))
        self.class_label = class_label

    def one_hot(self, class_labels: Any, B: int, device: torch.device) -> torch.Tensor | None:
        """(B, label_dim) float32 one-hot labels (None for an unconditional network)."""
        if not self.label_dim:
            if class_labels is not None:
                raise ValueError("class_labels given to an unconditional network (label_dim 0)")
            return None
        if class_labels is None and self.class_label is not None:
            class_labels = torch.full((B,), self.class_label, dtype=torch.int64)
        elif class_labels is None:
            class_labels = self._row_labels(B)
        y = torch.as_tensor(class_labels, device=device)
        if y.dtype.is_floating_point and y.shape == (B, self.label_dim):
            return y.to(torch.float32)
        if y.dtype.is_floating_point or y.shape != (B,):
            raise ValueError(f"class_labels must be ints of shape ({B},) or one-hot ({B}, "
                             f"{self.label_dim}), got {y.dtype} {tuple(y.shape)}")
        if ((y < 0) | (y >= self.label_dim)).any():
            raise ValueError(f"class_labels must lie in [0, {self.label_dim}), got {y.tolist()}")
        return F.one_hot(y.to(torch.int64), self.label_dim).to(torch.float32)

    def _row_labels(self, B: int) -> torch.Tensor:
        """Labels of seeds 0..B-1, drawn once per batch size."""
        cache = self.__dict__.setdefault("_row_label_cache", {})
        if B not in cache:
            cache[B] = seed_labels(range(B), self.label_dim, self.data_shape)
        return cache[B]

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor,
                class_labels: Any = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, self.data_shape))}), "
                             f"got {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)}")
        s = as_sigma(sigma, x.shape[0], x).to(torch.float32)
        y = self.one_hot(class_labels, x.shape[0], x.device)
        with torch.inference_mode():
            return self.net(x.to(torch.float32), s, y).to(x.dtype)

    def for_seeds(self, seeds: Sequence[int]) -> Conditioned:
        """This denoiser with the per-seed random labels of :func:`seed_labels`."""
        return Conditioned(self, seed_labels(seeds, max(self.label_dim, 1), self.data_shape)
                           if self.label_dim else None)


class Conditioned:
    """D(x, sigma) for a batch whose row i has class ``labels[i]`` (a whole batch per call)."""

    def __init__(self, D: OfficialDenoiser, labels: torch.Tensor | None):
        self.D, self.labels = D, labels

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        if self.labels is not None and x.shape[0] != len(self.labels):
            raise ValueError(f"x has {x.shape[0]} rows but {len(self.labels)} labels were drawn; "
                             f"call for_seeds with the seeds of this batch")
        return self.D(x, sigma, self.labels)


def load_network(name: str, device: str | torch.device = "cpu", *, sha256: str | None = None,
                 path: str | Path | None = None, class_label: int | None = None,
                 use_fp16: bool = False) -> OfficialDenoiser:
    """Official network ``name`` (see CHECKPOINTS) as a denoiser, its file checksum-verified first."""
    ckpt = CHECKPOINTS[_validate.choice("name", name, CHECKPOINTS)]
    require(ckpt.requires, _hint(ckpt))    # say what is missing before a long download
    file = fetch(ckpt.file, sha256_arg=sha256, path=path)
    net = _load_cm(file, ckpt, use_fp16) if ckpt.kind == "cm" else unpickle_ema(file, ckpt)
    D = OfficialDenoiser(net.eval().requires_grad_(False), ckpt.data_shape, class_label)
    if D.label_dim != ckpt.label_dim:
        raise ValueError(f"{name}: the network has label_dim {D.label_dim}, the registry expects "
                         f"{ckpt.label_dim}")
    return D.to(device)


# ----------------------------------------------------------------------------------------------
# FID reference statistics (read by ``trajreg.fid.load_stats``, which checks the sidecar).


def fid_ref_path(name: str, *, sha256: str | None = None, path: str | Path | None = None) -> Path:
    """EDM's reference statistics ``name`` (see FID_REFS), verified, with the ``.sha256`` sidecar
    that ``trajreg.fid.load_stats`` checks."""
    ref = FID_REFS[_validate.choice("name", name, FID_REFS)]
    file = fetch(ref, sha256_arg=sha256, path=path)
    files.write_text(file.with_name(file.name + ".sha256"),
                     f"{expected_sha256(ref, sha256)[0]}  {file.name}\n")
    return file
