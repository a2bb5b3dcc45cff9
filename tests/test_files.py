"""trajreg.files: one checksum exception for every kind of file, downloads, atomic writes."""

from __future__ import annotations

import gzip
import pickle
import shutil

import numpy as np
import pytest

from trajreg import classifier, data, fid, files, models, official


def _flip_last_byte(path):
    b = bytearray(path.read_bytes())
    b[-1] ^= 0xFF
    path.write_bytes(bytes(b))


def test_checksum_error_is_a_value_error():
    assert issubclass(files.ChecksumError, ValueError)


def test_verify_accepts_the_right_digest_and_refuses_others(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    assert files.verify(f, files.sha256(f)) == f
    assert files.verify(f, files.md5(f), algorithm="md5") == f
    with pytest.raises(files.ChecksumError, match="expected sha256 .* from here.*Do this"):
        files.verify(f, "0" * 64, source="here", hint="Do this.")
    assert f.exists()
    with pytest.raises(files.ChecksumError):
        files.verify(f, "0" * 64, remove=True)
    assert not f.exists()
    with pytest.raises(ValueError, match="algorithm"):
        files.verify(tmp_path, "0", algorithm="crc")


def test_atomic_leaves_either_the_whole_file_or_the_old_one(tmp_path):
    target = tmp_path / "sub" / "x.txt"
    files.write_text(target, "old")
    with pytest.raises(RuntimeError), files.atomic(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old" and sorted(p.name for p in target.parent.iterdir()) == ["x.txt"]
    files.write_json(target, {"a": 1})
    assert target.read_text() == '{\n "a": 1\n}\n'


def test_download_keeps_only_a_verified_file(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    dest = tmp_path / "out" / "dest.bin"
    assert files.download(src.as_uri(), dest, files.sha256(src)).read_bytes() == b"payload"
    dest.unlink()
    with pytest.raises(files.ChecksumError, match="checksum mismatch"):
        files.download(src.as_uri(), dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []


# --- every kind of file the package checks ------------------------------------------------------


def test_fashion_mnist_idx_file(tmp_path, monkeypatch):
    name = "t10k-labels-idx1-ubyte.gz"
    server = tmp_path / "server"
    server.mkdir()
    with gzip.open(server / name, "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")           # a valid IDX, not the real one
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", ())
    monkeypatch.setattr(data, "FMNIST_URL", server.as_uri() + "/")
    with pytest.raises(files.ChecksumError, match="checksum mismatch"):
        data.fmnist_file(name)
    assert not any((tmp_path / "cache").rglob("*.gz"))


def test_cifar10_tarball(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    tarball = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    tarball.parent.mkdir()
    tarball.write_bytes(b"not cifar")
    monkeypatch.setattr(data, "CIFAR10_SHA256", files.sha256(tarball))   # sha256 right, md5 wrong
    with pytest.raises(files.ChecksumError, match="expected md5"):
        data.cifar10_file()


@pytest.mark.skipif(not (models.WEIGHTS / "fmnist-edm.safetensors").exists(), reason="weights not shipped")
def test_model_weights(tmp_path):
    bad = tmp_path / "fmnist-edm.safetensors"
    shutil.copy(models.WEIGHTS / "fmnist-edm.safetensors", bad)
    _flip_last_byte(bad)
    with pytest.raises(files.ChecksumError, match="fmnist-edm.json"):
        models.load_edm("fmnist-edm", weights=bad)


@pytest.mark.skipif(not classifier.CLASSIFIER.exists(), reason="classifier not shipped")
def test_fid_classifier(tmp_path):
    bad = tmp_path / classifier.CLASSIFIER.name
    shutil.copy(classifier.CLASSIFIER, bad)
    shutil.copy(classifier.CLASSIFIER.with_suffix(".json"), bad.with_suffix(".json"))
    _flip_last_byte(bad)
    with pytest.raises(files.ChecksumError, match="checksum mismatch"):
        classifier.load_classifier(bad)


def test_fid_statistics_sidecar(tmp_path):
    path = fid.save_stats(tmp_path / "s.npz", np.zeros(3), np.eye(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz", "s.npz.sha256"]
    np.savez(path, mu=np.ones(3), sigma=np.eye(3))
    with pytest.raises(files.ChecksumError, match="s.npz.sha256"):
        fid.load_stats(path)


def test_official_checkpoint_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_OFFICIAL_DIR", str(tmp_path / "official"))
    src = tmp_path / "tiny.pkl"
    src.write_bytes(pickle.dumps({"ema": None}))
    remote = official.Remote("tiny-standin", src.as_uri())
    monkeypatch.delenv(remote.env, raising=False)
    with pytest.raises(files.ChecksumError, match="from the sha256 argument"):   # fresh download
        official.fetch(remote, sha256_arg="ab" * 32)
    assert not (tmp_path / "official" / "tiny.pkl").exists()
    path = official.fetch(remote)                                                 # pinned
    _flip_last_byte(path)
    with pytest.raises(files.ChecksumError, match="Refusing to load tiny-standin"):  # against the pin
        official.fetch(remote)


def test_official_fid_reference_sidecar(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_OFFICIAL_DIR", str(tmp_path / "official"))
    npz = tmp_path / "ref.npz"
    np.savez(npz, mu=np.zeros(2), sigma=np.eye(2))
    monkeypatch.setitem(official.FID_REFS, "edm-standin", official.Remote("edm-standin", npz.as_uri()))
    monkeypatch.delenv("TRAJREG_SHA256_EDM_STANDIN", raising=False)
    path = official.fid_ref_path("edm-standin")
    np.savez(path, mu=np.ones(2), sigma=np.eye(2))
    with pytest.raises(files.ChecksumError):
        fid.as_stats("edm-standin")
