// Interactive figures of notebooks/explore_*.ipynb, drawn with Plotly (shipped in _static).
// A notebook output holds <div class="trajreg-widget" data-widget="NAME"> with its data as JSON;
// this script replaces it by the figure and its controls. No kernel: everything runs here.
(function () {
  "use strict";

  const FONT = { family: "Liberation Sans, Arial, sans-serif", size: 13 };
  const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["toImage"] };
  // Three significant digits, no trailing zeros: 80, 0.00437, 1.15, 2.5e-7.
  const fmt = (v) => (v === null || !isFinite(v) ? "\u2013" : String(Number(Number(v).toPrecision(3))));

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }

  function slider(label, min, max, step, value) {
    const input = el("input", { type: "range", min, max, step, value: String(value), "aria-label": label });
    const out = el("output");
    return { input, out, label: el("label", {}, label, input, out) };
  }

  function radios(name, options, checked) {
    const box = el("span", { role: "radiogroup", "aria-label": name });
    options.forEach(([value, text]) => {
      const input = el("input", { type: "radio", name, value });
      input.checked = value === checked;
      box.append(el("label", {}, input, text));
    });
    return box;
  }

  // Viridis, sampled: trajectory k has the same colour in every view.
  const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
                   "#6ece58", "#b5de2b", "#fde725"];
  const colour = (k, n) => VIRIDIS[Math.round((k / Math.max(1, n - 1)) * (VIRIDIS.length - 1))];

  // ---------------------------------------------------------------- 3-D trajectories (ICML Fig. 4)
  function trajectories(root, d) {
    let model = 0, kind = "raw";
    const select = el("select", { "aria-label": "denoiser", class: "trajreg-model" });
    d.models.forEach((m, i) => select.append(el("option", { value: String(i), text: m.label })));
    const kinds = radios(`kind-${Math.random().toString(36).slice(2)}`,
                         [["raw", "raw"], ["calibrated", "calibrated"]], kind);
    const exag = slider("off-chord axes \u00d7", 0, 3, 0.05, 2);
    exag.input.classList.add("trajreg-exaggeration");
    const plot = el("div", { class: "trajreg-plot" });
    const info = el("p", { class: "trajreg-hover", text: "Hover a trajectory." });
    const canvases = ["x_t / \u221a(1+\u03c3\u00b2)", "D(x_t)"].map((caption) => {
      const canvas = el("canvas", { width: d.tile, height: d.tile });
      return { canvas, figure: el("figure", {}, canvas, el("figcaption", { text: caption })) };
    });
    const side = el("aside", { class: "trajreg-side" }, info, ...canvases.map((c) => c.figure));
    root.append(el("div", { class: "trajreg-controls" }, el("label", {}, "denoiser", select), kinds,
                   exag.label), el("div", { class: "trajreg-body" }, plot, side));

    const sprites = d.models.map((m) => { const img = new Image(); img.src = m.sprite; return img; });
    const range = (rows) => {
      let lo = Infinity, hi = -Infinity;
      rows.forEach((r) => r.forEach((v) => { lo = Math.min(lo, v); hi = Math.max(hi, v); }));
      return hi - lo || 1;
    };

    function traces() {
      const m = d.models[model], pcs = m[kind], n = m.chord.length;
      return m.chord.map((x, b) => ({
        type: "scatter3d", mode: "lines", x, y: pcs[b][0], z: pcs[b][1], name: `trajectory ${b}`,
        line: { color: colour(b, n), width: 3 }, customdata: d.sigmas, meta: b,
        hovertemplate: "trajectory %{meta}<br>\u03c3 = %{customdata:.3g}<extra></extra>",
      }));
    }

    function layout() {
      const m = d.models[model], pcs = m[kind], e = Math.pow(10, Number(exag.input.value));
      const rx = range(m.chord), ry = range(pcs.map((p) => p[0])), rz = range(pcs.map((p) => p[1]));
      const ratio = { x: 1, y: (e * ry) / rx, z: (e * rz) / rx };
      const top = Math.max(ratio.x, ratio.y, ratio.z);
      Object.keys(ratio).forEach((k) => { ratio[k] = Math.max(ratio[k] / top, 0.002); });
      const axis = (title) => ({ title: { text: title }, tickfont: { size: 11 } });
      return {
        font: FONT, margin: { l: 0, r: 0, t: 30, b: 0 }, showlegend: false, uirevision: "keep",
        title: { text: `${m.label}, ${kind}`, x: 0.02, font: { size: 14 } },
        scene: {
          aspectmode: "manual", aspectratio: ratio,
          camera: { eye: { x: -0.3, y: -1.35, z: 1.0 }, up: { x: 0, y: 0, z: 1 } },
          xaxis: axis("chord (0 = sample, far end = noise)"), yaxis: axis("PC 1"), zaxis: axis("PC 2"),
        },
      };
    }

    function render() {
      exag.out.textContent = fmt(Math.pow(10, Number(exag.input.value)));
      root.dataset.model = d.models[model].key;
      root.dataset.kind = kind;
      return Plotly.react(plot, traces(), layout(), CONFIG);
    }

    function show(b, i) {
      const steps = d.thumb_steps;
      let k = 0;
      steps.forEach((s, j) => { if (Math.abs(s - i) < Math.abs(steps[k] - i)) k = j; });
      info.textContent = `trajectory ${b}, step ${i} of ${d.sigmas.length - 1}: \u03c3 = ${fmt(d.sigmas[i])}` +
        (steps[k] === i ? "" : ` (images at step ${steps[k]}, \u03c3 = ${fmt(d.sigmas[steps[k]])})`);
      root.dataset.hover = `${b},${i}`;
      const img = sprites[model];
      const draw = () => canvases.forEach((c, j) => {
        const ctx = c.canvas.getContext("2d");
        ctx.drawImage(img, (2 * k + j) * d.tile, b * d.tile, d.tile, d.tile, 0, 0, d.tile, d.tile);
      });
      if (img.complete) draw(); else img.addEventListener("load", draw, { once: true });
    }

    select.addEventListener("change", () => { model = Number(select.value); render(); });
    kinds.addEventListener("change", (e) => { kind = e.target.value; render(); });
    exag.input.addEventListener("input", render);
    render().then(() => {
      plot.on("plotly_hover", (ev) => {
        const p = ev.points && ev.points[0];
        if (p) show(p.data.meta, p.pointNumber);
      });
      show(0, d.thumb_steps[Math.floor(d.thumb_steps.length / 2)]);
      root.dataset.ready = "1";
    });
  }

  // ------------------------------------------------------------------ GITS cost matrix and DP
  // trajreg.gits.search: min over 0 = i_0 < ... < i_K = N-1 of sum_m gamma^m c[i_m, i_{m+1}],
  // V[j, 1] = c[j, N-1], V[j, k] = min_{i < N-1} c[j, i] + gamma V[i, k-1]; ties to the smaller i.
  function gitsSearch(c, K, gamma) {
    const N = c.length;
    const cost = (i, j) => (j > i && c[i][j] !== null ? c[i][j] : Infinity);
    let V = c.map((_, j) => cost(j, N - 1));
    const arg = [];
    for (let k = 2; k <= K; k++) {
      const next = new Array(N).fill(Infinity), a = new Array(N).fill(0);
      for (let j = 0; j < N; j++) {
        for (let i = 0; i < N - 1; i++) {
          const t = cost(j, i) + gamma * V[i];
          if (t < next[j]) { next[j] = t; a[j] = i; }
        }
      }
      arg[k] = a;
      V = next;
    }
    if (!isFinite(V[0])) return null;
    const path = [0];
    for (let k = K; k > 1; k--) path.push(arg[k][path[path.length - 1]]);
    path.push(N - 1);
    return path;
  }

  // Colour value of a cost: log10 for the positive "l2"; a signed log for "dev" (it can be < 0).
  function shade(metric, values) {
    const pos = values.filter((v) => v !== null && v > 0).sort((a, b) => a - b);
    const floor = pos[Math.floor(pos.length * 0.01)] || 1e-6;
    if (metric !== "dev") {
      const f = (v) => Math.log10(Math.max(v, floor));
      const ticks = [-3, -2, -1, 0, 1, 2].filter((t) => t >= f(floor) - 0.5 && t <= f(pos[pos.length - 1]) + 0.5);
      return { f, ticks: ticks, text: ticks.map((t) => fmt(Math.pow(10, t))), scale: "Viridis", mid: null };
    }
    const abs = values.filter((v) => v !== null && v !== 0).map(Math.abs).sort((a, b) => a - b);
    const lin = abs[Math.floor(abs.length * 0.05)] || 1e-6;
    const f = (v) => Math.sign(v) * Math.log10(1 + Math.abs(v) / lin);
    const nice = [-1, -0.1, 0, 0.1, 1, 10].filter((v) => Math.abs(v) <= abs[abs.length - 1] * 1.5);
    return { f, ticks: nice.map(f), text: nice.map(fmt), scale: "RdBu", mid: 0, reverse: true };
  }

  function gits(root, d) {
    root.classList.add("trajreg-gits");
    const N = d.sigmas.length;
    let metric = "l2";
    const metrics = radios(`metric-${Math.random().toString(36).slice(2)}`,
                           Object.keys(d.cost).map((m) => [m, m]), metric);
    const gamma = slider("\u03b3", 0.9, 1.6, 0.01, d.gamma);
    gamma.input.classList.add("trajreg-gamma");
    const steps = slider("steps K", 1, 12, 1, d.K);
    steps.input.classList.add("trajreg-steps-k");
    const plot = el("div", { class: "trajreg-plot" });
    const table = el("div", { class: "trajreg-steps", "aria-live": "polite" });
    root.append(el("div", { class: "trajreg-controls" }, el("span", {}, "cost "), metrics, gamma.label,
                   steps.label), plot, table);

    const ticks = [];
    for (let i = 0; i < N; i += 10) ticks.push(i);
    const axis = (title) => ({ title: { text: title }, tickvals: ticks, ticktext: ticks.map((i) => fmt(d.sigmas[i])),
                               zeroline: false, showgrid: false });

    function render() {
      const c = d.cost[metric], g = Number(gamma.input.value), K = Number(steps.input.value);
      gamma.out.textContent = g.toFixed(2);
      steps.out.textContent = String(K);
      const path = gitsSearch(c, K, g);
      const s = shade(metric, c.flat());
      const heat = {
        type: "heatmap", z: c.map((row) => row.map((v) => (v === null ? null : s.f(v)))),
        customdata: c.map((row, i) => row.map((v, j) => [fmt(d.sigmas[i]), fmt(d.sigmas[j]), fmt(v)])),
        hovertemplate: "from \u03c3 = %{customdata[0]} to \u03c3 = %{customdata[1]}<br>" +
                       "cost c = %{customdata[2]}<extra></extra>",
        colorscale: s.scale, reversescale: !!s.reverse, zmid: s.mid === null ? undefined : s.mid,
        colorbar: { title: { text: `c (${metric})`, side: "right" }, tickvals: s.ticks, ticktext: s.text, thickness: 12 },
      };
      const jumps = path ? path.slice(1).map((j, m) => [path[m], j]) : [];
      const line = {
        type: "scatter", mode: "lines+markers", x: jumps.map((p) => p[1]), y: jumps.map((p) => p[0]),
        marker: { size: 9, color: "#ff7f0e", line: { color: "#fff", width: 1.5 } },
        line: { color: "#ff7f0e", width: 2 }, hoverinfo: "skip", name: "chosen jumps",
      };
      Plotly.react(plot, [heat, line], {
        font: FONT, margin: { l: 70, r: 10, t: 36, b: 60 }, showlegend: false, uirevision: metric,
        title: { text: `c(i \u2192 j), ${d.n_warmup} warm-up samples; path: K = ${K}, \u03b3 = ${g.toFixed(2)}`,
                 x: 0.01, font: { size: 13 } },
        xaxis: { ...axis("\u03c3 of the point jumped to (t_j)"), constrain: "domain" },
        yaxis: { ...axis("\u03c3 of the point jumped from (t_i)"), autorange: "reversed", scaleanchor: "x" },
      }, CONFIG);

      root.dataset.path = path ? path.join(",") : "";
      table.replaceChildren();
      if (!path) { table.append(el("p", { text: `No ${K}-step path of finite cost.` })); return; }
      let total = 0;
      const rows = jumps.map(([i, j], m) => {
        total += Math.pow(g, m) * c[i][j];
        return el("tr", {}, el("td", { text: String(m + 1) }), el("td", { text: fmt(d.sigmas[i]) }),
                  el("td", { text: fmt(d.sigmas[j]) }), el("td", { text: fmt(c[i][j]) }),
                  el("td", { text: fmt(Math.pow(g, m)) }));
      });
      const head = el("tr", {}, ...["step", "from \u03c3", "to \u03c3", `stored cost c (${metric})`, "weight \u03b3^m"]
        .map((t) => el("th", { text: t })));
      table.append(
        el("p", { class: "trajreg-sigmas", text: `GITS schedule, ${K} steps: \u03c3 = ${path.map((i) => fmt(d.sigmas[i])).join(", ")}` }),
        el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)),
        el("p", { text: `weighted total \u2211 \u03b3^m c = ${fmt(total)}` }));
    }

    metrics.addEventListener("change", (e) => { metric = e.target.value; render(); });
    gamma.input.addEventListener("input", render);
    steps.input.addEventListener("input", render);
    render();
    root.dataset.ready = "1";
  }

  const WIDGETS = { trajectories, gits };
  window.trajregExplorer = { gitsSearch };

  function init() {
    document.querySelectorAll(".trajreg-widget").forEach((root) => {
      const make = WIDGETS[root.dataset.widget];
      const data = root.querySelector('script[type="application/json"]');
      if (!make || !data || !window.Plotly) return;
      const fallback = root.querySelector(".trajreg-fallback");
      if (fallback) fallback.remove();
      make(root, JSON.parse(data.textContent));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
