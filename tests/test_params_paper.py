"""params/paper/<notebook>.yaml: one per notebook, keys of its parameters cell, registered models,
and the code path each file selects run on stand-ins (the official loader returns a tiny random
network of the checkpoint's shape; the CIFAR-10 KDE gets 16 random images)."""

import ast
import json
from pathlib import Path

import pytest
import torch
import yaml

from trajreg import data, fid, gits, models, official, schedules, solvers
from trajreg.trajectory import sample

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
MODEL_KEYS = ("model", "optimal", "kde_model")
SOLVER_KEYS = ("solver", "teacher", "ref_solver")


def parameters(name: str) -> dict:
    """name -> default value of the notebook's cell tagged `parameters`."""
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name}: expected one parameters cell"
    tree = ast.parse("".join(cells[0]["source"]))
    return {t.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets}


def params(name: str) -> dict:
    return yaml.safe_load((ROOT / "params" / "paper" / f"{name}.yaml").read_text())


def model_names(p: dict) -> list[str]:
    names = [p[k] for k in MODEL_KEYS if p.get(k)] + list(p.get("model_names", []))
    return list(dict.fromkeys(names))


def solver_names(p: dict) -> list[str]:
    names = [p[k] for k in SOLVER_KEYS if k in p]
    for key in ("solvers", "teachers", "overhead_solvers"):
        names += p.get(key, [])
    return list(dict.fromkeys(names)) or ["euler"]


class TinyEDMNet(torch.nn.Module):
    """Random stand-in of an official network: net(x, sigma, class_labels), EDM preconditioning."""

    def __init__(self, shape: tuple[int, ...], label_dim: int):
        super().__init__()
        torch.manual_seed(0)
        self.img_channels, self.img_resolution, self.label_dim = shape[0], shape[-1], label_dim
        self.conv = torch.nn.Conv2d(shape[0], shape[0], 3, padding=1)
        self.embed = torch.nn.Linear(max(label_dim, 1), shape[0])
        self.labels_seen = 0

    def forward(self, x, sigma, class_labels=None):
        s = sigma.reshape(-1, 1, 1, 1)
        F_x = self.conv(x / (s**2 + 0.25).sqrt())
        if self.label_dim:
            assert class_labels.shape == (x.shape[0], self.label_dim)
            F_x = F_x + self.embed(class_labels)[:, :, None, None]
            self.labels_seen += x.shape[0]
        return 0.25 / (s**2 + 0.25) * x + s * 0.5 / (s**2 + 0.25).sqrt() * F_x


@pytest.fixture
def standins(monkeypatch, tmp_path):
    """Official loads and the CIFAR-10 download replaced by small stand-ins; caches in tmp_path."""
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    monkeypatch.setattr(official, "require", lambda modules, hint: None)
    monkeypatch.setattr(official, "fetch", lambda remote, **kw: tmp_path / remote.filename)
    monkeypatch.setattr(official, "unpickle_ema",
                        lambda path, ckpt: TinyEDMNet(ckpt.data_shape, ckpt.label_dim))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    labels = torch.arange(16) % 10

    def cifar10(split="train", *, labels=False):
        return (images, labels_) if labels else images

    labels_ = labels
    monkeypatch.setattr(data, "cifar10", cifar10)


