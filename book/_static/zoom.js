// Click a figure to see it at full size: an overlay with the image at its own resolution
// (scroll to pan); a click, Escape or the close button closes it. Figures of notebook outputs
// and of Markdown pages; images inside links keep their link.
(function () {
  "use strict";
  const SELECTOR = "article .cell_output img, article figure img, article img.zoomable";

  function open(img) {
    const overlay = document.createElement("div");
    overlay.className = "trajreg-zoom";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-label", "Figure at full size (click or press Escape to close)");
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "";
    // Retina figures carry width = half their pixels: show them at their logical width x 2.
    big.style.width = Math.max(img.naturalWidth, img.getBoundingClientRect().width) + "px";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "trajreg-zoom-close";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Close");
    overlay.append(close, big);
    const shut = () => { overlay.remove(); document.removeEventListener("keydown", onKey); };
    const onKey = (e) => { if (e.key === "Escape") shut(); };
    overlay.addEventListener("click", shut);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
    close.focus();
  }

  function init() {
    document.querySelectorAll(SELECTOR).forEach((img) => {
      if (img.closest("a")) return;
      img.classList.add("trajreg-zoomable");
      img.setAttribute("tabindex", "0");
      img.setAttribute("title", "Click to enlarge");
      img.addEventListener("click", () => open(img));
      img.addEventListener("keydown", (e) => { if (e.key === "Enter") open(img); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
