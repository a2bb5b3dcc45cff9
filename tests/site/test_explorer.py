"""The interactive explorer (notebooks/explore_trajectories) works in the built site, offline.

In headless Chromium (WebGL on SwiftShader), with no console error and no request leaving the
site: both figures draw; a mouse drag turns the 3-D view; the denoiser menu, the raw/calibrated
switch and the exaggeration slider change the plot; hovering a trajectory fills the side panel; the
gamma and K sliders re-run the GITS search, whose path equals ``trajreg.gits.optimal_path`` for every
case the notebook recorded. Screenshots: explorer*.png in ``$TRAJREG_SCREENSHOTS``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DOC = "notebooks/explore_trajectories"
TRAJ = '.trajreg-widget[data-widget="trajectories"]'
GITS = '.trajreg-widget[data-widget="gits"]'


def set_range(page, selector: str, value: float) -> None:
    """Move a range input as a user would: set its value and fire 'input'."""
    page.eval_on_selector(selector, "(el, v) => { el.value = String(v); "
                                    "el.dispatchEvent(new Event('input', {bubbles: true})); }", value)


@pytest.fixture(scope="module")
def explorer(site: Path, visit, screenshots: Path):
    page = visit(DOC)
    page.page.wait_for_selector(f'{TRAJ}[data-ready="1"]', timeout=30_000)
    page.page.wait_for_selector(f'{GITS}[data-ready="1"]', timeout=30_000)
    yield page
    page.page.screenshot(path=screenshots / "explorer-full.png", full_page=True)
    page.close()
    assert not page.errors, "\n".join(page.errors)


def camera(page) -> dict:
    return page.eval_on_selector(f"{TRAJ} .js-plotly-plot",
                                 "gd => gd._fullLayout.scene._scene.getCamera().eye")


def test_explorer_draws(explorer, screenshots: Path) -> None:
    page = explorer.page
    assert page.locator(".trajreg-fallback").count() == 0
    assert page.locator(f"{TRAJ} .js-plotly-plot canvas").count() > 0, "no WebGL canvas"
    assert page.eval_on_selector(f"{TRAJ} .js-plotly-plot", "gd => gd.data.length") == 30
    assert page.locator(f"{GITS} .js-plotly-plot .heatmaplayer").count() == 1
    page.locator(TRAJ).scroll_into_view_if_needed()
    page.locator(TRAJ).screenshot(path=screenshots / "explorer.png")
    assert not explorer.errors, "\n".join(explorer.errors)


def test_drag_rotates(explorer) -> None:
    page = explorer.page
    before = camera(page)
    box = page.locator(f"{TRAJ} .js-plotly-plot .gl-container").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 15 * step, y + 4 * step)
    page.mouse.up()
    after = camera(page)
    assert max(abs(after[k] - before[k]) for k in "xyz") > 0.05, (before, after)


def test_controls_change_the_plot(explorer, screenshots: Path) -> None:
    page = explorer.page
    plot = f"{TRAJ} .js-plotly-plot"
    ratio = page.eval_on_selector(plot, "gd => gd.layout.scene.aspectratio.y")
    set_range(page, f"{TRAJ} input.trajreg-exaggeration", 0.5)
    assert page.eval_on_selector(plot, "gd => gd.layout.scene.aspectratio.y") < ratio / 10

    set_range(page, f"{TRAJ} input.trajreg-exaggeration", 2.5)
    y0 = page.eval_on_selector(plot, "gd => gd.data[3].y.slice()")
    page.locator(f"{TRAJ} input[value=calibrated]").check()
    assert page.locator(TRAJ).get_attribute("data-kind") == "calibrated"
    assert page.eval_on_selector(plot, "gd => gd.data[3].y") != y0
    page.locator(f"{TRAJ} select.trajreg-model").select_option(index=1)
    assert page.locator(TRAJ).get_attribute("data-model") == "kde-fmnist"

    hover = "gd => gd.emit('plotly_hover', {points: [{data: gd.data[7], pointNumber: 42}]})"
    page.eval_on_selector(plot, hover)
    assert page.locator(TRAJ).get_attribute("data-hover") == "7,42"
    assert "trajectory 7, step 42" in page.locator(f"{TRAJ} .trajreg-hover").inner_text()
    page.locator(TRAJ).screenshot(path=screenshots / "explorer-kde-calibrated.png")


def test_gamma_slider_reruns_the_search(explorer, screenshots: Path) -> None:
    page = explorer.page
    root = page.locator(GITS)
    before, shown = root.get_attribute("data-path"), page.locator(f"{GITS} .trajreg-sigmas").inner_text()
    set_range(page, f"{GITS} input.trajreg-gamma", 1.5)
    assert root.get_attribute("data-path") != before
    assert page.locator(f"{GITS} .trajreg-sigmas").inner_text() != shown
    assert page.locator(f"{GITS} tbody tr").count() == len(before.split(",")) - 1
    root.screenshot(path=screenshots / "explorer-gits.png")


def test_browser_search_equals_python(explorer) -> None:
    """The page's DP (explorer.js) returns trajreg.gits.optimal_path's path in every recorded case."""
    mismatches = explorer.page.eval_on_selector(GITS, """root => {
      const d = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
      return d.checks.filter(c => {
        const path = window.trajregExplorer.gitsSearch(d.cost[c.metric], c.K, c.gamma);
        return !path || path.join(',') !== c.path.join(',');
      });
    }""")
    assert not mismatches
