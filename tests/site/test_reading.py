"""Pages a reader can read (issue 26): numbers written out, tables whose columns all show, long pages
folded with the answer first, no result from a dirty tree, every method named in the bibliography,
a glossary, and a search that ranks prose above code.

The text checks read the HTML files (no browser); the layout checks open pages in headless Chromium
at 1280 x 900 (a laptop) and 390 x 844 (a phone).
"""

from __future__ import annotations

import functools
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from site_toc import ROOT, toc_files

# ---- page text, as a reader sees it ----------------------------------------------------------------

SKIP_TAGS = {"script", "style", "pre", "code", "kbd", "samp"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Not reading text: a code cell's source, a signature on an API page, the navigation around the page.
SKIP_CLASSES = {"cell_input", "sig", "bd-sidebar-primary", "bd-sidebar-secondary", "bd-header-article"}


class ReaderText(HTMLParser):
    """The text of a page's <main> as read: no scripts, styles, code, code cells or signatures."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.shown: list[str] = []        # everything shown, <pre> blocks (printed outputs) included
        self.links: list[str] = []
        self._stack: list[bool] = []      # per open element: is it (or an ancestor) skipped?
        self._hidden: list[bool] = []     # ... is it left out even of what is shown (scripts, code cells)?
        self._main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        self.parts.append(" ")      # elements separate words: <td>1</td><td>2</td> is not "12"
        self.shown.append(" ")
        if tag in VOID:
            return
        classes = set((a.get("class") or "").split())
        parent = self._stack[-1] if self._stack else False
        self._stack.append(parent or tag in SKIP_TAGS or bool(classes & SKIP_CLASSES))
        hidden = self._hidden[-1] if self._hidden else False
        self._hidden.append(hidden or tag in {"script", "style"} or bool(classes & SKIP_CLASSES))
        self._main += tag == "main"

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self._stack:
            return
        self._stack.pop()
        self._hidden.pop()
        self._main -= tag == "main"

    def handle_data(self, data: str) -> None:
        if self._main > 0 and not (self._stack and self._stack[-1]):
            self.parts.append(data)
        if self._main > 0 and not (self._hidden and self._hidden[-1]):
            self.shown.append(data)

    @property
    def text(self) -> str:
        """The reading text: prose, tables, captions (no code, no printed output)."""
        return re.sub(r"\s+", " ", "".join(self.parts))

    @property
    def shown_text(self) -> str:
        """Everything a reader can see, printed outputs (<pre>) included."""
        return re.sub(r"\s+", " ", "".join(self.shown))


def reader_text(path: Path) -> ReaderText:
    parser = ReaderText()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@functools.lru_cache(maxsize=2)
def _pages(site: Path) -> tuple[tuple[str, ReaderText], ...]:
    return tuple((doc, reader_text(site / f"{doc}.html")) for doc in toc_files())


def pages(site: Path) -> dict[str, ReaderText]:
    """Every page of the table of contents, read (once per site)."""
    return dict(_pages(site))


# A number in E notation (1e+04, 3.47e-18, 6.91E-06): the site writes decimals or "× 10⁻⁶" instead.
E_NOTATION = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?[eE][-+]?\d+\b")


def test_reader_text_leaves_out_code_and_keeps_prose() -> None:
    parser = ReaderText()
    parser.feed('<main><p>FID 12.3 at n = 10,000</p><pre>rtol=1e-9</pre><div class="cell_input">'
                '<div>x = 3e-18</div></div><code>1e+04</code><p>after</p></main><p>outside</p>')
    assert parser.text.split() == ["FID", "12.3", "at", "n", "=", "10,000", "after"]
    assert parser.shown_text.split() == ["FID", "12.3", "at", "n", "=", "10,000", "rtol=1e-9", "1e+04",
                                         "after"]
    assert E_NOTATION.findall("n = 1e+04, 0 [3.47e-18, 0.0566], 6.91E-06, v1.2e3x") == \
        ["1e+04", "3.47e-18", "6.91E-06"]


def test_no_number_in_e_notation(site: Path) -> None:
    """Counts, intervals and times are written out (10,000; 0 [0, 0.0566]; 1.4 × 10⁻⁵), never as
    1e+04, 3.47e-18 or 1.4e-05, in prose, tables, captions and verdict boxes."""
    found = {doc: sorted(set(E_NOTATION.findall(page.text))) for doc, page in pages(site).items()}
    found = {doc: hits for doc, hits in found.items() if hits}
    assert not found, f"numbers in E notation (use trajreg.tables.fmt): {found}"


# ---- provenance: no result from a dirty tree -----------------------------------------------------

def dirty_records() -> dict[str, set[str]]:
    """results/ file -> commits of its records made from a tree with uncommitted changes."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "results").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else record
            if prov.get("dirty") is True or prov.get("clean") is False or prov.get("clean_tree") is False:
                commit = str(prov.get("commit") or prov.get("git_commit") or "?")[:10]
                out.setdefault(path.relative_to(ROOT).as_posix(), set()).add(commit)
    return out


FLAG = "uncommitted changes"


def test_no_page_shows_a_result_from_a_dirty_tree_unflagged(site: Path) -> None:
    """A stored result quoted on a page comes from a committed tree, or the page says so: a page
    that shows "(dirty)" or reads a results file holding records whose provenance says the tree
    was dirty explains it with the words "uncommitted changes" and names the file's commit (until a
    rerun from a clean checkout replaces the records)."""
    texts = pages(site)
    raw = {doc: (site / f"{doc}.html").read_text(encoding="utf-8") for doc in texts}
    records = dirty_records()
    unflagged = []
    for doc, page in texts.items():
        commits = {c for file, cs in records.items() if Path(file).name in raw[doc] for c in cs}
        if (commits or re.search(r"\(dirty\)", page.shown_text)) and (
                FLAG not in page.shown_text or not all(c[:7] in page.shown_text for c in commits)):
            unflagged.append(doc)
    assert not unflagged, (f"pages showing results from a dirty tree without flagging them ('{FLAG}' "
                           f"and the commit): {unflagged}")


# ---- bibliography --------------------------------------------------------------------------------

# A method or tool named on a page -> words of the title of its entry in book/references.bib.
METHODS = {
    "OSS": "Optimal Stepsize for Diffusion Sampling",
    "LD3": "Learning to Discretize Denoising Diffusion",
    "AMED": "in Around 5 Steps",
    "Align Your Steps": "Align Your Steps",
    "AYS": "Align Your Steps",
    "DMN": "Accelerating Diffusion Sampling with Optimized Time Steps",
    "RES": "Improved Order Analysis and Design of Exponential Integrator",
    "DPM-Solver++": "DPM-Solver++",
    "DPM-Solver": "DPM-Solver",
    "UniPC": "UniPC",
    "DEIS": "Fast Sampling of Diffusion Models with Exponential Integrator",
    "iPNDM": "Fast Sampling of Diffusion Models with Exponential Integrator",
    "PNDM": "Pseudo Numerical Methods",
    "DDIM": "Denoising Diffusion Implicit Models",
    "EDM": "Elucidating the Design Space",
    "k-diffusion": "k-diffusion",
    "clean-fid": "Aliased Resizing",
    "diffusers": "Diffusers",
    "Stable Diffusion": "Latent Diffusion Models",
    "Fashion-MNIST": "Fashion-MNIST",
    "Inception": "Rethinking the Inception Architecture",
    "KID": "Demystifying MMD GANs",
    "diff-sampler": "diff-sampler",
    "Jump Your Steps": "Jump Your Steps",
    "PAS": "Approximately 10 Parameters",
}


def named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w+-])", text) is not None