def test_every_notebook_has_a_paper_scale_file():
    have = sorted(p.stem for p in (ROOT / "params" / "paper").glob("*.yaml"))
    assert have == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_keys_are_parameters_with_compatible_types(name):
    defaults, p = parameters(name), params(name)
    unknown = sorted(set(p) - set(defaults))
    assert not unknown, f"{name}.yaml sets {unknown}, not in the parameters cell"
    for key, value in p.items():
        want = type(defaults[key])
        ok = isinstance(value, want) or (want is float and isinstance(value, int))
        assert ok and not (want is int and isinstance(value, bool)), (
            f"{name}.yaml: {key}={value!r} ({type(value).__name__}), default is {want.__name__}")
    assert p.get("device") == "cuda"
    merged = defaults | p
    if "n_ref" in merged:          # reference solutions cover the evaluation samples
        assert merged["n_ref"] >= merged["n_ode"], f"{name}.yaml: n_ref < n_ode"
    if "n_fid" in merged:          # the ODE-error samples are the first of the FID samples
        assert merged["n_fid"] >= merged["n_ode"], f"{name}.yaml: n_fid < n_ode"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_names_are_registered(name):
    p = params(name)
    for model in model_names(p):
        assert model in models.MODELS, f"{name}.yaml: model {model!r} is not in trajreg.models.MODELS"
    for solver in solver_names(p):
        assert solver in solvers.SOLVERS, f"{name}.yaml: unknown solver {solver!r}"
    if "fid_ref" in p:
        assert p["fid_ref"] in fid.REFERENCES or p["fid_ref"] in official.FID_REFS
    if "fid_extractor" in p:
        assert p["fid_extractor"] in ("fmnist", "inception")
    if "dataset" in p:
        assert callable(getattr(data, p["dataset"]))
    for key in ("n_traj", "n_fid", "n_ode", "n_warmup", "n_samples"):
        if key in p:
            assert p[key] >= parameters(name)[key], f"{name}.yaml: {key} below the embedded default"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_path_runs_on_standins(name, standins):
    """Each model of the file: load, 2 trajectories with each of its solvers on a 3-step schedule;
    GITS files also warm up, build the cost matrix with their metric and search with their gamma."""
    p = params(name)
    sigmas = schedules.polynomial(4)
    for model in model_names(p):
        info = models.info(model)
        D = models.load(model, device="cpu")
        seeds = [p.get("seed", 0), p.get("seed", 0) + 1]
        noise = data.noise(seeds, info.data_shape, dtype=torch.float32)
        if isinstance(D, official.OfficialDenoiser) and D.label_dim:
            D = D.for_seeds(seeds)                       # per-seed random labels, as the paper
        for solver in solver_names(p):
            traj = sample(D, noise, sigmas, solver)
            assert traj.final.shape == (2, *info.data_shape) and torch.isfinite(traj.final).all()
        if "gamma" in p and model == p.get("model"):
            warm = gits.warmup(D, noise.double(), 6, p.get("teacher", "ipndm"))
            cost = gits.cost_matrix(warm, p.get("metric", gits.METRIC))
            path = gits.optimal_path(cost, 3, p["gamma"])
            assert len(path) == 4 and int(path[0]) == 0 and int(path[-1]) == 5


GITS_FILES = sorted(p.stem for p in (ROOT / "params" / "paper").glob("*.yaml")
                    if "gamma" in yaml.safe_load(p.read_text()))


@pytest.mark.parametrize("name", GITS_FILES)
def test_gits_files_run_gits_as_the_authors_did(name):
    """Official defaults (gits-main/sample.py): cost "dev", gamma 1.15, iPNDM teacher, 61-point
    grid, 256 warm-up samples; the paper's L2 cost is a labelled second row on the pages."""
    p = params(name)
    assert (p["metric"], p["gamma"], p["teacher"]) == (gits.METRIC, gits.GAMMA, "ipndm") == (
        "dev", 1.15, "ipndm"), name
    assert p.get("grid_size", gits.N_GRID) == gits.N_GRID == 61
    assert p["n_warmup"] == gits.N_WARMUP == 256


def test_standin_labels_reach_the_conditional_network(standins):
    D = models.load("edm-imagenet64-cond-adm")
    noise = data.noise([0, 1], (3, 64, 64), dtype=torch.float32)
    sample(D.for_seeds([0, 1]), noise, schedules.polynomial(3), "euler")
    assert D.net.labels_seen == 4


def test_gpu_hours_table_of_the_book_matches_the_files(capsys):
    import runpy

    runpy.run_path(str(ROOT / "scripts" / "paper_scale_hours.py"), run_name="__main__")
    assert capsys.readouterr().out == (ROOT / "book" / "paper_scale_hours.md").read_text(), (
        "rerun: python scripts/paper_scale_hours.py > book/paper_scale_hours.md")
