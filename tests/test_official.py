"""trajreg.official on stand-ins we build: tiny packages playing EDM's and OpenAI's modules, pickles
and state dicts of the official layout served from file:// URLs (no official file is downloaded)."""

import pickle
import sys
import textwrap

import numpy as np
import pytest
import torch

from trajreg import data, fid, files, models, official, schedules
from trajreg.trajectory import sample

STANDIN = textwrap.dedent('''
    """Plays the role of the module an EDM pickle references (EDM's networks / torch_utils)."""
    import pathlib

    import torch


    class TinyPrecond(torch.nn.Module):
        """net(x, sigma, class_labels) like EDMPrecond; remembers what each call received."""

        def __init__(self, res=8, label_dim=0):
            super().__init__()
            self.img_resolution, self.img_channels, self.label_dim = res, 3, label_dim
            self.sigma_min, self.sigma_max, self.sigma_data = 0.0, float("inf"), 0.5
            self.w = torch.nn.Parameter(torch.tensor(0.5))
            self.calls = []

        def forward(self, x, sigma, class_labels=None, force_fp32=False):
            labels = None if class_labels is None else class_labels.clone()
            self.calls.append((x.dtype, sigma.clone(), labels))
            s = sigma.reshape(-1, 1, 1, 1)
            return self.w * x / (1 + s**2)


    def mark(path):
        """Called by a pickle we must never open: leaves a file if it ever runs."""
        pathlib.Path(path).write_text("unpickled")
        return "marked"
''')

CM_STANDIN = textwrap.dedent('''
    """Plays the role of OpenAI's consistency_models `cm.script_util.create_model`."""
    import torch


    class TinyUNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x, timesteps, y=None):
            return self.scale * timesteps.reshape(-1, 1, 1, 1) + 0 * x


    def create_model(**kw):
        assert kw["image_size"] == 256 and kw["class_cond"] is False
        return TinyUNet()
''')


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """Importable package `edm_standin`; official files go to tmp_path/official."""
    pkgs = tmp_path / "pkgs"
    (pkgs / "edm_standin").mkdir(parents=True)
    (pkgs / "edm_standin" / "__init__.py").write_text(STANDIN)
    monkeypatch.syspath_prepend(str(pkgs))
    monkeypatch.setenv("TRAJREG_OFFICIAL_DIR", str(tmp_path / "official"))
    for var in ("TRAJREG_SHA256_TINY_COND", "TRAJREG_SHA256_TINY_UNCOND"):
        monkeypatch.delenv(var, raising=False)
    import edm_standin

    yield edm_standin
    sys.modules.pop("edm_standin", None)


def _publish(tmp_path, monkeypatch, name, payload, label_dim=0, res=8):
    """Write ``payload`` as a pickle under tmp_path/server and register it as official ``name``."""
    server = tmp_path / "server"
    server.mkdir(exist_ok=True)
    path = server / f"{name}.pkl"
    path.write_bytes(pickle.dumps(payload))
    ckpt = official.Checkpoint(official.Remote(name, path.as_uri()), "stand-in", (3, res, res),
                               label_dim=label_dim, requires=("edm_standin",))
    monkeypatch.setitem(official.CHECKPOINTS, name, ckpt)
    return path


def _mark_payload(edm_standin, marker):
    class Run:
        def __reduce__(self):
            return (edm_standin.mark, (str(marker),))
    return {"ema": edm_standin.TinyPrecond(), "evil": Run()}


def test_registry_names_shapes_and_sigma_range():
    for name in ("edm-cifar10-uncond-vp", "edm-ffhq-uncond-vp", "edm-afhqv2-uncond-vp",
                 "edm-imagenet64-cond-adm", "cm-lsun-bedroom-edm", "kde-cifar10"):
        info = models.info(name)
        assert (info.sigma_min, info.sigma_max) == (0.002, 80.0)
    assert models.info("edm-cifar10-uncond-vp").data_shape == (3, 32, 32)
    assert models.info("edm-imagenet64-cond-adm").data_shape == (3, 64, 64)
    assert official.CHECKPOINTS["edm-imagenet64-cond-adm"].label_dim == 1000
    assert official.CHECKPOINTS["edm-cifar10-uncond-vp"].file.url.endswith("edm-cifar10-32x32-uncond-vp.pkl")
    # no checksum is invented: none is published for these files
    assert all(c.file.sha256 is None for c in official.CHECKPOINTS.values())


