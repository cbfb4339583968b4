"""The dashboard in a real browser (Debian's chromium, driven by Playwright).

Run by tests/dashboard.rs, which starts `tracker serve` on examples/cloudtrail
and passes the numbers it computed itself from the example files (--facts).
Checks, as a person would see them:

- the overview's tiles and top lists show the API's numbers and the files';
  a range without events says so and offers a longer one;
- a principal's page (reached by clicking it), its tiles and events;
- search with two filters from the form, paging forward and back, and the
  full record of a clicked event (equal to /events/{id});
- no page logs a console error or throws;
- with --keyed-url: the page asks for the key, says clearly when a key is
  wrong, works with the right one and keeps it for the session;
- with --ui-url: the page through `tracker ui` (which adds the key itself);
- with --screenshots DIR: PNGs of the overview, a principal page and the alerts.

Exits non-zero with every failed check listed.
"""

import argparse
import json
import sys
import tempfile
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "body[data-state=ready]"
TIMEOUT_MS = 20000

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)
    return condition


def api(base, path, params, key=None):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"x-api-key": key} if key else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def number(text):
    # A trailing + means "at least" (the alerts tile counts up to a page).
    return int(text.replace(",", "").replace("+", "").strip())


def launch(playwright):
    # A fresh profile each time; nothing is downloaded (executable_path).
    return playwright.chromium.launch_persistent_context(
        tempfile.mkdtemp(prefix="tracker-chromium-"),
        executable_path="/usr/bin/chromium",
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 960},
    )


def watch(page, errors, allowed=()):
    def on_console(message):
        if message.type == "error" and not any(a in message.text for a in allowed):
            errors.append(f"console error on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught error on {page.url}: {error}"))


def navigate(page, action):
    """Runs an action that changes the page's route, and waits until the new
    route has finished loading (not the old one's `ready`)."""
    page.evaluate("document.body.dataset.state = 'stale'")
    action()
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)


def tiles(page):
    return {
        tile.get_attribute("id")[len("tile-"):]: number(tile.locator(".tile-value").inner_text())
        for tile in page.locator(".tile").all()
    }


def top_list(page, kind):
    items = page.locator(f'section[data-list="{kind}"] ol.top li:not(.placeholder)')
    return [
        [item.locator("a").inner_text(), number(item.locator(".count").inner_text())]
        for item in items.all()
    ]


def overview(page, args, facts):
    window = {"from": facts["from"], "to": facts["to"]}
    page.goto(f"{args.url}/#/?from={facts['from']}&to={facts['to']}")
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    shown = tiles(page)
    alerts_shown = shown.pop("alerts", None)
    alerts = api(args.url, "/alerts", {**window, "limit": 1000})
    check(alerts_shown == len(alerts), f"the alerts tile shows {alerts_shown}, the API has {len(alerts)}")
    by_principal = api(args.url, "/stats", {**window, "by": "principal"})
    by_service = api(args.url, "/stats", {**window, "by": "service"})
    failed = api(args.url, "/stats", {**window, "by": "errorCode", "errorCode": "*"})
    from_api = {
        "events": by_principal["total"],
        "principals": by_principal["distinct"],
        "services": by_service["distinct"],
        "failed": failed["total"],
    }
    check(shown == from_api, f"overview tiles {shown} != the API's {from_api}")
    check(shown == facts["tiles"], f"overview tiles {shown} != the files' {facts['tiles']}")
    for kind, expected in facts["top"].items():
        extra = {"errorCode": "*"} if kind == "errorCode" else {}
        answer = api(args.url, "/stats", {**window, "by": kind, "top": 10, **extra})
        from_api = [[i["key"], i["count"]] for i in answer["items"]]
        shown = top_list(page, kind)
        check(shown == from_api, f"top {kind}: page {shown} != API {from_api}")
        check(shown == expected, f"top {kind}: page {shown} != files {expected}")
    days = api(args.url, "/stats/daily", window)["days"]
    check(sum(d["count"] for d in days) == facts["tiles"]["events"], "the daily counts add up to the events")
    check(page.locator("#daily svg rect.bar").count() > 0, "the chart has bars")
    # A range without events says so, with a way out.
    page.goto(f"{args.url}/#/?from=2001-01-01&to=2001-01-31")
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    empty = page.locator("#empty")
    check(empty.is_visible() and "No events in this range" in empty.inner_text(), "an empty range says so")
    check(tiles(page)["events"] == 0, "an empty range shows 0 events")
    check(tiles(page)["alerts"] == 0, "an empty range shows 0 alerts")
    navigate(page, lambda: empty.locator("a", has_text="Everything since").click())
    check("from=2000-01-01" in page.url, f"the hint's link sets the range: {page.url}")
    check(tiles(page)["events"] == facts["tiles"]["events"], "the hint's link shows everything")
    page.goto(f"{args.url}/#/?from={facts['from']}&to={facts['to']}")
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)


