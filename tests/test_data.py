import pytest
import torch

from trajreg import data


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
    assert data.sha256(data.fmnist_file(name), gunzip=True) == data.FMNIST_FILES[name]


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