def test_first_download_is_pinned_and_later_loads_verified(standin, tmp_path, monkeypatch, capsys):
    src = _publish(tmp_path, monkeypatch, "tiny-uncond", {"ema": standin.TinyPrecond()})
    D = official.load_network("tiny-uncond")
    out = capsys.readouterr().out
    digest = files.sha256(src)
    assert "NOT verified against a published value" in out and digest in out
    assert official.read_pins()["tiny-uncond.pkl"]["sha256"] == digest
    assert (tmp_path / "official" / "tiny-uncond.pkl").is_file()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    y = D(x, 2.0)
    assert y.dtype == torch.float64 and torch.allclose(y, 0.5 * x / 5, atol=1e-6)
    dtype, sigma, labels = D.net.calls[-1]
    assert dtype == torch.float32 and sigma.dtype == torch.float32 and sigma.tolist() == [2.0, 2.0]
    assert labels is None and (D.sigma_min, D.sigma_max) == (0.002, 80.0)
    official.load_network("tiny-uncond")                               # second load: checked against the pin
    assert "pinned" not in capsys.readouterr().out


def test_checksum_refusal_happens_before_unpickling(standin, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    _publish(tmp_path, monkeypatch, "tiny-uncond", {"ema": standin.TinyPrecond()})
    official.load_network("tiny-uncond")                               # pins the benign file
    cached = tmp_path / "official" / "tiny-uncond.pkl"
    cached.write_bytes(pickle.dumps(_mark_payload(standin, marker)))
    with pytest.raises(ValueError, match="checksum mismatch.*Refusing to load"):
        official.load_network("tiny-uncond")
    assert not marker.exists()
    # a fresh download with a wrong expected value (argument or environment) is deleted unopened
    cached.unlink()
    src = _publish(tmp_path, monkeypatch, "tiny-uncond", _mark_payload(standin, marker))
    with pytest.raises(ValueError, match="from the sha256 argument"):
        official.load_network("tiny-uncond", sha256="ab" * 32)
    monkeypatch.setenv("TRAJREG_SHA256_TINY_UNCOND", "cd" * 32)
    with pytest.raises(ValueError, match=r"\$TRAJREG_SHA256_TINY_UNCOND"):
        official.load_network("tiny-uncond")
    assert not marker.exists() and not cached.exists() and not cached.with_suffix(".pkl.part").exists()
    # the value a user trusts wins over the pin; then (and only then) the pickle is opened
    official.load_network("tiny-uncond", sha256=files.sha256(src))
    assert marker.read_text() == "unpickled"
    with pytest.raises(ValueError, match="64 hex digits"):
        official.load_network("tiny-uncond", sha256="not-a-checksum")


def test_missing_edm_modules_say_what_to_do(standin, tmp_path, monkeypatch):
    # the real entries need NVIDIA's torch_utils/dnnlib, absent here: said before any download
    with pytest.raises(ModuleNotFoundError, match=r"torch_utils.*git clone https://github.com/NVlabs/edm"
                                                  r".*PYTHONPATH"):
        models.load("edm-cifar10-uncond-vp")
    assert not (tmp_path / "official").exists()
    # a pickle that references a module not on the path: the same advice at unpickling
    gone = tmp_path / "gone"
    (gone / "gone_pkg").mkdir(parents=True)
    (gone / "gone_pkg" / "__init__.py").write_text(STANDIN)
    sys.path.insert(0, str(gone))
    try:
        import gone_pkg
        payload = {"ema": gone_pkg.TinyPrecond()}
        _publish(tmp_path, monkeypatch, "tiny-uncond", payload)
    finally:
        sys.path.remove(str(gone))
        sys.modules.pop("gone_pkg", None)
    with pytest.raises(ModuleNotFoundError, match=r"needs module 'gone_pkg'.*NVlabs/edm.*PYTHONPATH"):
        official.load_network("tiny-uncond")


def test_conditional_labels_reach_the_net(standin, tmp_path, monkeypatch):
    _publish(tmp_path, monkeypatch, "tiny-cond", {"ema": standin.TinyPrecond(label_dim=10)}, label_dim=10)
    D = official.load_network("tiny-cond")
    x = torch.randn(3, 3, 8, 8)
    D(x, 1.0, torch.tensor([0, 7, 9]))
    assert D.net.calls[-1][2].argmax(1).tolist() == [0, 7, 9]
    assert D.net.calls[-1][2].shape == (3, 10) and D.net.calls[-1][2].sum().item() == 3
    D(x, 1.0)                                                 # no labels: row i gets seed i's label
    assert D.net.calls[-1][2].argmax(1).tolist() == official.seed_labels(range(3), 10, (3, 8, 8)).tolist()
    D.class_label = 4                                         # or one fixed class for every row
    D(x, 1.0)
    assert D.net.calls[-1][2].argmax(1).tolist() == [4, 4, 4]
    D.class_label = None
    seeds = [5, 6, 7]
    noise = data.noise(seeds, (3, 8, 8))
    D.for_seeds(seeds)(noise, 80.0)
    drawn = official.seed_labels(seeds, 10, (3, 8, 8))
    assert D.net.calls[-1][2].argmax(1).tolist() == drawn.tolist()
    # the label of a seed does not depend on the batch it is drawn in
    assert official.seed_labels(range(3, 9), 10, (3, 8, 8))[2:5].tolist() == drawn.tolist()
    assert len(set(official.seed_labels(range(200), 10, (3, 8, 8)).tolist())) == 10
    with pytest.raises(ValueError, match="class_labels must lie in"):
        D(x, 1.0, torch.tensor([0, 1, 10]))
    with pytest.raises(ValueError, match=r"class_labels must be ints of shape \(3,\)"):
        D(x, 1.0, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="rows but 3 labels"):
        D.for_seeds(seeds)(x[:2], 1.0)
    # the whole code path of a notebook: a trajectory on the stand-in
    traj = sample(D.for_seeds(seeds), noise, schedules.polynomial(6), "euler")
    assert traj.x.shape == (6, 3, 3, 8, 8) and torch.isfinite(traj.final).all()
    grid = {float(s) for s in schedules.polynomial(6).float()}
    assert {c[1].max().item() for c in D.net.calls[-5:]} <= grid


def test_unconditional_net_refuses_labels_and_wrong_shapes(standin, tmp_path, monkeypatch):
    _publish(tmp_path, monkeypatch, "tiny-uncond", {"ema": standin.TinyPrecond()})
    D = official.load_network("tiny-uncond")
    with pytest.raises(ValueError, match="unconditional network"):
        D(torch.zeros(1, 3, 8, 8), 1.0, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3, 8, 8\)"):
        D(torch.zeros(1, 3, 4, 4), 1.0)
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        D(torch.zeros(1, 3, 8, 8), 0.0)
    bad = _publish(tmp_path, monkeypatch, "tiny-bad", {"net": 1})
    with pytest.raises(ValueError, match="dict with key 'ema'"):
        official.load_network("tiny-bad", sha256=files.sha256(bad))


def test_cm_state_dict_with_edm_preconditioning(tmp_path, monkeypatch):
    pkgs = tmp_path / "pkgs"
    (pkgs / "cm").mkdir(parents=True)
    (pkgs / "cm" / "__init__.py").write_text("")
    (pkgs / "cm" / "script_util.py").write_text(CM_STANDIN)
    monkeypatch.setenv("TRAJREG_OFFICIAL_DIR", str(tmp_path / "official"))
    monkeypatch.delenv("TRAJREG_SHA256_CM_LSUN_BEDROOM_EDM", raising=False)
    pt = tmp_path / "edm_bedroom256_ema.pt"
    torch.save({"scale": torch.tensor(2.0)}, pt)
    ckpt = official.CHECKPOINTS["cm-lsun-bedroom-edm"]
    monkeypatch.setitem(official.CHECKPOINTS, ckpt.name, official.Checkpoint(
        official.Remote(ckpt.name, pt.as_uri()), ckpt.description, ckpt.data_shape, kind="cm",
        requires=("cm",), config=ckpt.config))
    with pytest.raises(ModuleNotFoundError, match="github.com/openai/consistency_models"):
        official.load_network("cm-lsun-bedroom-edm")
    monkeypatch.syspath_prepend(str(pkgs))
    try:
        D = official.load_network("cm-lsun-bedroom-edm")
        x, sigma = torch.randn(2, 3, 256, 256), torch.tensor([0.5, 10.0])
        sd, s = 0.5, sigma.reshape(-1, 1, 1, 1)
        expected = (sd**2 / (s**2 + sd**2) * x
                    + s * sd / (s**2 + sd**2).sqrt() * 2.0 * 250 * torch.log(s))   # scale 2 from the .pt
        torch.testing.assert_close(D(x, sigma), expected, rtol=1e-5, atol=1e-4)
    finally:
        for mod in ("cm", "cm.script_util"):
            sys.modules.pop(mod, None)


def test_fid_reference_statistics_verified_and_loadable_by_fid(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRAJREG_OFFICIAL_DIR", str(tmp_path / "official"))
    monkeypatch.delenv("TRAJREG_SHA256_EDM_CIFAR10_32X32", raising=False)
    npz = tmp_path / "cifar10-32x32.npz"
    mu, sigma = np.arange(4.0), np.eye(4) * 2
    np.savez(npz, mu=mu, sigma=sigma)
    monkeypatch.setitem(official.FID_REFS, "edm-cifar10-32x32",
                        official.Remote("edm-cifar10-32x32", npz.as_uri()))
    stats = fid.as_stats("edm-cifar10-32x32")               # what notebooks reach with fid_ref
    np.testing.assert_array_equal(stats.mu, mu)
    np.testing.assert_array_equal(stats.sigma, sigma)
    assert "NOT verified" in capsys.readouterr().out
    path = tmp_path / "official" / "cifar10-32x32.npz"
    assert fid.load_stats(path).mu.tolist() == mu.tolist()    # the sidecar fid checks was written
    np.savez(path, mu=mu + 1, sigma=sigma)
    with pytest.raises(ValueError, match="checksum mismatch"):
        fid.as_stats("edm-cifar10-32x32")
    assert set(official.FID_REFS) >= {"edm-cifar10-32x32", "edm-ffhq-64x64", "edm-imagenet-64x64"}
