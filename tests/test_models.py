import shutil

import pytest
import torch

from trajreg import files, models


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="name='nope'.*fmnist-edm"):
        models.load("nope")


def test_verify_refuses_a_tampered_file(tmp_path):
    src = tmp_path / "w.bin"
    src.write_bytes(b"\x00" * 64)
    good = files.sha256(src)
    assert files.verify(src, good) == src
    src.write_bytes(b"\x01" + b"\x00" * 63)
    with pytest.raises(files.ChecksumError, match="checksum mismatch"):
        files.verify(src, good)


@pytest.mark.skipif(not (models.WEIGHTS / "fmnist-edm.safetensors").exists(), reason="weights not shipped")
def test_shipped_model_loads_verified_and_denoises(tmp_path):
    meta = models.card("fmnist-edm")
    D = models.load("fmnist-edm")
    x0 = torch.zeros(2, 1, 28, 28)
    out = D(x0 + 0.01 * torch.randn_like(x0), 0.01)
    assert out.shape == x0.shape and torch.isfinite(out).all()
    assert 1e6 <= meta["parameters"] <= 4e6 and meta["images_seen"] > 0
    bad = tmp_path / "fmnist-edm.safetensors"
    shutil.copy(models.WEIGHTS / "fmnist-edm.safetensors", bad)
    data = bytearray(bad.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.load_edm("fmnist-edm", weights=bad)
