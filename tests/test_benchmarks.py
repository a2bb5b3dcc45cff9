"""The benchmark scripts still run (tiny sizes, CPU): they print ratios, so only their output
format is checked, never their speed."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trajreg import results

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """A benchmark script as a module (scripts import only the package, never each other)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sampling_throughput_reports_overhead(tmp_path):
    out = tmp_path / "bench.jsonl"
    _script("sampling_throughput").main(["--n", "4", "--batch", "2", "--steps", "3", "--solver", "euler",
                                         "--device", "cpu", "--json", str(out)])
    row = json.loads(out.read_text())
    results.validate(row)
    assert row["nfe"] == 2 and row["provenance"]["n"] == 4 and row["images_per_s"] > 0
    assert row["overhead"] > 0 and row["denoiser_call_s"] > 0, row   # a ratio, not a timed bound


def test_sampling_throughput_rejects_bad_sizes():
    with pytest.raises(SystemExit):
        _script("sampling_throughput").main(["--n", "0", "--device", "cpu"])


@pytest.mark.slow
def test_gits_large_sample_compares_both_schedules(tmp_path):
    # with an empty cache this first computes the FID reference statistics (~40 s on one thread),
    # which the notebooks then reuse
    out = tmp_path / "gits.jsonl"
    _script("gits_large_sample").main(["--n", "4", "--nfe", "3", "--warmup", "2", "--batch", "4",
                                       "--device", "cpu", "--json", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["solver"], r["schedule"], r["nfe"]) for r in rows] == [
        ("heun", "polynomial", 34), ("ipndm", "polynomial", 3), ("ipndm", "gits", 3)]
    assert all(r["ode_error"] >= 0 and r["sigmas"][0] == 80.0 for r in rows)
    assert rows[2]["sigmas"] != rows[1]["sigmas"]


def _pooled(x):
    """A cheap stand-in for Inception: 64 pooled values of the (B, 3, 299, 299) batch."""
    return torch.nn.functional.adaptive_avg_pool2d(x[:, :1], (8, 8)).reshape(len(x), 64) / 255


def test_inception_headline_resumes_and_pairs(tmp_path):
    mod = _script("inception_headline")
    common = ["--n", "24", "--n-ref", "32", "--chunk", "16", "--nfes", "5", "--n-boot", "10",
              "--batch", "24", "--device", "cpu", "--features", str(tmp_path / "f")]
    out = tmp_path / "inc.jsonl"
    with pytest.raises(SystemExit, match="incomplete"):     # nothing extracted yet
        mod.main([*common, "--score-only", "--out", str(out)], extractor=_pooled)
    mod.main([*common, "--out", str(out)], extractor=_pooled)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["schedule"], r["nfe"]) for r in rows] == [
        ("real test images", 0), ("polynomial", 5), ("gits-dev", 5), ("gits-l2", 5)]
    assert all(r["provenance"]["n"] == 24 and r["provenance"]["seeds"] == "0-23"
               and r["extraction"]["chunks"] == 2 + 4 * 2 for r in rows)
    poly, dev = rows[1], rows[2]
    d = dev["fid_diff_vs_polynomial"]
    assert d["value"] == pytest.approx(dev["fid"]["value"] - poly["fid"]["value"])
    assert d["lo"] <= d["value"] <= d["hi"] and "fid_diff_vs_polynomial" not in poly
    assert len(list((tmp_path / "f").glob("*.npy"))) == 2 + 2 * 4
    # a second run finds every chunk and only rescores: the same numbers
    mod.main([*common, "--score-only", "--out", str(out)], extractor=_pooled)
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["fid"] for r in again] == [r["fid"] for r in rows]