def test_method_names_are_matched_as_words() -> None:
    assert named("OSS", "OSS (Pei et al.)") and not named("OSS", "GLOSSARY") and not named("OSS", "OSSx")
    assert named("DPM-Solver", "DPM-Solver 2") and not named("DPM-Solver", "DPM-Solver++")
    assert not named("RES", "RESULTS") and not named("PNDM", "iPNDM")


def test_bibliography_covers_every_method_named(site: Path) -> None:
    """Every method, model and tool a page names has its entry in the bibliography."""
    texts = pages(site)
    bib = texts.pop("book/bibliography").text
    missing = {name: sorted(doc for doc, page in texts.items() if named(name, page.text))
               for name, title in METHODS.items() if title.lower() not in bib.lower()}
    missing = {name: docs for name, docs in missing.items() if docs}
    assert not missing, f"named on these pages but not in book/references.bib: {missing}"


def test_the_authors_code_is_linked(site: Path) -> None:
    """A page that cites the authors' code links it (in its prose or through the bibliography); the
    API pages, which document functions, are left out."""
    unlinked = []
    for doc, page in pages(site).items():
        if doc.startswith("book/api/"):
            continue
        cites = re.search(r"authors['’] code|official code", page.text)
        if cites and not any("github.com/zju-pi/diff-sampler" in href or "chen2024diffsampler" in href
                             for href in page.links):
            unlinked.append(doc)
    assert not unlinked, f"pages that cite the authors' code without linking it: {unlinked}"


