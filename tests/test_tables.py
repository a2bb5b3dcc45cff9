import math
import re

import numpy as np
import pandas as pd
import pytest

from trajreg import tables
from trajreg.stats import Estimate


def plain(out: str) -> str:
    """HTML table text without the spans that keep an interval on one line."""
    return re.sub(r"</?span[^>]*>", "", out)

# ---- fmt: one formatter for every number on the site ----------------------------------------------

@pytest.mark.parametrize("x, text", [
    (10000, "10,000"), (np.int64(64), "64"), (10000.0, "10,000"), (17610.0, "17,610"),
    (1.0, "1.00"), (0.5, "0.500"), (13.594, "13.6"), (0.000123456, "0.000123"), (999.6, "1,000"),
    (123456.0, "123,456"), (-0.0401, "-0.0401"), (0, "0"), (0.0, "0"), (-1e-20 * 0, "0"),
    (6.91e-06, "6.91 × 10⁻⁶"), (3.47e-18, "3.47 × 10⁻¹⁸"), (2.5e12, "2.50 × 10¹²"),
    (math.inf, "∞"), (-math.inf, "-∞"), (None, "–"), (math.nan, "–"), (np.float32("nan"), "–"),
    ("text", "text"),
])
def test_fmt_writes_numbers_out(x, text):
    assert tables.fmt(x) == text


def test_fmt_never_writes_an_e_exponent():
    for x in np.logspace(-30, 30, 241):
        for v in (x, -x, float(np.float32(x))):
            assert "e" not in tables.fmt(v), v


def test_fmt_digits_and_bad_input():
    assert tables.fmt(3.14159, 2) == "3.1" and tables.fmt(3.14159, 5) == "3.1416"
    for bad in (0, -1, 1.5, "3", True):
        with pytest.raises(ValueError, match="digits"):
            tables.fmt(1.0, bad)
    assert tables.fmt(True) == "yes" and tables.fmt(np.bool_(False)) == "no"
    with pytest.raises(TypeError, match="list"):
        tables.fmt([1.0])


@pytest.mark.parametrize("est, text", [
    (Estimate(0.15, 0.14, 0.161, 64), "0.150 [0.140, 0.161]"),
    (Estimate(63.9, 62.0, 66.1, 10000), "63.9 [62.0, 66.1]"),
    (Estimate(0.0, 3.47e-18, 0.0566, 64), "0 [0, 0.0566]"),                  # numerically zero
    (Estimate(0.0165, -2.71e-05, 0.0393, 64), "0.0165 [-2.71 × 10⁻⁵, 0.0393]"),   # small, not zero
    (Estimate(6.91e-06, 3.95e-06, 1.83e-05, 50), "6.9 [4.0, 18.3] × 10⁻⁶"),     # one shared power
    (Estimate(2250.0, 2230.0, 2280.0, 9), "2,250 [2,230, 2,280]"),
    (Estimate(0.99996, 0.99991, 0.99999, 5), "0.99996 [0.99991, 0.99999]"),     # not "1 [1, 1]"
    (Estimate.exact(1.0), "1.00 [1.00, 1.00]"),
    (Estimate.exact(0.0), "0 [0, 0]"),
    (Estimate(-0.5, -1.2, 0.3, 4), "-0.50 [-1.20, 0.30]"),
])
def test_fmt_interval_shares_decimal_places(est, text):
    assert tables.fmt_interval(est) == text and tables.fmt(est) == text
    assert est.fmt() == text                    # Estimate.fmt goes through the same formatter


def test_fmt_interval_sample_size_and_bad_input():
    assert tables.fmt_interval(Estimate(63.9, 62.0, 66.1, 10000), n=True) == "63.9 [62.0, 66.1] (n = 10,000)"
    with pytest.raises(TypeError, match="Estimate"):
        tables.fmt_interval((1.0, 0.5, 2.0))
    with pytest.raises(ValueError, match="digits"):
        tables.fmt_interval(Estimate.exact(1.0), 0)


# ---- bold only where an interval separates the best ---------------------------------------------

def test_separated_best_needs_disjoint_intervals():
    a, b, c = Estimate(1.0, 0.9, 1.1, 8), Estimate(2.0, 1.8, 2.2, 8), Estimate(1.2, 1.05, 1.3, 8)
    assert tables.separated_best([a, b]) == [True, False]
    assert tables.separated_best([a, b], "max") == [False, True]
    assert tables.separated_best([a, b, c]) == [False, False, False]     # a's interval overlaps c's
    assert tables.separated_best([b, None, a, math.nan]) == [False, False, True, False]


