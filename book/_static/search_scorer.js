// The site search's scorer (html_search_scorer in _config.yml): Sphinx's default weights, plus a
// boost for a page whose own title holds the words searched for, so that a query such as
// "GITS NFE 8" puts "Why GITS seems to lose at NFE 8-10 here" above pages that only mention the
// words in a section heading. The code of notebook cells is not indexed at all
// (book/_ext/search_prose.py), so prose decides the ranking.
var Scorer = {
  score: (result) => {
    const [, title, anchor, , score] = result;
    const query = new URLSearchParams(window.location.search).get("q") || "";
    const words = query.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
    const inTitle = new Set(String(title || "").toLowerCase().split(/[^\p{L}\p{N}]+/u));
    const hits = words.filter((w) => inTitle.has(w)).length;
    // a whole page (no anchor) whose title holds every word searched for ranks first
    const whole = words.length > 0 && hits === words.length && !anchor ? 10 : 0;
    return score + 5 * hits + whole;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
