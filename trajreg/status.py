"""The reproduction status page and the landing page's results box, from the roll-up of every
page's rows (:mod:`trajreg.verdicts`: one verdict per claim, decided by its primary row).

``python -m trajreg.status book/status.md [--intro book/intro.md] [--fid book/fid.md]`` writes the
status page, the results box of the landing page (between its ``results-box`` markers) and the
FID anchor's box of book/fid.md (``anchor-box`` markers).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from trajreg import paper as _paper
from trajreg import report as _report
from trajreg import tables as _tables
from trajreg.stats import Estimate
from trajreg.verdicts import Result, disagrees, rollup

__all__ = ["Result", "rollup", "rows_from_notebooks", "status_page", "results_box", "headline", "main"]

COLOURS = {"reproduces": "#1a7f37", "stronger than the paper": "#1a7f37", "weaker than the paper": "#9a6700",
           "does not reproduce": "#cf222e", "inconclusive": "#57606a", "not run here": "#57606a",
           "illustration": "#57606a", "holds": "#0550ae", "does not hold": "#0550ae"}
BOX_START, BOX_END = "<!-- results-box:start -->", "<!-- results-box:end -->"
ANCHOR_START, ANCHOR_END = "<!-- anchor-box:start -->", "<!-- anchor-box:end -->"


def rows_from_notebooks(root: str | Path = ".") -> list[dict]:
    """Every verdict row glued by the executed notebooks of the table of contents."""
    root = Path(root)
    return [r for page in _report.toc_pages(root / "_toc.yml")
            for r in _report.read_verdicts(root / f"{page}.ipynb")]


# ---------------------------------------------------------------------------------------------
# Rendering


def _est(row: dict) -> str:
    if row.get("value") is None:
        return "-"
    return _tables.fmt_interval(Estimate(row["value"], row["lo"], row["hi"], row["n"] or 0))


def _metric(row: dict) -> str:
    return row.get("metric") or "-"


def _where(row: dict) -> str:
    bits = [_metric(row) if row.get("metric") else "", row.get("budget", ""), row["tier"] + " tier",
            "" if row.get("n") is None else f"n = {row['n']:,}"]
    return ", ".join(b for b in bits if b)


def _badge(word: str, mixed: bool = False) -> str:
    style = f"color:{COLOURS[word]};font-weight:bold"
    extra = ' <span class="trajreg-mixed">mixed</span>' if mixed else ""
    return f'<span style="{style}">{html.escape(word)}</span>{extra}'


def _name(c: _paper.Claim) -> str:
    return c.name or c.statement.split(":")[0].split(" (")[0]


def _page_link(c: _paper.Claim, prefix: str = "../notebooks/") -> str:
    if not c.page:
        return ""
    return f'<a href="{prefix}{c.page}.html">page</a>'


def _claims_table(results: list[Result], prefix: str = "../notebooks/") -> list[str]:
    """An HTML table (class trajreg-claims): one row per claim, its deciding row visible."""
    head = ("verdict", "claim", "deciding measurement", "ours", "paper", "")
    out = ['<table class="trajreg-claims"><thead><tr>'
           + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for res in results:
        c, d = res.claim, res.deciding
        why = f"<br><small>{html.escape(res.reason)}</small>" if res.reason else ""
        cells = (_badge(res.verdict, res.mixed) + why,
                 f"<b>{html.escape(_name(c))}</b><br><small><code>{c.id}</code>; {html.escape(c.source)}; "
                 f"test: {html.escape(c.rule.describe())}</small>",
                 html.escape(_where(d)) if d else "-",
                 html.escape(_est(d)) if d else "-",
                 html.escape(c.paper_text()), _page_link(c, prefix))
        out.append("<tr>" + "".join(f'<td data-label="{h or "page"}">{x}</td>' for h, x in zip(head, cells,
                                                                                             strict=True))
                   + "</tr>")
    return out + ["</tbody></table>"]


def _counts(results: list[Result]) -> str:
    counts = {w: sum(r.verdict == w for r in results) for w in _paper.VERDICTS}
    return ", ".join(f"{n} {w}" for w, n in counts.items() if n)


def _multiplicity(results: list[Result]) -> list[str]:
    decided = [r for r in results if r.deciding and r.verdict not in ("illustration", "not run here")
               and r.deciding.get("value") is not None]
    near = []
    for r in decided:
        rule, d = r.claim.rule, r.deciding
        t = getattr(rule, "threshold", None)
        if t is None or d["value"] == t:
            continue
        edge = d["hi"] if d["value"] < t else d["lo"]
        if abs(edge - t) < 0.1 * abs(d["value"] - t):
            near.append(r.claim.id)
    expected = 0.05 * len(decided)
    return ["", "## How many of these verdicts could be wrong", "",
            f"{len(decided)} claims are decided on a 95 % interval. If every interval had exactly 95 % "
            f"coverage and the intervals were independent, about {expected:.0f} of them would miss the "
            "true value; a miss turns a verdict into its neighbour (reproduces into inconclusive, or "
            "inconclusive into either side) far more often than into its opposite. No correction for "
            "multiplicity is applied. Decided claims whose interval ends within 10 % of the estimate's "
            "distance from the threshold (the most fragile): "
            + (", ".join(f"`{x}`" for x in near) if near else "none") + "."]


def status_page(root: str | Path = ".") -> str:
    """Markdown of the status page: paper claims by claim, mixed claims with reasons, companion
    questions apart, every row folded below."""
    results = rollup(rows_from_notebooks(root))
    paper = [r for r in results if not r.claim.ours]
    ours = [r for r in results if r.claim.ours]
    mixed = [r for r in paper if r.mixed]
    lines = [
        "# Reproduction status", "",
        "One verdict per claim of the paper, decided by its **primary measurement** (declared in",
        f"`trajreg.paper` before the run, {_paper.PRIMARY_DECLARED}; for FID claims the paper's metric,",
        "Inception FID at 10,000 samples, in the authors' configuration, and only where that metric",
        "passes its anchor: no few-step sampler may score better than the converged ODE solution).",
        "Other measurements are secondary evidence; a claim whose secondary evidence disagrees is",
        "marked *mixed* with the reason. Verdict words: *reproduces*; *stronger than the paper* (holds,",
        "with a larger effect, e.g. more regular); *weaker than the paper* (the direction holds, the",
        "effect is smaller); *does not reproduce*; *inconclusive* (the interval spans the decision, or",
        "the metric is not anchored); *not run here* (with what it needs); *illustration* (shown, not",
        "tested). This companion's own questions answer *holds* / *does not hold*. Tiers say how a",
        "number was made: *fast* (re-executed by CI), *large* (a committed script, stored under",
        "`results/` with its provenance; its n is on every row), *partial* (such a run short of the",
        "sample count its script was asked for). A paper number marked *authors' code output* comes",
        "from the authors' code",
        "([zju-pi/diff-sampler](https://github.com/zju-pi/diff-sampler)) rather than the paper's text.",
        "Generated by `python -m trajreg.status book/status.md`.", "",
        f"## The paper's claims: {len(paper)}", "",
        f"**{_counts(paper)}**" + (f"; {len(mixed)} of them mixed." if mixed else "."), "",
    ]
    decided = [r for r in paper if r.verdict not in ("not run here", "illustration")]
    order = {w: i for i, w in enumerate(_paper.VERDICTS)}
    lines += _claims_table(sorted(decided, key=lambda r: order[r.verdict]))
    for word, title in (("not run here", "Not run here, each with what it needs"),
                        ("illustration", "Illustrations: shown on their pages, not tested")):
        group = [r for r in paper if r.verdict == word]
        if group:
            lines += ["", f"```{{dropdown}} {title}: {len(group)} claims", ""]
            lines += _claims_table(group) + ["```"]
    if mixed:
        lines += ["", "## Where the measurements disagree", ""]
        for r in mixed:
            other = "; ".join(f"{_metric(s)} {s.get('budget', '')} ({s['tier']}): {s['verdict']}, {_est(s)}"
                              for s in r.secondary if disagrees(s, r.verdict))
            lines.append(f"- **{_name(r.claim)}** (`{r.claim.id}`): primary {r.verdict} "
                         f"({_where(r.deciding)}: {_est(r.deciding)}); disagreeing: {other}. "
                         f"Why: {r.reason}.")
    lines += ["", f"## This companion's questions: {len(ours)}", "",
              f"Questions beyond the paper, with rules fixed before their runs: **{_counts(ours)}**.", "",
              "```{dropdown} The companion's questions, one row each", ""]
    lines += _claims_table(ours) + ["```"]
    lines += _multiplicity(paper)
    lines += ["", "## How the primaries were chosen, and when", "",
              "The history of this companion shows its forking paths, and a reader should weigh the",
              "verdicts with them. The authors' dev cost became this companion's default GITS cost, and",
              "the Inception FID a deciding metric beside our classifier FID, *after* the classifier",
              "FID had shown GITS losing at NFE 8-10 on the same seeds; the class-mix predictions of",
              "the *Why GITS* page (H5) were registered after that disagreement was known. What keeps",
              "this from being a search for a favourable answer: both are what the paper itself used",
              "(its tables come from the authors' code with the dev cost, and report Inception FID),",
              f"the primaries were declared in one commit ({_paper.PRIMARY_DECLARED}) before the FID",
              "anchor that decides whether the Inception FID may decide at all had been measured, and",
              "every secondary measurement stays on this page and marks its claim *mixed* where it",
              "disagrees. The rules revised in the same commit (one-sided where the paper's claim is",
              "one-sided; share-based for Fig. 10; test-image distances for Fig. 11) say so in their",
              "statements."]
    lines += ["", "## Every row", "",
              "```{dropdown} All measurements: deciding, secondary and superseded rows", "",
              "| claim | role | verdict | measurement | model | ours | note |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        for role, rows in (("deciding", [r.deciding] if r.deciding else []), ("secondary", r.secondary),
                           ("superseded", r.superseded)):
            for x in rows:
                cells = (f"`{r.claim.id}`", role, x["verdict"], _where(x), x["model"], _est(x),
                         x.get("note", ""))
                lines.append("| " + " | ".join(_cell(v) for v in cells) + " |")
    lines += ["```"]
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def headline(results: list[Result]) -> str:
    """The GITS headline in one sentence, from the roll-up of Table 1 (primary and secondary)."""
    fid = {n: next((r for r in results if r.claim.id == f"tab01.ipndm_gits_fid.nfe{n}"), None)
           for n in _paper.NFES}
    lower = [n for n, r in fid.items() if r and r.deciding and r.deciding["hi"] < 0]
    won = [n for n, r in fid.items() if r and r.verdict in _paper.POSITIVE]
    failed = [n for n, r in fid.items() if r and "fails the anchor" in r.reason]
    unanchored = [n for n, r in fid.items() if r and "not anchored yet" in r.reason]
    lost_clf = [n for n, r in fid.items() if r and any(
        s.get("metric") == "classifier FID" and s["verdict"] in _paper.NEGATIVE for s in r.secondary)]

    def nfes(ns: list[int]) -> str:
        return ", ".join(map(str, ns)) if ns else "no budget"

    if won:
        s = (f"Under the paper's metric (Inception FID, 10,000 samples), GITS lowers iPNDM's FID on our "
             f"model at NFE {nfes(won)}")
    else:
        s = (f"The paper's metric (Inception FID, 10,000 samples) is lower with GITS on our model at NFE "
             f"{nfes(lower)}, but it decides no budget yet")
    if failed:
        s += (f"; at NFE {nfes(failed)} the same metric scores a few-step sampler better than the "
              "converged ODE solution, so there it is no test of solving")
    if unanchored:
        s += (f"; at NFE {nfes(unanchored)} it is not yet anchored (the converged ODE solution's FID, "
              "which a few-step schedule must not beat, is not measured at full size)")
    if lost_clf:
        s += (f"; our Fashion-MNIST classifier's FID disagrees at NFE {nfes(lost_clf)}, where GITS "
              "also ends farther from the exact ODE solution")
    return s + "."


def _page_title(root: Path, page: str) -> str:
    return _report.page_title(root / "notebooks" / f"{page}.ipynb")


def results_box(root: str | Path = ".", prefix: str = "../notebooks/") -> str:  # from book/
    """The landing page's results: the headline, then one line per page of the paper's claims."""
    root = Path(root)
    results = [r for r in rollup(rows_from_notebooks(root)) if not r.claim.ours]
    lines = [BOX_START, "", "```{admonition} Results at a glance", ":class: tip", "",
             headline(results), "",
             "(A paper number marked *authors' code output* comes from the authors' code, "
             "[zju-pi/diff-sampler](https://github.com/zju-pi/diff-sampler).)", "",
             "| page | verdicts of the paper's claims (by claim) | deciding example |",
             "|---|---|---|"]
    pages = list(dict.fromkeys(r.claim.page for r in results if r.claim.page))
    for page in pages:
        rs = [r for r in results if r.claim.page == page]
        tested = [r for r in rs if r.verdict not in ("illustration",)]
        if not tested:
            continue
        ex = next((r for r in tested if r.deciding and r.deciding.get("value") is not None), None)
        example = (f"{_name(ex.claim)}: {ex.verdict}, ours {_est(ex.deciding)} vs paper "
                   f"{ex.claim.paper_text()}" if ex else "-")
        lines.append(f"| [{_page_title(root, page)}]({prefix}{page}.ipynb) | "
                     f"{_counts(tested)} | {example.replace('|', chr(92) + '|')} |")
    n_nr = sum(r.verdict == "not run here" and not r.claim.page for r in results)
    lines += ["", f"{n_nr} claims need the official models or a GPU (not run here); the "
              "[status page](status.md) lists each with what it needs.", "```", "", BOX_END]
    return "\n".join(lines)


def anchor_box(root: str | Path = ".") -> str:
    """The FID anchor for book/fid.md: the converged solution's FIDs from results/cpu/fid_anchor.jsonl
    and each gate's verdict as the Table 1 page decided it."""
    from trajreg import results as _results

    root = Path(root)
    rows = _results.read(root / "results" / "cpu" / "fid_anchor.jsonl")
    lines = [ANCHOR_START, ""]
    if not rows:
        lines += ["The anchor has not been run yet: `python benchmarks/fid_anchor.py --n 10000`.", "",
                  ANCHOR_END]
        return "\n".join(lines)
    a, prov = rows[0], rows[0]["provenance"]
    size = f"{prov['n']:,} samples"
    if a.get("inception_fid_extrapolated_to_n"):
        size += ", carried to 10,000 by the 1/n fit"
    verdicts = {r.claim.id: r.verdict for r in rollup(rows_from_notebooks(root))
                if r.claim.id.startswith("anchor.")}
    conv = a["convergence"]
    lines += [f"Measured (stored results, commit {prov['commit'][:10]}, {prov['hardware']}): the converged "
              f"solution (iPNDM, {a['steps']} steps) scores an Inception FID of "
              f"{_tables.fmt_interval(a['inception_fid'])} ({size}) and a classifier FID of "
              f"{_tables.fmt_interval(a['classifier_fid'])}; its distance to a {conv['fine_steps']}-step "
              f"solution is {_tables.fmt(conv['converged'].value)} per pixel.", "",
              "| gate | best few-step set | its FID − converged | verdict (*holds*: the metric tests "
              "solving here) |", "|---|---|---|---|"]
    for g in a["gate"]:
        verdict = verdicts.get(g["claim"], "not run here")
        lines.append(f"| `{g['claim']}` | {g['best_schedule']}, NFE {g['nfe']} | "
                     f"{_tables.fmt_interval(g['diff_vs_converged'])} | {verdict} |")
    lines += ["", ANCHOR_END]
    return "\n".join(lines)