def alerts(page, args, facts):
    """The alerts page lists what GET /alerts answers, filters by level, and
    is reached from the nav."""
    window = {"from": facts["from"], "to": facts["to"]}
    navigate(page, lambda: page.locator('nav a[data-nav="alerts"]').click())
    check(page.locator('nav a[data-nav="alerts"]').get_attribute("aria-current") == "page",
          "the Alerts nav link is current on its page")
    check(f"from={facts['from']}" in page.url, f"the nav keeps the range: {page.url}")
    expected = api(args.url, "/alerts", {**window, "limit": 50})
    rows = page.locator("#alerts tbody tr.alert")
    shown = [[r.get_attribute("data-rule-id"), r.get_attribute("data-event-id")] for r in rows.all()]
    check(shown == [[a["ruleId"], a["eventID"]] for a in expected],
          f"the alerts page shows {shown[:3]}…, the API {[(a['ruleId'], a['eventID']) for a in expected[:3]]}…")
    check(len(expected) > 0, "the examples raise alerts (tests/fixtures/rules)")
    everything = api(args.url, "/alerts", {**window, "limit": 1000})
    if len(everything) > 50:
        page.locator("#alerts .pager button", has_text="Next").click()
        page.wait_for_function("() => document.querySelector('#alerts .muted').textContent.startsWith('Alerts 51')")
        second = [r.get_attribute("data-event-id") for r in rows.all()]
        check(second == [a["eventID"] for a in everything[50:100]], "the second page follows the API's Link")
    page.locator("#f-level").select_option("high")
    navigate(page, lambda: page.locator("form[aria-label='Alert filters'] button[type=submit]").click())
    check("level=high" in page.url, f"the level filter is in the URL: {page.url}")
    severe = api(args.url, "/alerts", {**window, "level": "high", "limit": 50})
    levels = [c.inner_text().lower() for c in page.locator("#alerts tbody tr.alert td.level").all()]
    check(len(levels) == len(severe) and all(l in ("high", "critical") for l in levels),
          f"level=high shows {levels}, the API {len(severe)} alert(s)")
    page.goto(f"{args.url}/#/?from={facts['from']}&to={facts['to']}")
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)


def principal(page, args, facts):
    name = facts["principal"]
    navigate(page, lambda: page.locator('section[data-list="principal"] a', has_text=name).first.click())
    check(
        page.evaluate("decodeURIComponent(location.hash)").startswith(f"#/principal/{name}"),
        f"the principal's page: {page.url}",
    )
    check(name in page.locator("h1").inner_text(), f"the principal page is titled with {name}")
    shown = tiles(page)
    check(shown.get("events") == facts["principal_events"], f"{name}: events tile {shown} != {facts['principal_events']}")
    summary = page.locator("#events p.muted").first
    check(summary.get_attribute("data-total") == str(facts["principal_events"]), f"{name}: events total {summary.inner_text()}")
    check(page.locator("#events tbody tr.event").count() == min(50, facts["principal_events"]), "the first page of its events")
    return page.url


