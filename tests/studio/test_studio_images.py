"""The studio's Images tab in a real Chromium against a real server: pictures asked for with a
prompt, a count, an aspect ratio and a reference picture, priced before the click, and shown
when they are done."""

from __future__ import annotations

import pytest

from pictures import encode, gradient
from support.browser import launch_chromium
from support.harness import AppServer

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 860}, "device_scale_factor": 1},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("studio-images"))
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_images_tab_makes_priced_pictures_and_shows_them(browser, server, size, tmp_path):
    account = server.new_account(credits=100, name=f"images-{size}")
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base_url + "/")
    page.get_by_label("API key").fill(account.secret_key)
    page.keyboard.press("Enter")
    expect(page.locator("#balance-value")).to_have_text("100")

    page.get_by_role("tab", name="Images").click()
    expect(page.get_by_role("tab", name="Images")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#studio-view")).to_be_hidden()
    page.get_by_label("Picture prompt").fill("a red kite over green hills")
    page.get_by_label("Number of pictures").fill("2")
    page.get_by_label("Picture shape").select_option("9:16")
    expect(page.locator("#img-cost")).to_have_text("2 × 4 = 8 credits")
    page.get_by_role("button", name="Make pictures").click()

    task = page.locator("#img-results li").first
    expect(task.locator("img")).to_have_count(2, timeout=60_000)
    expect(task.locator(".meta")).to_contain_text("2 picture(s), 8 credits")
    sizes = task.locator("img").evaluate_all(
        "(imgs) => Promise.all(imgs.map((i) => i.decode()"
        "  .then(() => [i.naturalWidth, i.naturalHeight])))"
    )
    assert sizes == [[720, 1280], [720, 1280]]
    assert task.locator("img").first.get_attribute("alt") == (
        "Picture 1 of a red kite over green hills"
    )

    # from a reference picture: priced as image to image
    reference = tmp_path / "reference.png"
    reference.write_bytes(encode(gradient(400, 400, seed=1)))
    page.get_by_label("Number of pictures").fill("1")
    page.locator("#img-reference").set_input_files(str(reference))
    expect(page.locator("#img-cost")).to_have_text("1 × 8 = 8 credits")
    page.get_by_role("button", name="Make pictures").click()
    expect(page.locator("#img-results li")).to_have_count(2)
    expect(page.locator("#img-results li").first.locator("img")).to_have_count(1, timeout=60_000)
    expect(page.locator("#balance-value")).to_have_text("84")

    page.get_by_role("tab", name="Videos").click()
    expect(page.locator("#images-view")).to_be_hidden()
    expect(page.locator("#studio-view")).to_be_visible()
    assert errors == [], errors
    context.close()
