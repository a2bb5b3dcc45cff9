"""Each experiment is written once: a notebook (fast tier) and its benchmark (large tier) compute
their headline numbers through the same ``trajreg.experiments`` function; the functions themselves
on a small Gaussian mixture."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trajreg import data, experiments, gits, search, stats
from trajreg.denoisers import GaussianMixtureDenoiser

ROOT = Path(__file__).resolve().parents[1]
# (notebook, benchmark): the experiments functions both must call
SAME_CODE = {
    ("tab01_fid_nfe", "table1_large"): ("gits_schedules", "paired_comparison"),
    ("tab01_fid_nfe", "warmup_draws"): ("warmup_draws",),
    ("beyond_optimality_gap", "beyond_large"): ("compare_methods",),
    ("beyond_portability", "portability"): ("cross_solver", "by_size"),
}


def notebook_code(name: str) -> str:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def experiment_calls(code: str) -> set[str]:
    """Names f of every call ``experiments.f(...)`` in the code."""
    return {n.func.attr for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "experiments"}


def defined(code: str) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize(("pair", "functions"), SAME_CODE.items(), ids=lambda x: str(x))
def test_notebook_and_benchmark_call_the_same_experiment_function(pair, functions):
    notebook, benchmark = pair
    nb_code = notebook_code(notebook)
    bench_code = (ROOT / "benchmarks" / f"{benchmark}.py").read_text()
    for f in functions:
        assert f in experiment_calls(nb_code), f"{notebook} does not call experiments.{f}"
        assert f in experiment_calls(bench_code), f"benchmarks/{benchmark}.py does not call experiments.{f}"
        assert f not in defined(nb_code), f"{notebook} defines its own {f}"


@pytest.mark.parametrize("notebook", sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_pages_read_stored_results_through_the_reader(notebook):
    code = notebook_code(notebook)
    assert "json.loads" not in code and "Estimate.from_dict" not in code, \
        f"{notebook} parses stored results by hand: use trajreg.results.read"


@pytest.fixture(scope="module")
def mixture():
    G = GaussianMixtureDenoiser.example()
    pool = data.noise(range(1_000_000, 1_000_008), (16,))
    return G, pool, data.noise(range(8), (16,))


def test_compare_methods_rows(mixture):
    G, pool, noise_e = mixture
    seen = []
    rows = experiments.compare_methods(G, pool[:4], noise_e, [3], ["euler"], grid_ex=6, grid_prop=6,
                                       iters=1, exhaustive_ks=[3], on_row=seen.append)
    assert [r["method"] for r in rows] == [m for m in search.METHODS if m != "ays"] and seen == rows
    by = {r["method"]: r for r in rows}
    assert by["polynomial"]["search_nfe"] == 0 and len(by["oss"]["errors"]) == len(noise_e)
    assert by["learned"]["search_nfe"] >= 4 * search.N_REFERENCE        # the reference, charged
    assert by["gits-dev"]["search_nfe"] == by["gits-l2"]["search_nfe"] == 4 * (gits.N_GRID - 1)
    again = search.search("gits-dev", G, pool[:4], 3, "euler")            # alone, the same
    assert again.nfe == by["gits-dev"]["search_nfe"] and again.sigmas.tolist() == by["gits-dev"]["sigmas"]


def test_cross_solver_and_by_size(mixture):
    G, pool, noise_e = mixture
    sched = experiments.portable_schedules(G, pool[:4], [3], ["gits-dev", "learned"], coarse=6, iters=1)
    assert list(sched) == [("polynomial", "-", 3), ("gits-dev", "-", 3), ("learned", "euler", 3),
                           ("learned", "ipndm", 3)]
    rows = experiments.cross_solver(G, noise_e, sched)
    assert len(rows) == len(sched) * len(experiments.TARGETS)
    unipc = next(r for r in rows if r["target"] == "unipc" and r["method"] == "polynomial")
    ref = search.reference(G, noise_e)
    plain = search.ode_errors(G, noise_e, sched["polynomial", "-", 3], "unipc", ref, thresholding=False)
    np.testing.assert_allclose(unipc["errors"], plain.numpy())
    size = experiments.by_size(G, pool, noise_e, [2, 4], [3], 1, oss_max_size=2)
    assert [(r["method"], r["size"]) for r in size] == [
        ("gits-dev", 2), ("oss", 2), ("learned", 2), ("gits-dev", 4), ("learned", 4)]


def test_gits_schedules_and_paired_comparison(mixture):
    G, pool, _ = mixture
    warm = gits.warmup(G, pool, 21)
    s = experiments.gits_schedules(warm, ["dev", "l2"], 5)
    for K in range(1, 6):
        path = gits.optimal_path(gits.cost_matrix(warm, "l2"), K)
        torch.testing.assert_close(s["l2"][K], warm.sigmas[path])
    rng = np.random.default_rng(0)
    fa, fb = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 0.5
    ea, eb = rng.random(40), rng.random(40) * 0.5
    ca, cb = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    ref = (np.zeros(3), np.eye(3))
    d = experiments.paired_comparison(fa, fb, ea, eb, ca, cb, ref, seed=0, n_resamples=50)
    assert set(d) == {"fid", "ratio", "ode", "ode_median", "sign", "flip"}
    assert d["fid"] == stats.fid_diff_ci(fa, fb, *ref, seed=0, n_resamples=50)
    assert d["ode"] == stats.paired_diff(ea, eb, seed=0)


def test_warmup_draws_are_disjoint_warmup_sets_and_draw_zero_is_the_headlines():
    import torch
    from _problems import gaussian_problem

    from trajreg import data, experiments, gits
    from trajreg.runs import WARMUP_SEED

    D, _, _ = gaussian_problem(0, 2)
    out = experiments.warmup_draws(D, (6,), 2, 8, 4)
    assert len(out) == 2 and all(sorted(d) == [1, 2, 3, 4] for d in out)
    assert all(len(d[K]) == K + 1 for d in out for K in d)
    warm = gits.warmup(D, data.noise(range(WARMUP_SEED, WARMUP_SEED + 8), (6,)), gits.N_GRID, "ipndm")
    assert torch.equal(out[0][4], experiments.gits_schedules(warm, ("dev",), 4)["dev"][4])
    (second,) = experiments.warmup_draws(D, (6,), 1, 8, 4, seed=8)       # draw 1 on its own
    assert all(torch.equal(second[K], out[1][K]) for K in second)
    with pytest.raises(ValueError, match="draws"):
        experiments.warmup_draws(D, (6,), 0, 8, 4)