def test_separated_best_never_bolds_single_numbers():
    assert tables.separated_best([3.0, 2.0, 8.0]) == [False, False, False]     # no intervals
    assert tables.separated_best([Estimate(1.0, 0.9, 1.1, 8), 5.0]) == [False, False]
    assert tables.separated_best([Estimate(1.0, 0.9, 1.1, 8)]) == [False]
    with pytest.raises(ValueError, match="best"):
        tables.separated_best([1.0], "lowest")


# ---- tables ---------------------------------------------------------------------------------------

def test_cell_formats_estimates_numbers_and_gaps():
    assert tables.cell(Estimate(0.15, 0.14, 0.161, 64)) == "0.150 [0.140, 0.161]"
    assert tables.cell(13.594) == "13.6" and tables.cell(10000.0) == "10,000"
    assert tables.cell(3.14159, ".1f") == "3.1" and tables.cell(1.761e4, ".4g") == "17,610"
    assert tables.cell(None) == "–" and tables.cell(math.nan) == "–"
    assert tables.cell(pd.NA) == "<NA>" and tables.cell(("a", 1)) == "('a', 1)"   # not numbers: as str


def test_html_bolds_the_best_entry_only_where_intervals_separate_it():
    df = pd.DataFrame({"5": [3.0, 2.0],
                       "6": [Estimate(1.0, 0.9, 1.1, 8), Estimate(4.0, 3, 5, 8)],
                       "8": [Estimate(1.0, 0.9, 1.1, 8), Estimate(1.05, 1.0, 1.2, 8)]}, index=["a", "b"])
    out = plain(tables.html(df, best="min").data)
    assert "<b>1.00 [0.90, 1.10]</b>" in out and out.count("<b>") == 1
    assert "<b>2.00</b>" not in out               # single numbers: no interval, no bold
    assert "<b>" not in tables.html(df).data
    assert 'class="trajreg-table"' in out


def test_side_by_side_pairs_columns_and_keeps_missing_rows():
    ours = pd.DataFrame({5: [Estimate(10.0, 9.0, 11.0, 64), Estimate(8.0, 7.0, 8.5, 64)]},
                        index=["iPNDM", "iPNDM + GITS"])
    paper = pd.DataFrame({5: [13.59, 8.38], 6: [7.05, 4.88]}, index=["iPNDM", "iPNDM + GITS"])
    out = plain(tables.side_by_side(ours, paper, best="min").data)
    assert "<b>8.00 [7.00, 8.50]</b>" in out and out.count("<b>") == 1   # the paper's numbers: no intervals
    assert "–" in out      # our NFE-6 column is empty


def test_bad_best_is_refused_by_name():
    with pytest.raises(ValueError, match="best"):
        tables.html(pd.DataFrame({"a": [1.0]}), best="lowest")


def test_significant_writes_digits_out_and_refuses_bad_digits():
    assert tables.significant(0.000123456) == "0.000123" and tables.significant(123456.0) == "123,456"
    assert tables.significant(1.0) == "1.00" and tables.significant(0) == "0"
    assert tables.significant(Estimate(1.234, 1.1, 1.41, 5), 2) == "1.2 [1.1, 1.4]"
    assert tables.significant(3.14159, ".1f") == "3.1" and tables.significant(float("nan")) == "–"
    assert tables.p_value(1e-5) == "&lt; 0.001" and tables.p_value(0.0123) == "0.012"
    with pytest.raises(ValueError, match="digits"):
        tables.significant(1.5, 0)


def test_records_bolds_the_separated_lowest_entry_within_each_group():
    def e(v):
        return Estimate(v, v - 0.02, v + 0.02, 64)
    rows = [{"NFE": 5, "n": 10000.0, "schedule": s, "error": e(x), "_hidden": 1}
            for s, x in (("a", 0.3), ("b", 0.2))] + \
           [{"NFE": 6, "n": 10000.0, "schedule": s, "error": e(x), "_hidden": 1}
            for s, x in (("a", 0.1), ("b", 0.11))]
    html = plain(tables.records(rows, ["NFE", "n", "schedule"], lowest=("error",), within=("NFE",)).data)
    assert html.count("<b>") == 1 and "<b>0.200 [0.180, 0.220]</b>" in html   # NFE 6: overlapping
    assert "_hidden" not in html and "10,000" in html and "1e+04" not in html
    with pytest.raises(ValueError, match="unknown"):
        tables.records(rows, ["NFE"], lowest=("nope",))


def test_html_keeps_an_interval_on_one_line():
    out = tables.html(pd.DataFrame({"FID": [Estimate(63.9, 62.0, 66.1, 10)]})).data
    assert '63.9 <span class="trajreg-iv">[62.0, 66.1]</span>' in out
    assert '<div class="table-wrap">' in out