def search(page, args, facts):
    wanted = facts["search"]
    navigate(page, lambda: page.locator("nav a", has_text="Search").click())
    page.fill("#f-eventSource", wanted["eventSource"])
    page.select_option("#f-readOnly", wanted["readOnly"])
    navigate(page, lambda: page.click("form.search-form button[type=submit]"))
    check("readOnly=" + wanted["readOnly"] in page.url, f"the filters are in the URL: {page.url}")
    summary = page.locator("#events p.muted").first
    total = wanted["count"]
    check(summary.get_attribute("data-total") == str(total), f"search total {summary.inner_text()} != {total}")
    rows = page.locator("#events tbody tr.event")
    first_page = [r.get_attribute("data-event-id") for r in rows.all()]
    check(len(first_page) == min(50, total), f"first page has {len(first_page)} rows")
    seen = list(first_page)
    while page.locator("#events button", has_text="Next").is_enabled():
        page.locator("#events button", has_text="Next").click()
        page.wait_for_function("() => !document.querySelector('#events').hasAttribute('aria-busy')")
        seen += [r.get_attribute("data-event-id") for r in rows.all()]
    check(len(seen) == total and len(set(seen)) == total, f"paging shows each of the {total} events once ({len(seen)} shown)")
    check(sorted(seen) == sorted(wanted["eventIDs"]), "paging shows exactly the matching events")
    page.locator("#events button", has_text="Previous").click()
    page.wait_for_function("() => !document.querySelector('#events').hasAttribute('aria-busy')")
    if total > 50:
        check(summary.inner_text().startswith(f"Events {max(1, ((total - 1) // 50 - 1) * 50 + 1)}"), f"back one page: {summary.inner_text()}")
    # Open a record: the dialog shows /events/{id}.
    row = rows.first
    event_id = row.get_attribute("data-event-id")
    row.locator("button").click()
    page.wait_for_selector("#record[data-state=ready]", timeout=TIMEOUT_MS)
    record = json.loads(page.locator("#record-body").inner_text())
    check(record.get("eventID") == event_id, f"the dialog shows event {event_id}")
    check(record == api(args.url, f"/events/{urllib.parse.quote(event_id)}", {}), "the dialog shows the full record")
    page.keyboard.press("Escape")
    check(not page.evaluate("document.getElementById('record').open"), "Escape closes the record")


def keyed(playwright, args, facts, errors):
    context = launch(playwright)
    page = context.new_page()
    # The refused calls are the point here: the browser logs each 403.
    watch(page, errors, allowed=("status of 403",))
    page.goto(f"{args.keyed_url}/#/?from={facts['from']}&to={facts['to']}")
    page.wait_for_selector("body[data-state=need-key]", timeout=TIMEOUT_MS)
    check("needs an API key" in page.locator(".panel.key h2").inner_text(), "the page asks for the key")
    page.fill("#api-key", "not-the-key")
    page.click(".key-form button")
    page.wait_for_selector(".panel.key h2:has-text('refused')", timeout=TIMEOUT_MS)
    check("Check it and enter it again" in page.locator(".panel.key").inner_text(), "a wrong key says so and asks again")
    page.fill("#api-key", args.key)
    navigate(page, lambda: page.click(".key-form button"))
    check(tiles(page).get("events") == facts["tiles"]["events"], "with the right key, the overview shows the events")
    page.reload()
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    check(page.locator("#forget-key").is_visible(), "the key is kept for the session")
    context.close()


def through_ui(playwright, args, facts, errors):
    context = launch(playwright)
    page = context.new_page()
    watch(page, errors)
    page.goto(f"{args.ui_url}/#/?from={facts['from']}&to={facts['to']}")
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    shown = {k: v for k, v in tiles(page).items() if k != "alerts"}
    check(shown == facts["tiles"], f"through tracker ui: tiles {shown}")
    context.close()


def screenshots(playwright, args, facts):
    context = launch(playwright)
    page = context.new_page()
    shots = facts["screenshots"]
    for name, route, height in [
        ("overview", "#/", 1100),
        ("principal", f"#/principal/{urllib.parse.quote(facts['principal'])}", 1500),
        ("alerts", "#/alerts", 900),
    ]:
        page.set_viewport_size({"width": 1280, "height": height})
        page.goto(f"{args.url}/{route}?from={shots['from']}&to={shots['to']}")
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        page.mouse.move(0, 0)
        page.screenshot(path=f"{args.screenshots}/{name}.png")
    context.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--facts", required=True)
    parser.add_argument("--keyed-url")
    parser.add_argument("--key")
    parser.add_argument("--ui-url")
    parser.add_argument("--screenshots")
    args = parser.parse_args()
    with open(args.facts) as f:
        facts = json.load(f)
    errors = []
    with sync_playwright() as playwright:
        context = launch(playwright)
        page = context.new_page()
        watch(page, errors)
        overview(page, args, facts)
        alerts(page, args, facts)
        principal(page, args, facts)
        search(page, args, facts)
        context.close()
        if args.keyed_url:
            keyed(playwright, args, facts, errors)
        if args.ui_url:
            through_ui(playwright, args, facts, errors)
        if args.screenshots:
            screenshots(playwright, args, facts)
    for error in errors:
        check(False, error)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("dashboard: every check passed")


if __name__ == "__main__":
    main()
