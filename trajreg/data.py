"""Datasets as float tensors in [-1, 1], and per-sample seeded noise."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from trajreg import _validate, files

__all__ = ["CIFAR10_CLASSES", "CIFAR10_MD5", "CIFAR10_MEMBERS", "CIFAR10_SHA256", "CIFAR10_SHAPE",
           "CIFAR10_URL", "FMNIST_CLASSES", "FMNIST_FILES", "FMNIST_SHAPE", "FMNIST_URL", "SYSTEM_DIRS",
           "cache_dir", "cifar10", "cifar10_file", "fashion_mnist", "fmnist_file", "main", "noise"]

FMNIST_SHAPE = (1, 28, 28)
FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Official files of Zalando's Fashion-MNIST release and the sha256 of their *decompressed* content
# (re-packaged copies, such as Debian's, re-gzip the files, so the .gz bytes may differ).
FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FMNIST_FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)


def cache_dir() -> Path:
    """Folder for downloaded data and caches: $TRAJREG_CACHE or ~/.cache/trajreg."""
    return Path(os.environ.get("TRAJREG_CACHE", Path.home() / ".cache" / "trajreg"))


def fmnist_file(name: str) -> Path:
    """Path of one Fashion-MNIST file: Debian's package, then the cache, else download it."""
    _validate.choice("name", name, FMNIST_FILES)
    for folder in (*SYSTEM_DIRS, cache_dir() / "fashion-mnist"):
        if (folder / name).is_file():
            return folder / name
    dest = cache_dir() / "fashion-mnist" / name
    return files.download(FMNIST_URL + name, dest, FMNIST_FILES[name], gunzip=True)


@lru_cache(maxsize=8)
def _read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file (big-endian header: magic, dims) into a read-only uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split: str = "train", *, labels: bool = False):
    """Fashion-MNIST images as float32 (N, 1, 28, 28) in [-1, 1]; optionally also int64 labels."""
    prefix = {"train": "train", "test": "t10k"}[_validate.choice("split", split, ("train", "test"))]
    images = _read_idx(fmnist_file(f"{prefix}-images-idx3-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    if not labels:
        return x
    y = torch.from_numpy(_read_idx(fmnist_file(f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64))
    return x, y


def noise(seeds: Sequence[int] | torch.Tensor, shape: Sequence[int],
          dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> torch.Tensor:
    """Standard normal (len(seeds), *shape); sample i drawn from its own generator seeded seeds[i]."""
    seeds = [int(s) for s in seeds]
    out = torch.empty((len(seeds), *shape), dtype=torch.float64)
    for i, s in enumerate(seeds):
        g = torch.Generator().manual_seed(s)
        out[i] = torch.randn(tuple(shape), generator=g, dtype=torch.float64)
    return out.to(device=device, dtype=dtype)


# CIFAR-10 (Krizhevsky 2009), python version. The md5 is the one the dataset's page publishes
# (https://www.cs.toronto.edu/~kriz/cifar.html); the sha256 is the file_hash TensorFlow's
# keras.datasets.cifar10.load_data checks for this URL (tensorflow/python/keras/datasets/cifar10.py).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_SHAPE = (3, 32, 32)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEMBERS = {"train": tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)),
                   "test": ("cifar-10-batches-py/test_batch",)}


def cifar10_file() -> Path:
    """cache_dir()/cifar10/cifar-10-python.tar.gz, downloaded if absent; refused unless both its
    sha256 and its md5 match the published values."""
    dest = cache_dir() / "cifar10" / "cifar-10-python.tar.gz"
    if not dest.is_file():
        files.download(CIFAR10_URL, dest, CIFAR10_SHA256)
    for algorithm, expected in (("sha256", CIFAR10_SHA256), ("md5", CIFAR10_MD5)):
        files.verify(dest, expected, algorithm=algorithm, source="the published value",
                     hint="Delete the file to download it again.")
    return dest


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays (CIFAR-10's batches): anything else is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}, not a numpy array")
        return super().find_class(module, name)


@lru_cache(maxsize=4)
def _read_cifar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32, 32) and int64 labels (N,) of a split of the python tarball."""
    images, labels = [], []
    with tarfile.open(path, "r:gz") as tar:
        for member in CIFAR10_MEMBERS[split]:
            f = tar.extractfile(member)
            if f is None:
                raise OSError(f"{path} has no file {member}")
            batch = _ArrayUnpickler(f, encoding="bytes").load()
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, *CIFAR10_SHAPE))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def cifar10(split: str = "train", *, labels: bool = False):
    """CIFAR-10 images as float32 (N, 3, 32, 32) in [-1, 1] (50k train, 10k test); optionally
    also int64 labels. Downloaded once from the official site, checksum-verified."""
    _validate.choice("split", split, CIFAR10_MEMBERS)
    images, y = _read_cifar(cifar10_file(), split)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    return (x, torch.from_numpy(y.copy())) if labels else x


def _have_fmnist(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FMNIST_FILES)


def _apt_prefix() -> list[str] | None:
    """Command prefix that runs apt-get as root ([] or sudo -n), None if that is not possible."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def _apt_install(package: str) -> bool:
    """Install a Debian package when root or password-less sudo is available; True on success."""
    prefix = _apt_prefix()
    if prefix is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return all(subprocess.run([*prefix, *cmd], env=env).returncode == 0
               for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]))


def main() -> None:
    """Make the Fashion-MNIST files available, cheapest source first: already there (Debian's
    folder or the cache), Debian's package ``dataset-fashion-mnist``, else a sha256-checked download."""
    if any(_have_fmnist(d) for d in (*SYSTEM_DIRS, cache_dir() / "fashion-mnist")):
        return
    print("Fashion-MNIST: trying the Debian package dataset-fashion-mnist", file=sys.stderr)
    if _apt_install("dataset-fashion-mnist") and any(_have_fmnist(d) for d in SYSTEM_DIRS):
        return
    print(f"Fashion-MNIST: downloading into {cache_dir() / 'fashion-mnist'} (sha256-checked)",
          file=sys.stderr)
    for name in FMNIST_FILES:
        print(fmnist_file(name))


if __name__ == "__main__":
    main()
