"""What a user does with the mouse in Chromium, which AppTest (no JavaScript) cannot see: clicking
a point of a chart selects that neuron or unit everywhere, and the Export page's link reopens the
view with every choice that shaped it."""

from browsing import (
    ARTIFACTS,
    VIEWPORT,
    assert_healthy,
    chart_titles,
    click_a_point,
    picked,
    query,
    settle,
    wait_for_chart,
)

from indrnn import catalog


def test_clicking_a_neuron_selects_it_in_the_picker_every_figure_and_the_url(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/Neurons?model=adding1000_indrnn&layer=body.l1")
    settle(page)
    opened = int(picked(page, "Neuron").split()[0])
    neuron = click_a_point(page, "Click a neuron", avoid=opened)
    assert_healthy(page, "Neurons after a click")
    assert query(page)["neuron"] == str(neuron), page.url
    assert picked(page, "Neuron").split()[0] == str(neuron)
    wait_for_chart(page, f"Neuron {neuron} over time")
    titles = chart_titles(page)
    assert f"Neuron {neuron} over time" in titles, titles
    assert any(t.startswith(f"What drives neuron {neuron}") for t in titles), titles
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "neuron_clicked.png"), full_page=True)
    page.close()


def test_clicking_an_lstm_unit_follows_it(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/IndRNN_vs_LSTM?model=basicmotions_indrnn")
    settle(page)
    unit = click_a_point(page, "Gate saturation of", avoid=int(picked(page, "Unit")))
    assert_healthy(page, "IndRNN vs LSTM after a click")
    assert query(page)["unit"] == str(unit), page.url
    assert picked(page, "Unit") == str(unit)
    page.close()


def test_the_export_link_reopens_the_view_in_a_fresh_browser(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/Ablation?model=adding1000_indrnn&layer=body.l1")
    settle(page)
    ablated = query(page)["ablate"]
    page.get_by_role("link", name="Neurons").click()  # the menu: the same session
    settle(page)
    neuron = click_a_point(page, "Click a neuron", avoid=int(picked(page, "Neuron").split()[0]))
    page.get_by_role("link", name="Export").click()
    settle(page)
    assert_healthy(page, "Export")
    link = page.locator('[data-testid="stCode"]').first.inner_text().strip()
    assert link.startswith("/Neurons?"), link
    page.close()

    fresh = browser.new_context(viewport=VIEWPORT)  # no cookies, no session: only the link
    again = fresh.new_page()
    again.goto(server + link)
    settle(again)
    assert_healthy(again, "the shared link")
    assert picked(again, "Neuron").split()[0] == str(neuron)
    assert picked(again, "Layer") == "body.l1"
    wait_for_chart(again, f"Neuron {neuron} over time")  # fails after its timeout otherwise
    assert query(again)["ablate"] == ablated  # carried for the Ablation page
    fresh.close()


def test_a_neuron_named_by_a_finding_opens_on_the_neurons_page_after_a_click(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/?model=adding1000_indrnn")
    settle(page)
    assert_healthy(page, "Overview")
    page.get_by_text("What this model does").wait_for()
    button = page.get_by_role("button", name="Neuron ").first
    name = button.inner_text().strip()  # "Neuron 0 of body.l1"
    neuron, layer = name.split()[1], name.split(" of ")[1]
    button.click()
    settle(page)
    assert_healthy(page, "Neurons opened from a finding")
    assert "/Neurons" in page.url, page.url
    assert query(page)["layer"] == layer and query(page)["neuron"] == neuron, page.url
    assert picked(page, "Neuron").split()[0] == neuron
    wait_for_chart(page, f"Neuron {neuron} over time")
    page.close()


def test_clicking_a_heatmap_row_opens_that_neuron(server, browser):
    # tall enough that every row of the 1,200-pixel map is on the screen to click
    page = browser.new_page(viewport={"width": VIEWPORT["width"], "height": 2400})
    page.goto(f"{server}/Neurons?model=adding1000_indrnn&layer=body.l1")
    settle(page)
    opened = int(picked(page, "Neuron").split()[0])
    # trace 1: the handles left of the rows (trace 0 is the map itself)
    neuron = click_a_point(page, "body.l1: neurons (sorted by", trace=1, avoid=opened)
    assert_healthy(page, "Neurons after a click on a heatmap row")
    assert neuron != opened
    assert query(page)["neuron"] == str(neuron), page.url
    assert picked(page, "Neuron").split()[0] == str(neuron)
    wait_for_chart(page, f"Neuron {neuron} over time")
    # Re-sorted in the figure's own menu, each handle moves with its neuron's row.
    page.locator(".updatemenu-header-group").first.click()
    page.wait_for_timeout(300)
    page.locator(".updatemenu-item-text").nth(2).click()
    page.wait_for_timeout(500)
    title, misplaced = page.evaluate(_HANDLES_OFF_THEIR_ROWS)
    assert "sorted by" in title and "sorted by u)" not in title, title
    assert misplaced == [], misplaced
    again = click_a_point(page, "body.l1: neurons (sorted by", trace=1, avoid=neuron)
    assert query(page)["neuron"] == str(again) and picked(page, "Neuron").split()[0] == str(again)
    page.close()


# The neurons whose handle is not at their row: the category axis puts its k-th category at k.
_HANDLES_OFF_THEIR_ROWS = """() => {
  const chart = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(c => String(c.layout.title.text).startsWith('body.l1'));
  const rows = chart._fullLayout.yaxis._categories, handles = chart._fullData[1];
  return [chart.layout.title.text, Array.from(handles.customdata)
    .filter((n, i) => rows.indexOf(String(n)) !== handles.y[i])];
}"""


def test_patch_them_opens_the_patching_page_on_the_findings_neurons(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/?model=adding1000_indrnn")
    settle(page)
    page.get_by_text("What this model does").wait_for()
    # the Overview lists the card's findings in order; the first names its neurons on buttons
    # (their labels draw one by one, so wait for each, not only the first)
    first = catalog.entry("adding1000_indrnn").card["findings"][0]
    layer = first["layer"]
    for neuron in first["neurons"]:
        page.get_by_role("button", name=f"Neuron {neuron} of {layer}").first.wait_for()
    page.get_by_role("button", name="Patch them").first.click()
    settle(page)
    assert_healthy(page, "Patching opened from a finding")
    assert "/Patching" in page.url, page.url
    wanted = {str(n) for n in first["neurons"]}
    patched = set(query(page)["patch"].split(","))
    assert patched == wanted, (patched, wanted)
    assert query(page)["layer"] == layer
    wait_for_chart(page, "Output: base, source and patched")
    assert page.get_by_text("of the difference").count() >= 1
    page.close()


def test_discovery_ranks_without_time_after_a_click_and_shows_chance(server, browser):
    page = browser.new_page(viewport={"width": VIEWPORT["width"], "height": 2400})
    page.goto(f"{server}/Discovery?model=adding1000_indrnn&layer=body.l1")
    settle(page)
    wait_for_chart(page, "Neurons that follow each track (r over every step)")
    page.get_by_text("r with the time step removed").click()
    settle(page)
    assert_healthy(page, "Discovery ranked without time")
    wait_for_chart(page, "Neurons that follow each track (r with the time step removed)")
    assert query(page)["rank_by"] == "partial", page.url
    assert "without time" in picked(page, "Neuron (strongest first)")
    page.get_by_text("r over every step").click()
    settle(page)
    wait_for_chart(page, "Neurons that follow each track (r over every step)")
    bands = page.locator(".js-plotly-plot .annotation-text", has_text="chance ±")
    assert bands.count() >= 1
    page.close()


# Every Plotly draw (plotly_afterplot) per chart, counted from the page's first chart on.
_COUNT_DRAWS = """
window.__draws = {};
const seen = new WeakSet();
function watch(chart) {
  if (seen.has(chart)) return;
  if (typeof chart.on !== 'function') { setTimeout(() => watch(chart), 0); return; }
  seen.add(chart);
  chart.on('plotly_afterplot', () => {
    const title = String((chart.layout.title || {}).text || '');
    window.__draws[title] = (window.__draws[title] || 0) + 1;
  });
}
new MutationObserver(() => document.querySelectorAll('.js-plotly-plot').forEach(watch))
  .observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['class']});
"""


def test_each_chart_is_drawn_once_and_a_rerun_with_the_same_figure_draws_nothing(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.add_init_script(_COUNT_DRAWS)
    page.goto(f"{server}/Neurons?model=adding1000_indrnn&layer=body.l1")
    settle(page)
    wait_for_chart(page, "Where the neuron fires most")
    page.wait_for_timeout(1000)
    draws = page.evaluate("window.__draws")
    assert len(draws) >= 5 and set(draws.values()) == {1}, draws  # st.plotly_chart: 2 each
    # the u axis radio reruns the neuron's part of the page: the picker's figure changes each
    # time, the neuron's trace is sent again unchanged and is not drawn again
    for axis in ("u", "1 − |u| (log)", "u", "1 − |u| (log)"):
        radio = page.get_by_role("radio", name=axis, exact=True)
        if not radio.is_checked():
            radio.check(force=True)
            settle(page)
    page.wait_for_timeout(1000)
    after = page.evaluate("window.__draws")
    assert after["Click a neuron"] >= 3, after
    trace = next(title for title in after if title.endswith("over time"))
    assert after[trace] == 1, after
    served = page.request.get(f"{server}/app/static/plotly.min.js")
    assert served.ok and "javascript" in served.headers["content-type"]
    page.close()
