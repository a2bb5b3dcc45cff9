import math

import pandas as pd
import pytest

from trajreg import tables
from trajreg.stats import Estimate


def test_cell_formats_estimates_numbers_and_gaps():
    assert tables.cell(Estimate(0.15, 0.14, 0.161, 64)) == "0.15 [0.14, 0.161]"
    assert tables.cell(13.594) == "13.6"
    assert tables.cell(None) == "–"
    assert tables.cell(math.nan) == "–"


def test_html_bolds_the_best_entry_of_each_column():
    df = pd.DataFrame({"5": [3.0, 2.0], "6": [Estimate(1.0, 0.9, 1.1, 8), Estimate(4.0, 3, 5, 8)]},
                      index=["a", "b"])
    out = tables.html(df, best="min").data
    assert "<b>2</b>" in out and "<b>1 [0.9, 1.1]</b>" in out
    assert "<b>3</b>" not in out and "<b>4 [3, 5]</b>" not in out
    assert "<b>" not in tables.html(df).data


def test_side_by_side_pairs_columns_and_keeps_missing_rows():
    ours = pd.DataFrame({5: [10.0, 8.0]}, index=["iPNDM", "iPNDM + GITS"])
    paper = pd.DataFrame({5: [13.59, 8.38], 6: [7.05, 4.88]}, index=["iPNDM", "iPNDM + GITS"])
    out = tables.side_by_side(ours, paper, best="min").data
    assert "<b>8</b>" in out and "<b>8.38</b>" in out and "<b>4.88</b>" in out
    assert "–" in out      # our NFE-6 column is empty


def test_bad_best_is_refused_by_name():
    with pytest.raises(ValueError, match="best"):
        tables.html(pd.DataFrame({"a": [1.0]}), best="lowest")


def test_significant_writes_digits_out_and_refuses_bad_digits():
    assert tables.significant(0.000123456) == "0.000123" and tables.significant(123456.0) == "123000"
    assert tables.significant(1.0) == "1.00" and tables.significant(0) == "0"
    assert tables.significant(Estimate(1.234, 1.1, 1.41, 5), 2) == "1.2 [1.1, 1.4]"
    assert tables.significant(3.14159, ".1f") == "3.1" and tables.significant(float("nan")) == "–"
    assert tables.p_value(1e-5) == "&lt; 0.001" and tables.p_value(0.0123) == "0.012"
    with pytest.raises(ValueError, match="digits"):
        tables.significant(1.5, 0)


def test_records_bolds_the_lowest_entry_within_each_group():
    rows = [{"NFE": 5, "schedule": s, "error": e, "_hidden": 1}
            for s, e in (("a", 0.3), ("b", 0.2))] + \
           [{"NFE": 6, "schedule": s, "error": e, "_hidden": 1} for s, e in (("a", 0.1), ("b", 0.4))]
    html = tables.records(rows, ["NFE", "schedule"], lowest=("error",), within=("NFE",)).data
    assert html.count("<b>") == 2 and "<b>0.200</b>" in html and "<b>0.100</b>" in html
    assert "_hidden" not in html and "0.400" in html
    with pytest.raises(ValueError, match="unknown"):
        tables.records(rows, ["NFE"], lowest=("nope",))
