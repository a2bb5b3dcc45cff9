// Long verdict boxes (more than SHOWN + 2 rows) show SHOWN rows and a button that unfolds the
// rest, so a page's findings are not pushed a screen or more down. Rows of the large tier (the
// stored runs with the most samples, which decide a claim where they exist) come first, then the
// partial tier (stored runs short of their full sample count), then the fast tier. Without
// JavaScript every row shows, in the page's order.
(function () {
  "use strict";
  const SHOWN = 4;

  function fold(box) {
    const body = box.querySelector("tbody");
    if (!body) return;
    const rank = (r) => {
      const t = r.lastElementChild.textContent.trim();
      return / large tier$/.test(t) ? 0 : / partial tier$/.test(t) ? 1 : 2;
    };
    const all = Array.from(body.children);
    const rows = [0, 1, 2].flatMap((k) => all.filter((r) => rank(r) === k));
    if (rows.length <= SHOWN + 2) return;
    rows.forEach((r) => body.appendChild(r));
    const rest = rows.slice(SHOWN);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "trajreg-verdicts-more";
    const label = (open) => open ? "show the first " + SHOWN + " rows only"
                                 : "show all " + rows.length + " rows (" + rest.length + " more)";
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
