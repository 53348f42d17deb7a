"""The studio's effects picker and Extend button in a real Chromium against a real server."""

from __future__ import annotations

import numpy as np
import pytest

from pictures import encode
from support.browser import launch_chromium
from support.harness import AppServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

DURATION = """(v) => v.readyState >= 1 ? v.duration : new Promise((ok) =>
  v.addEventListener('loadedmetadata', () => ok(v.duration), {once: true}))"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    server = AppServer(
        socket=True,
        data_dir=tmp_path_factory.mktemp("studio-neighbours"),
        env={"OPENKLING_FPS": "8", "OPENKLING_WORKERS": "2"},
    )
    server.start()
    try:
        with playwright_api.sync_playwright() as p:
            browser = launch_chromium(p)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.base_url + "/")
            page.get_by_label("API key").fill(server.secret_key)
            page.keyboard.press("Enter")
            expect(page.locator("#balance-value")).to_have_text("1000")
            yield page, server
            assert errors == [], errors
            browser.close()
    finally:
        server.stop()


def picture(path, colour):
    pixels = np.empty((400, 400, 3), np.uint8)
    pixels[:] = colour
    path.write_bytes(encode(pixels))
    return str(path)


def test_pick_a_dual_effect_play_it_then_extend_the_video(page, tmp_path):
    page, server = page
    scenes = page.get_by_label("Effect", exact=True)
    expect(scenes.locator("option[value=heart_gesture_pro]")).to_have_count(1)  # loaded
    options = scenes.locator("option").all_text_contents()
    assert {"zoom out", "day to night", "hug pro", "heart gesture pro"} <= set(options)
    expect(page.get_by_label("Right picture")).to_be_hidden()  # zoom_out: one picture

    scenes.select_option("hug_pro")
    expect(page.get_by_label("Right picture")).to_be_visible()
    expect(page.locator("#effect-cost")).to_contain_text("35 credits")
    page.get_by_label("Left picture").set_input_files(picture(tmp_path / "l.png", (220, 40, 40)))
    page.get_by_role("button", name="Play effect").click()
    expect(page.locator("#effects-alert")).to_contain_text("two pictures")  # one is missing
    page.get_by_label("Right picture").set_input_files(picture(tmp_path / "r.png", (40, 60, 220)))
    page.get_by_role("button", name="Play effect").click()

    tile = page.locator("#gallery li[data-status=succeed]").first
    expect(tile).to_contain_text("hug warmly", timeout=60_000)
    assert abs(tile.locator("video").evaluate(DURATION) - 5.0) < 0.2
    effect_id = tile.get_attribute("data-task-id")
    made = server.request("GET", f"/v1/videos/effects/{effect_id}").json()["data"]
    assert made["task_status"] == "succeed" and made["final_unit_deduction"] == "35"

    tile.get_by_role("button", name="Extend").click()
    longer = page.locator("#gallery li[data-status=succeed]").first
    expect(longer).not_to_have_attribute("data-task-id", effect_id, timeout=60_000)
    assert abs(longer.locator("video").evaluate(DURATION) - 10.0) < 0.3  # the whole video
    extension = longer.get_attribute("data-task-id")
    data = server.request("GET", f"/v1/videos/video-extend/{extension}").json()["data"]
    assert data["task_info"]["parent_video"]["id"] == made["task_result"]["videos"][0]["id"]
