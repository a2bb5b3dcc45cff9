// Verdict boxes list one row per claim (its deciding row, class trajreg-deciding), then the
// secondary evidence (class trajreg-secondary). The secondary rows fold behind a button, so a
// page's verdicts fit its first screen. Without JavaScript every row shows.
(function () {
  "use strict";

  function fold(box) {
    const rest = Array.from(box.querySelectorAll("tbody > tr.trajreg-secondary"));
    if (rest.length === 0) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "trajreg-verdicts-more";
    const label = (open) => open ? "hide the secondary evidence"
                                 : "show the secondary evidence (" + rest.length + " more rows)";
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