def test_fid_class_mix_scores_both_metrics_raw_matched_and_mix(tmp_path, monkeypatch):
    common = ["--n-ref", "32", "--chunk", "16", "--nfes", "5", "--n-boot", "10", "--batch", "32",
              "--device", "cpu", "--features", str(tmp_path / "f")]
    mod = _script("fid_class_mix")
    with pytest.raises(SystemExit, match="Inception chunks are missing"):
        mod.main([*common, "--n", "32", "--out", str(tmp_path / "x.jsonl")], extractor_id="custom:_pooled")
    _script("inception_headline").main([*common, "--n", "32", "--out", str(tmp_path / "inc.jsonl")],
                                       extractor=_pooled)
    # two classes, alternating: every resample has both, so the class weights exist
    monkeypatch.setattr(mod.fid, "classify", lambda x, **k: np.arange(len(x)) % 2)
    out = tmp_path / "mix.jsonl"
    mod.main([*common, "--n", "32", "--clf-features", str(tmp_path / "c"), "--out", str(out)],
             extractor_id="custom:_pooled")
    rows = {(r["schedule"], r["nfe"]): r for r in map(json.loads, out.read_text().splitlines())}
    assert list(rows) == [("real test images", 0), ("polynomial", 5), ("gits-dev", 5), ("gits-l2", 5)]
    floor, poly, dev = rows["real test images", 0], rows["polynomial", 5], rows["gits-dev", 5]
    assert dev["provenance"]["n"] == 32 and dev["class_histogram"] == [16, 16] + [0] * 8
    for m in ("clf", "inception"):
        for k in ("raw", "matched", "mix"):
            d = dev[m][f"{k}_diff"]
            assert d["value"] == pytest.approx(dev[m][k]["value"] - poly[m][k]["value"])
            assert d["lo"] <= d["value"] <= d["hi"]
        # same class mix everywhere: matching changes nothing, and the mix costs nothing
        assert dev[m]["matched"]["value"] == pytest.approx(dev[m]["raw"]["value"])
        assert dev[m]["mix"]["value"] == pytest.approx(floor[m]["raw"]["value"])
        gap = poly[m]["raw"]["value"] - floor[m]["raw"]["value"]
        assert dev[m]["mix_share"]["value"] == pytest.approx(dev[m]["mix_diff"]["value"] / gap)
    assert dev["mix_sensitivity"]["value"] == pytest.approx(
        dev["clf"]["mix_share"]["value"] - dev["inception"]["mix_share"]["value"])
    assert len(list((tmp_path / "c").glob("*.npy"))) == 3 * 2     # classifier chunks kept


def test_inception_headline_rejects_bad_sizes():
    mod = _script("inception_headline")
    for bad in (["--n", "20000"], ["--n", "8"], ["--chunk", "0"], ["--deadline-min", "0"]):
        with pytest.raises(SystemExit):
            mod.main([*bad, "--device", "cpu"])