def write_box(intro: Path, box: str, markers: tuple[str, str] = (BOX_START, BOX_END)) -> None:
    """Replace the text between the ``markers`` (default: the results box's) of ``intro``."""
    text = intro.read_text()
    start, end = markers
    if start not in text or end not in text:
        raise ValueError(f"{intro} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    intro.write_text(pattern.sub(lambda _: box, text))


def main(argv: list[str] | None = None) -> None:
    """``python -m trajreg.status OUT.md [--intro book/intro.md]``: write the status page (and the
    landing page's results box)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m trajreg.status", description=main.__doc__)
    p.add_argument("out", help="markdown file to write, e.g. book/status.md")
    p.add_argument("--root", default=".", help="repository root (holds _toc.yml, notebooks/)")
    p.add_argument("--intro", help="landing page whose results box to rewrite, e.g. book/intro.md")
    p.add_argument("--fid", help="page whose anchor box to rewrite, e.g. book/fid.md")
    a = p.parse_args(argv)
    Path(a.out).write_text(status_page(a.root))
    if a.intro:
        write_box(Path(a.intro), results_box(a.root))
    if a.fid:
        write_box(Path(a.fid), anchor_box(a.root), (ANCHOR_START, ANCHOR_END))
    print(json.dumps({"wrote": [a.out] + [x for x in (a.intro, a.fid) if x]}))


if __name__ == "__main__":
    main()
