import pytest
import torch

from trajreg import data, files


@pytest.fixture(scope="module")
def train():
    return data.fashion_mnist("train", labels=True)


def test_fashion_mnist_train_shape_range_labels(train):
    x, y = train
    assert x.shape == (60000, *data.FMNIST_SHAPE) and x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert y.unique().tolist() == list(range(10))
    assert torch.bincount(y).tolist() == [6000] * 10          # Fashion-MNIST is class-balanced
    assert len(data.FMNIST_CLASSES) == 10


def test_fashion_mnist_test_split():
    x = data.fashion_mnist("test")
    assert isinstance(x, torch.Tensor) and x.shape == (10000, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1
    # 8-bit grey levels map onto a 255-step grid in [-1, 1]
    levels = (x[:100] + 1) * 127.5
    torch.testing.assert_close(levels, levels.round())


@pytest.mark.parametrize("name", sorted(data.FMNIST_FILES))
def test_fmnist_files_checksum(name):
    assert files.sha256(data.fmnist_file(name), gunzip=True) == data.FMNIST_FILES[name]


def test_bad_split_and_file_raise():
    with pytest.raises(ValueError, match="split"):
        data.fashion_mnist("validation")
    with pytest.raises(ValueError, match="name"):
        data.fmnist_file("mnist.gz")


def test_noise_is_per_sample_reproducible():
    alone = data.noise([5], (1, 4, 4))
    batch = data.noise([3, 5, 7], (1, 4, 4))
    assert batch.shape == (3, 1, 4, 4) and batch.dtype == torch.float64
    torch.testing.assert_close(batch[1], alone[0], rtol=0, atol=0)
    assert not torch.equal(batch[0], batch[1])
    torch.testing.assert_close(data.noise(torch.tensor([5]), (1, 4, 4)), alone, rtol=0, atol=0)
    assert data.noise([5], (16,), dtype=torch.float32).dtype == torch.float32


# --- CIFAR-10 on a stand-in tarball of the official layout --------------------------------------


def _cifar_tarball(path, n_per_batch=4, evil=False):
    """cifar-10-python.tar.gz layout: data_batch_1..5 and test_batch pickles (b'data', b'labels')."""
    import io
    import pickle
    import tarfile

    import numpy as np

    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
            pixels = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
            batch = {b"data": pixels, b"labels": [(k + j) % 10 for j in range(n_per_batch)],
                     b"batch_label": name.encode()}
            if evil:
                batch[b"payload"] = _Evil()
            # written as by the original numpy 1.x release: numpy.core, not numpy._core
            blob = pickle.dumps(batch, protocol=2).replace(b"numpy._core.", b"numpy.core.")
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            batches[name] = batch
    return batches


class _Evil:
    def __reduce__(self):
        return (print, ("this must not run",))


def _use_standin(monkeypatch, tmp_path, tarball):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "CIFAR10_URL", tarball.as_uri())
    monkeypatch.setattr(data, "CIFAR10_SHA256", files.sha256(tarball))
    monkeypatch.setattr(data, "CIFAR10_MD5", files.md5(tarball))
    data._read_cifar.cache_clear()


def test_cifar10_downloads_verifies_and_parses_a_standin(tmp_path, monkeypatch):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    batches = _cifar_tarball(tarball)
    _use_standin(monkeypatch, tmp_path, tarball)
    x, y = data.cifar10("train", labels=True)
    assert data.cifar10_file() == tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz"
    assert x.shape == (20, *data.CIFAR10_SHAPE) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() >= -1 and x.max() <= 1
    first = torch.tensor(batches["data_batch_1"][b"data"][0].reshape(3, 32, 32), dtype=torch.float32)
    torch.testing.assert_close(x[0], first / 127.5 - 1)           # channel-major rows: R, G, B planes
    assert y[:4].tolist() == batches["data_batch_1"][b"labels"]
    assert y[16:].tolist() == batches["data_batch_5"][b"labels"]
    xt = data.cifar10("test")
    assert xt.shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="split='val'"):
        data.cifar10("val")


def test_cifar10_refuses_a_file_with_the_wrong_checksum(tmp_path, monkeypatch):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _cifar_tarball(tarball)
    _use_standin(monkeypatch, tmp_path, tarball)
    monkeypatch.setattr(data, "CIFAR10_MD5", "0" * 32)         # sha256 right, md5 wrong: still refused
    with pytest.raises(files.ChecksumError, match="expected md5"):
        data.cifar10("train")
    monkeypatch.setattr(data, "CIFAR10_SHA256", "0" * 64)
    (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").unlink()
    with pytest.raises(files.ChecksumError, match="checksum mismatch"):    # at download: nothing is kept
        data.cifar10("train")
    assert not (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").exists()


def test_cifar10_batches_may_hold_only_arrays(tmp_path, monkeypatch, capsys):
    import pickle

    tarball = tmp_path / "cifar-10-python.tar.gz"
    _cifar_tarball(tarball, evil=True)
    _use_standin(monkeypatch, tmp_path, tarball)
    with pytest.raises(pickle.UnpicklingError, match="print, not a numpy array"):
        data.cifar10("test")
    assert "must not run" not in capsys.readouterr().out


def test_main_finds_present_files_and_otherwise_downloads_checked(tmp_path, monkeypatch):
    system = tmp_path / "system"
    system.mkdir()
    for name in data.FMNIST_FILES:
        (system / name).write_bytes(b"")
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", (system,))
    monkeypatch.setattr(data, "_apt_install", lambda package: pytest.fail("apt-get run needlessly"))
    data.main()                                                   # all present: nothing to do
    monkeypatch.setattr(data, "SYSTEM_DIRS", (tmp_path / "empty",))
    monkeypatch.setattr(data, "_apt_install", lambda package: False)
    monkeypatch.setattr(data, "FMNIST_URL", system.as_uri() + "/")   # serves the wrong (empty) files
    with pytest.raises(files.ChecksumError):
        data.main()