def test_recommend_refines_the_exhaustive_optimum_on_the_mixture(tmp_path):
    from trajreg import search

    out = tmp_path / "rec.jsonl"
    _script("recommend").main(["--model", "gmm", "--ks", "4", "--solvers", "euler", "--methods", "refined",
                                  "refined-multistart", "--out", str(out)])
    rows = {r["method"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == set(search.METHODS) - {"ays"}      # AYS needs real data samples
    ex, ref = rows["exhaustive"], rows["refined"]
    assert ref["start"]["sigmas"] == ex["sigmas"] and ref["n_eval"] == 128 and len(ref["errors"]) == 128
    assert ref["search_error"] <= ex["search_error"] + 1e-12
    assert ref["search_nfe"] == ex["search_nfe"] + ref["refine"]["nfe"] > ex["search_nfe"]
    multi = rows["refined-multistart"]
    assert set(multi["start"]["candidates"]) == {"exhaustive", "oss", "polynomial", "uniform", "logsnr"}
    assert multi["search_nfe"] > rows["oss"]["search_nfe"] + ex["search_nfe"]


def test_recommend_refuses_stored_results_of_another_measurement(tmp_path):
    stored = tmp_path / "other.jsonl"
    stored.write_text(json.dumps({"model": "gmm", "n_search": 16, "n_eval": 128, "search_seeds": [0, 16],
                                  "eval_seeds": [0, 128]}) + "\n")
    with pytest.raises(ValueError, match="n_search"):
        _script("recommend").main(["--model", "gmm", "--stored", str(stored), "--out",
                                   str(tmp_path / "x.jsonl")])


def test_recommend_refuses_stored_results_of_other_weights(tmp_path):
    prov = {**results.provenance("python benchmarks/beyond_large.py", "fmnist-edm",
                                 n={"search": 32, "eval": 64}, seeds={"search": "1000000-1000031",
                                                                     "eval": "0-63"}),
            "dirty": False, "model_sha256": "0" * 64}                    # the model was retrained since
    stored = tmp_path / "old.jsonl"
    results.write_rows(stored, [{"provenance": prov, "solver": "ipndm", "K": 4, "method": "exhaustive",
                                 "sigmas": [80.0, 1.0, 0.002]}])
    with pytest.warns(UserWarning, match="not the shipped weights"), \
            pytest.raises(ValueError, match="other weights"):
        _script("recommend").main(["--model", "fmnist-edm", "--stored", str(stored), "--out",
                                   str(tmp_path / "x.jsonl")])


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_only_the_package(path):
    """A benchmark is a thin command line over trajreg: no sibling import, no sys.path edit, no
    fallback import."""
    tree = ast.parse(path.read_text())
    siblings = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in siblings, f"{path.name} imports {node.module}"
        elif isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & siblings
        elif isinstance(node, ast.Try):
            caught = {h.type.id for h in node.handlers if isinstance(h.type, ast.Name)}
            assert "ImportError" not in caught, f"{path.name} keeps a fallback import"
    assert "sys.path" not in path.read_text(), f"{path.name} edits sys.path"


@pytest.mark.slow
def test_systems_runs_every_system_and_pairs_it_with_gits(tmp_path):
    # tiny sizes: about 3 minutes on one thread (AYS and the AMED trainings dominate)
    out = tmp_path / "systems.jsonl"
    args = ["--n", "16", "--n-ode", "8", "--n-ref", "32", "--chunk", "16", "--nfes", "5", "--warmup", "8",
            "--oss-noises", "4", "--ays-data", "64", "--ays-mc", "4", "--ays-sweeps", "1",
            "--ays-sweeps-fine", "1", "--amed-train", "4", "--amed-epochs", "1", "--batch", "16",
            "--n-boot", "20", "--features", str(tmp_path / "f")]
    _script("systems").main([*args, "--out", str(out)], extractor=_pooled)
    rows = {(r["system"], r["solver"], r["nfe"]): r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {("gits-dev", "ipndm", 5), ("polynomial", "ipndm", 5), ("oss", "ipndm", 5),
                         ("ays", "ipndm", 5), ("res_m", "res_m", 5), ("amed_plugin", "amed", 5),
                         ("amed_solver", "amed", 5), ("gits-dev", "dpmpp_2m", 10), ("ays", "dpmpp_2m", 10),
                         ("uniform", "dpmpp_2m", 10), ("polynomial", "dpmpp_2m", 10),
                         ("amed_plugin_r_half", "amed", 5)}
    assert rows["amed_plugin", "amed", 5]["afs"] and rows["amed_plugin", "amed", 5]["steps"] == 3
    assert set(rows["amed_solver", "amed", 5]["cost"]["held_out_loss"]) == {"initial", "trained", "r_half"}
    # every difference is paired: GITS - this from the same resampled index sets
    g, r = rows["gits-dev", "ipndm", 5], rows["res_m", "res_m", 5]
    d = r["gits_minus_this"]["fid_inception_diff"]
    assert d["value"] == pytest.approx(g["fid_inception"]["value"] - r["fid_inception"]["value"])
    assert d["lo"] <= d["value"] <= d["hi"]
    assert "ays_minus_this" in rows["uniform", "dpmpp_2m", 10]
    assert "fid_inception" not in rows["amed_plugin_r_half", "amed", 5]      # a diagnostic
    assert rows["ays", "ipndm", 5]["cost"]["nfe"] > 0 and rows["polynomial", "ipndm", 5]["cost"]["nfe"] == 0
    assert all(len(r["ode_errors"]) == 8 for r in rows.values())
    assert all(r["provenance"]["n"]["fid"] == 16 and r["fid_classifier"]["n"] == 16
               and r["provenance"]["model_sha256"] for r in rows.values())
    for r in rows.values():
        results.validate(r)           # the one results schema
    # one feature chunk per scored set (the diagnostic has none) and two of the reference
    assert len(list((tmp_path / "f").glob("*.npy"))) == 2 + len(rows) - 1


def test_systems_rejects_bad_sizes():
    with pytest.raises(SystemExit):
        _script("systems").main(["--n", "8"])
