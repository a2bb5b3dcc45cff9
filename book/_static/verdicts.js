// Long verdict boxes (more than SHOWN claims) show their first SHOWN rows and a button that
// unfolds the rest, so a page's findings are not pushed a screen or more down. Without
// JavaScript every row shows.
(function () {
  "use strict";
  const SHOWN = 6;

  function fold(box) {
    const rows = Array.from(box.querySelectorAll("tbody > tr"));
    if (rows.length <= SHOWN + 2) return;
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