def test_one_citation_form_for_gits(site: Path) -> None:
    """GITS is ICML Sec. 5 (Algorithm 1); "Sec. 4.3" of the ICML paper is not GITS."""
    wrong = sorted(doc for doc, page in pages(site).items()
                   if re.search(r"(?<!JSTAT )Sec\. 4\.3, Algorithm 1|GITS[^.]{0,40}\(Sec\. 4\.3", page.text))
    assert not wrong, f"GITS cited as Sec. 4.3 on: {wrong}"


# ---- glossary ------------------------------------------------------------------------------------

GLOSSARY_TERMS = ["NFE", "ρ (rho)", "Chord", "PC (principal component)", "GITS", "L2 cost, dev cost",
                  "γ (gamma)", "floor", "Gap (optimality gap)", "Tier", "OSS", "LD3", "ODE error"]


def test_glossary_is_reachable_and_defines_the_terms(site: Path) -> None:
    assert "book/glossary" in toc_files(), "book/glossary is not in _toc.yml"
    html = (site / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'href="glossary.html"' in html, "the introduction's navigation does not link the glossary"
    glossary = (site / "book" / "glossary.html").read_text(encoding="utf-8")
    terms = [re.sub(r"<[^>]+>|\s+", " ", t).strip()
             for t in re.findall(r"<dt[^>]*>(.*?)</dt>", glossary, re.S)]
    missing = [term for term in GLOSSARY_TERMS if not any(term in t for t in terms)]
    assert not missing, f"the glossary defines no {missing}"


# ---- search --------------------------------------------------------------------------------------

def search_index(site: Path) -> dict:
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_search_leaves_code_cells_out(site: Path) -> None:
    """Words that only the notebooks' code uses (helper names, pandas calls) find no page."""
    terms = search_index(site)["terms"]
    found = {t: terms[t] for t in ("glue_est", "iterrows", "cmp_row", "errs")
             if terms.get(t) not in (None, [])}
    assert not found, f"code-only words in the search index: {found}"
    assert terms.get("boomerang") not in (None, []), "prose is missing from the search index"


def test_search_ranks_the_page_about_a_query_first(server: str, chromium_browser) -> None:
    """ "GITS NFE 8" finds *Why GITS seems to lose at NFE 8-10* first (it was 7th, below pages whose
    code named those words more often)."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + "search.html?q=GITS+NFE+8", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        page.wait_for_function("() => document.querySelector('#search-results .search-summary')"
                               " && !document.querySelector('#search-results .search-summary')"
                               ".textContent.includes('Preparing')", timeout=30_000)
        titles = page.eval_on_selector_all("#search-results ul.search li > a",
                                           "els => els.map(e => e.textContent.trim())")
        assert titles and titles[0].startswith("Why GITS"), titles[:5]
    finally:
        context.close()


# ---- layout: tables, folding ---------------------------------------------------------------------

TABLE_PAGES_JS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const tables = document.querySelectorAll('article table.trajreg-table, article table.trajreg-claims');
  return [...tables].map(t => {
    // what the reader sees of the table: clipped by every box around it that scrolls or hides
    let visible = window.innerWidth;
    for (let box = t.parentElement; box && box.tagName !== 'BODY'; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== 'visible') {
        visible = Math.min(visible, box.getBoundingClientRect().right);
      }
    }
    const last = [...t.querySelectorAll('tr')].map(r => r.lastElementChild).filter(Boolean);
    const right = Math.max(...last.map(c => c.getBoundingClientRect().right));
    const head = [...t.querySelectorAll('thead th')].map(h => h.textContent.trim()).filter(Boolean);
    return {right: Math.round(right), visible: Math.round(visible), head: head.slice(-3).join(' | ')};
  });
}"""


def table_pages(site: Path) -> list[str]:
    return [doc for doc in toc_files() if re.search(r'class="[^"]*trajreg-(table|claims)',
                                                  (site / f"{doc}.html").read_text(encoding="utf-8"))]


def test_no_table_column_is_clipped_at_1280(site: Path, visit) -> None:
    """At 1280 px every column of trajreg's tables (the key column "FID − polynomial" or the ratio
    included, often the last) shows without scrolling sideways, folded sections opened."""
    docs = table_pages(site)
    assert len(docs) >= 10, docs
    clipped = {}
    for doc in docs:
        page = visit(doc, 1280, 900)
        try:
            bad = [t for t in page.page.evaluate(TABLE_PAGES_JS) if t["right"] > t["visible"] + 1]
            if bad:
                clipped[doc] = bad
        finally:
            page.close()
    assert not clipped, f"tables whose last columns are cut off at 1280 px: {clipped}"


def test_status_table_of_claims_reads_as_cards_on_a_phone(visit) -> None:
    """The status page's table of claims (table.trajreg-claims, see book/_static/trajreg.css) is a
    table at 1280 px and, on a 390 px phone, one card per claim: every cell labelled with its column,
    nothing wider than the screen."""
    page = visit("book/status", 390, 844)
    try:
        tables = page.page.locator("table.trajreg-claims")
        assert tables.count() >= 1, "book/status has no table.trajreg-claims"
        page.page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        cells = page.page.evaluate("""() => [...document.querySelectorAll('table.trajreg-claims tbody td')]
            .map(td => [getComputedStyle(td).display, td.getAttribute('data-label') || ''])""")
        assert cells and all(display == "block" for display, _ in cells), "no card layout on a phone"
        assert all(label for _, label in cells), "a cell has no data-label (tables.js)"
        width = page.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the status page is {width} px wide on a 390 px phone"
        assert not page.errors, "\n".join(page.errors)
    finally:
        page.close()


FOLDED = {  # page -> (a phrase of its answer, the most pixels it may take at 1280 px, folded)
    "notebooks/gits_why": ("own metric, the Inception FID", 10_000),
    "notebooks/beyond_optimality_gap": ("Searching for a schedule pays", 8_000),
    "notebooks/tab01_fid_nfe": (None, 8_000),
}


@pytest.mark.parametrize("doc", sorted(FOLDED))
def test_long_pages_answer_first_and_fold(doc: str, visit) -> None:
    """The answer in the first screen; the experiments below in folded sections (the page was 21,700
    px for Why GITS, 16,300 for Beyond and 10,400 for Table 1 before)."""
    phrase, most = FOLDED[doc]
    page = visit(doc, 1280, 900)
    try:
        height = page.page.evaluate("document.documentElement.scrollHeight")
        assert height <= most, f"{doc} is {height} px tall at 1280 px (at most {most})"
        assert page.page.locator("details.hide, details.sd-dropdown, .toggle-details").count() >= 3
        if phrase:
            top = page.page.get_by_text(phrase, exact=False).first.bounding_box()
            assert top is not None and top["y"] < 900, f"{doc}: the answer is not in the first screen"
        assert not page.errors, "\n".join(page.errors)
    finally:
        page.close()
