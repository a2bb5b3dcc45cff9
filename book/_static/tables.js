// Tables of claims (table.trajreg-claims, the status page): each cell gets its column's header as
// data-label, so that on a phone (book/_static/trajreg.css) every row reads as a card of
// "header: value" lines instead of a table scrolled sideways. Without JavaScript the table stays
// a table.
(function () {
  "use strict";

  function label(table) {
    const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    if (!heads.length) return;
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, i) => {
        if (heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
      });
    });
  }

  function init() { document.querySelectorAll("table.trajreg-claims").forEach(label); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
