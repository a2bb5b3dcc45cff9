// Verdict boxes list one row per claim (its deciding row, class trajreg-deciding), then the
// secondary evidence (class trajreg-secondary). The box shows the paper's claims that a test
// decided; illustrations, claims not run here, this companion's own questions (their source
// says "companion") and the secondary evidence fold behind a button, so the page's answer stays
// in its first screens. A page with no decided paper claim shows its first questions instead.
// Without JavaScript every row shows.
(function () {
  "use strict";
  const SHOWN_QUESTIONS = 6;

  function word(row) { return row.cells[0].textContent.trim(); }
  function question(row) { return /;\s*companion/.test(row.cells[1].textContent); }

  function fold(box) {
    const rows = Array.from(box.querySelectorAll("tbody > tr"));
    const deciding = rows.filter((r) => r.classList.contains("trajreg-deciding"));
    const decided = deciding.filter((r) => !question(r) && !/^(illustration|not run here)/.test(word(r)));
    let shown = decided;
    if (shown.length === 0) shown = deciding.filter(question).slice(0, SHOWN_QUESTIONS);
    const rest = rows.filter((r) => !shown.includes(r));
    if (rest.length === 0) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "trajreg-verdicts-more";
    const label = (open) => open ? "show the deciding rows only"
      : "show all " + rows.length + " rows (" + rest.length + " more: secondary evidence, illustrations, "
        + "claims not run here, this companion's questions)";
    const set = (open) => {
      rest.forEach((r) => { r.hidden = !open; });
      button.textContent = label(open);
      button.setAttribute("aria-expanded", String(open));
    };
    button.addEventListener("click", () => set(button.getAttribute("aria-expanded") !== "true"));
    box.appendChild(button);
    set(false);
  }

  function init() { document.querySelectorAll(".trajreg-verdicts").forEach(fold); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
