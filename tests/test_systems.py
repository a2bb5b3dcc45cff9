"""trajreg.systems: the stored rows of benchmarks/systems.py as tables, verdicts and gaps."""

from __future__ import annotations

import numpy as np
import pytest

from trajreg import paper, systems
from trajreg.stats import Estimate


def _row(system, solver, nfe, fid_inc=None, diff=None, errors=None, cost=None):
    r = {"system": system, "solver": solver, "nfe": nfe,
         "fid_classifier": Estimate(10.0 + nfe, 9.0 + nfe, 11.0 + nfe, 500),
         "ode_error": {"mean": Estimate(0.1, 0.09, 0.11, 200)},
         "ode_errors": list(errors if errors is not None else np.full(64, 0.1)),
         "cost": cost or {"nfe": 0, "seconds": 0.0}}
    if fid_inc is not None:
        r["fid_inception"] = Estimate(fid_inc, fid_inc - 1, fid_inc + 1, 500)
    if diff is not None:
        half = Estimate(diff.value / 2, diff.lo / 2, diff.hi / 2, 500)
        r["gits_minus_this"] = {"fid_inception_diff": diff, "fid_classifier_diff": half}
    return r


def test_fid_table_has_one_row_per_system_and_marks_missing_cells():
    rows = [_row("gits-dev", "ipndm", 5, 30.0), _row("gits-dev", "ipndm", 10, 20.0),
            _row("amed_plugin_r_half", "amed", 5), _row("ays", "dpmpp_2m", 10, 25.0)]
    t = systems.fid_table(rows)
    assert list(t.columns) == ["NFE 5", "NFE 10"]
    assert t.loc["iPNDM + GITS", "NFE 5"].value == 30.0
    assert t.loc["AMED-Plugin at r = 1/2 (diagnostic)", "NFE 5"] == "-"
    assert t.loc["DPM-Solver++(2M) + AYS", "NFE 5"] == "-"
    assert systems.fid_table(rows, "fid_classifier").loc["iPNDM + GITS", "NFE 10"].value == 20.0
    with pytest.raises(ValueError, match="metric must be one of"):
        systems.fid_table(rows, "fid")


def test_verdicts_decide_each_claim_in_its_own_direction():
    # the paper prints AMED-Plugin below GITS at NFE 10 on CIFAR-10 (2.48 vs 2.49): that claim is
    # "AMED-Plugin - GITS below 0", so the stored GITS - AMED-Plugin difference is negated
    assert "than iPNDM + GITS" in paper.claim("sys.amed_plugin.nfe10").statement
    assert "GITS gives a lower FID than" in paper.claim("sys.amed_plugin.nfe6").statement
    diff = Estimate(-5.0, -7.0, -3.0, 500)
    rows = [_row("amed_plugin", "amed", 10, 40.0, diff), _row("amed_plugin", "amed", 6, 40.0, diff)]
    calls = []
    n = systems.verdicts(rows, lambda cid, est, **kw: calls.append((cid, est, kw)), "ours")
    assert n == 4
    got = {(c, kw["metric"]): e for c, e, kw in calls}
    assert got["sys.amed_plugin.nfe6", "Inception FID"].value == -5.0
    e10 = got["sys.amed_plugin.nfe10", "Inception FID"]
    assert (e10.value, e10.lo, e10.hi) == (5.0, 3.0, 7.0)
    assert got["sys.amed_plugin.nfe10", "classifier FID"].value == 2.5
    assert all(kw["tier"] == "large" and kw["budget"].startswith("NFE") for _, _, kw in calls)
    # the Inception row is the one each claim declares primary
    assert all(paper.claim(c).primary.metric == "Inception FID" for c, _, _ in calls)


def test_verdicts_of_the_ays_comparison_read_its_two_fields():
    u = _row("uniform", "dpmpp_2m", 10, 30.0, Estimate(-4.0, -6.0, -2.0, 500))
    u["ays_minus_this"] = {"fid_inception_diff": Estimate(-1.0, -2.0, 0.5, 500)}
    calls = []
    systems.verdicts([u], lambda cid, est, **kw: calls.append((cid, est.value, kw["metric"])), "ours")
    assert ("sys.ays.gits_vs_uniform.k10", -4.0, "Inception FID") in calls
    assert ("sys.ays.ays_vs_uniform.k10", -1.0, "Inception FID") in calls


def test_optimality_gap_is_the_paired_ratio_of_mean_errors():
    rng = np.random.default_rng(0)
    opt = rng.uniform(0.05, 0.15, 64)
    beyond = [{"method": "exhaustive", "solver": "ipndm", "K": 6, "errors": list(opt)},
              {"method": "exhaustive", "solver": "euler", "K": 6, "errors": list(opt * 9)}]
    worse = opt * 1.5 + rng.normal(0, 0.001, 64)
    rows = [_row("ays", "ipndm", 6, errors=list(worse) + [9.0] * 100),       # only the first 64 count
            _row("res_m", "res_m", 6, errors=list(opt)),
            _row("oss", "ipndm", 8, errors=list(opt)),                          # no optimum at K 8
            _row("gits-dev", "dpmpp_2m", 6, errors=list(opt))]                  # another solver's row
    t = systems.optimality_gap(rows, beyond)
    assert list(t.index) == ["iPNDM + AYS", "RES(M), polynomial"] and list(t.columns) == ["NFE 6"]
    g = t.loc["iPNDM + AYS", "NFE 6"]
    assert g.value == pytest.approx(worse.mean() / opt.mean()) and g.lo < g.value < g.hi
    assert g.lo > 1.4 and g.hi < 1.6 and g.n == 64
    assert t.loc["RES(M), polynomial", "NFE 6"].value == pytest.approx(1.0)
    named = systems.gap_numbers(rows, beyond)
    assert named == {"beyond_sys_ays_6": pytest.approx(g.value), "beyond_sys_res_m_6": pytest.approx(1.0)}


def test_costs_count_amed_per_budget_and_searches_once():
    rows = [_row("gits-dev", "ipndm", k, cost={"nfe": 15360, "seconds": 60.0}) for k in (5, 6)]
    rows += [_row("amed_solver", "amed", k, cost={"nfe": 1000 * k, "seconds": float(k)}) for k in (5, 6)]
    rows += [_row("polynomial", "ipndm", 5)]
    c = systems.costs(rows)
    assert c.loc[("iPNDM + GITS", "all"), "model evaluations"] == 15360
    assert c.loc[("AMED-Solver", 6), "model evaluations"] == 6000
    assert "iPNDM, polynomial" not in c.index.get_level_values(0)


def test_headline_numbers_name_each_paired_difference():
    u = _row("uniform", "dpmpp_2m", 10, 30.0, Estimate(-4.0, -6.0, -2.0, 500))
    u["ays_minus_this"] = {"fid_inception_diff": Estimate(-1.0, -2.0, 0.5, 500)}
    rows = [_row("res_m", "res_m", 5, 40.0, Estimate(3.0, 1.0, 5.0, 500)), u,
            _row("gits-dev", "ipndm", 5, 30.0)]
    got = systems.headline_numbers(rows)
    assert got["t1_sys_res_m_5"] == Estimate(3.0, 1.0, 5.0, 500).fmt()
    assert got["t1_sys_dpmpp_uniform"] == Estimate(-4.0, -6.0, -2.0, 500).fmt()
    assert got["t1_sys_dpmpp_ays_uniform"] == Estimate(-1.0, -2.0, 0.5, 500).fmt()
    assert got["t1_sys_ode_gits_dev_5"] == "0.1" and "t1_sys_gits_dev_5" not in got
