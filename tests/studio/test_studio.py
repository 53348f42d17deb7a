"""The studio in a real Chromium against a real server, at desktop and phone widths."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import pytest
from playwright import sync_api as playwright_api

from support import processes
from support.browser import launch_chromium
from support.engines import GatedEngine
from support.pictures import encode, gradient
from support.server import FAST_ENV, LiveServer, cli, free_port

# Screenshots go to a temporary folder; docs/screenshots.py points this at docs/img (by hand).
SCREENSHOTS_ENV = "OPENKLING_TEST_SCREENSHOTS_DIR"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 860}, "device_scale_factor": 1},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# Pro videos are 1080p here: long enough for the bar to move and for Cancel to be pressed.
ENV = {
    "OPENKLING_PRO_SHORT_SIDE": "1080",
    "OPENKLING_FPS": "24",
    "OPENKLING_EVENTS_POLL_SECONDS": "0.25",
}

# Records every value a progress bar shows (CSP does not apply to evaluated test code).
WATCH_PROGRESS = """() => {
  window.__progress = [];
  const note = (el) => window.__progress.push(Number(el.getAttribute('aria-valuenow')));
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') note(r.target);
      for (const n of r.addedNodes || []) {
        if (n.querySelectorAll) n.querySelectorAll('[role=progressbar]').forEach(note);
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['aria-valuenow']});
}"""

METADATA_DURATION = """(v) => v.readyState >= 1 ? v.duration : new Promise((ok, bad) => {
  v.addEventListener('loadedmetadata', () => ok(v.duration), {once: true});
  v.addEventListener('error', () => bad(new Error('video error ' + (v.error && v.error.code))),
                     {once: true});
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(data_dir=tmp_path_factory.mktemp("studio"), env=ENV)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=list(SIZES))
def size(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def studio(browser, server, size):
    """One signed-in page per width, shared by the tests below in order, with its account."""
    account = server.new_account(credits=1000, name=f"studio-{size}")
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base_url + "/")
    # keyboard only: the key field, then Enter submits the sign-in form
    page.get_by_label("API key").focus()
    page.keyboard.type(account.secret_key)
    page.keyboard.press("Enter")
    playwright_api.expect(page.locator("#balance-value")).to_have_text("1000")
    yield page, account
    assert errors == [], errors
    context.close()


def balance(server, account) -> float:
    return server.request("GET", "/account/costs", account=account).json()["data"]["balance"]


def generate(page, prompt: str, *, mode: str = "std", duration: str = "5") -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Mode", exact=True).select_option(mode)
    page.get_by_label("Duration").select_option(duration)
    page.get_by_role("button", name="Generate").click()


def test_a_new_user_opens_the_printed_address_pastes_the_printed_key_and_watches(browser, tmp_path):
    """`openkling serve` on an empty data dir, exactly as the first start prints it."""
    log = tmp_path / "serve.log"
    env = {**os.environ, **FAST_ENV, "OPENKLING_DATA_DIR": str(tmp_path / "data")}
    with open(log, "w") as out:
        proc = processes.spawn(
            [sys.executable, "-m", "openkling", "serve", "--port", str(free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"serving on http", log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        printed = log.read_text()
        address = re.search(r"Studio: (http://\S+/)", printed).group(1)
        key = re.search(r"KLING_SECRET_KEY=(\S+)", printed).group(1)

        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(address)
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Prompt", exact=True).fill("a lighthouse in a storm")
        page.get_by_role("button", name="Generate").click()
        video = page.locator("#gallery video").first
        video.wait_for(timeout=60_000)
        assert abs(video.evaluate(METADATA_DURATION) - 5.0) < 0.2
        # it plays: time moves forward
        video.evaluate("(v) => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "(v) => v.currentTime > 0.2", arg=video.element_handle(), timeout=30_000
        )
        page.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_gallery_pages_through_the_accounts_tasks(browser, server):
    account = server.new_account(credits=500)
    ids = [
        server.request(
            "POST", "/v1/videos/text2video", json={"prompt": f"clip {n}"}, account=account
        ).json()["data"]["task_id"]
        for n in range(13)
    ]
    for task_id in ids:
        assert server.wait_task(task_id, account=account)["task_status"] == "succeed"
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(server.base_url + "/")
    page.get_by_label("API key").fill(account.secret_key)
    page.get_by_role("button", name="Sign in").click()
    tiles = page.locator("#gallery > li")
    playwright_api.expect(tiles).to_have_count(12)
    playwright_api.expect(tiles.first).to_contain_text("clip 12")  # newest first
    playwright_api.expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    page.get_by_role("button", name="Older").click()
    playwright_api.expect(tiles).to_have_count(1)
    playwright_api.expect(tiles.first).to_contain_text("clip 0")
    playwright_api.expect(page.get_by_role("button", name="Older")).to_be_disabled()
    page.get_by_role("button", name="Newer").click()
    playwright_api.expect(tiles).to_have_count(12)
    page.close()


def test_a_wrong_key_and_a_poor_account_show_the_servers_message(browser, server, size):
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    page.goto(server.base_url + "/")
    page.get_by_label("API key").fill("sk-not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    playwright_api.expect(alert).to_contain_text("API key is not valid")
    playwright_api.expect(page.locator("#studio-view")).to_be_hidden()

    poor = server.new_account(credits=5)
    page.get_by_label("API key").fill(poor.secret_key)
    page.get_by_role("button", name="Sign in").click()
    generate(page, "a kite over the sea")
    alert = page.locator("#form-alert")
    playwright_api.expect(alert).to_have_attribute("role", "alert")
    playwright_api.expect(alert).to_contain_text("account balance is 5 credits; this task costs 10")
    playwright_api.expect(alert).to_contain_text("HTTP 402")
    assert balance(server, poor) == 5
    context.close()


def test_every_control_is_labelled(studio):
    page, _ = studio
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
          .filter((el) => el.type !== 'hidden')
          .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                            || (el.textContent || '').trim()))
          .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    assert page.get_by_label("Prompt", exact=True).is_visible()
    assert page.get_by_label("Negative prompt").is_visible()
    options = page.get_by_label("Model").locator("option")
    playwright_api.expect(options.nth(6)).to_be_attached()  # the models arrive from the server
    assert page.get_by_label("Camera type").is_visible()
    # the six sliders of a simple move appear with it
    page.get_by_label("Camera type").select_option("simple")
    for axis in ("Horizontal", "Vertical", "Pan", "Tilt", "Roll", "Zoom"):
        assert page.get_by_label(axis, exact=True).is_visible()
    page.get_by_label("Zoom", exact=True).fill("4")
    page.get_by_label("Camera type").select_option("")
    # the cost follows the choice, before any click on Generate
    page.get_by_label("Mode", exact=True).select_option("pro")
    page.get_by_label("Duration").select_option("10")
    playwright_api.expect(page.locator("#cost")).to_have_text("Cost: 70 credits")
    page.get_by_label("Prompt", exact=True).fill("x" * 2501)
    playwright_api.expect(page.locator("#prompt-count")).to_have_text("2501 / 2500")


def test_generate_watch_the_bar_move_and_play_the_video(studio, server):
    page, account = studio
    page.evaluate(WATCH_PROGRESS)
    generate(page, "a lighthouse on a cliff in a storm", mode="pro")
    playwright_api.expect(page.locator("#queue [role=progressbar]")).to_have_count(1)
    video = page.locator("#gallery video").first
    video.wait_for(timeout=60_000)
    seen = page.evaluate("window.__progress")
    assert any(0 < value < 100 for value in seen), seen
    duration = video.evaluate(METADATA_DURATION)
    assert abs(duration - 5.0) < 0.2, duration
    assert video.get_attribute("poster")
    playwright_api.expect(page.locator("#queue [role=progressbar]")).to_have_count(0)
    playwright_api.expect(page.locator("#balance-value")).to_have_text("965")

    href = page.get_by_role("link", name="Download").first.get_attribute("href")
    resp = httpx.get(href if href.startswith("http") else server.base_url + href)
    assert resp.status_code == 200 and resp.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(resp.content)) as mp4:
        stream = mp4.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert abs(float(stream.duration * stream.time_base) - 5.0) < 0.2


def test_an_empty_prompt_shows_the_servers_field_error(studio, server):
    page, account = studio
    before = balance(server, account)
    page.get_by_label("Prompt", exact=True).fill("")
    page.get_by_role("button", name="Generate").click()
    alert = page.locator("#form-alert")
    playwright_api.expect(alert).to_contain_text("prompt: is required and must not be empty")
    playwright_api.expect(page.get_by_role("alert")).to_be_visible()
    assert balance(server, account) == before


def test_cancel_a_long_task_and_get_the_credits_back(studio, server):
    page, account = studio
    before = balance(server, account)
    generate(page, "a slow pan across a mountain range", mode="pro", duration="10")
    item = page.locator("#queue li").first
    item.get_by_role("button", name="Cancel").click()
    failed = page.locator("#gallery li[data-status=failed]").first
    playwright_api.expect(failed).to_contain_text("task was cancelled", timeout=30_000)
    playwright_api.expect(page.locator("#balance-value")).to_have_text(f"{before:g}")
    task_id = failed.get_attribute("data-task-id")
    task = server.request("GET", f"/v1/videos/text2video/{task_id}", account=account).json()
    assert task["data"]["task_status"] == "failed"
    assert task["data"]["final_unit_deduction"] == "0"
    assert balance(server, account) == before


def test_reuse_fills_the_form_and_examples_make_the_task_again(studio, server, tmp_path):
    page, account = studio
    tile = page.locator("#gallery li[data-status=succeed]").first
    task_id = tile.get_attribute("data-task-id")
    stored = server.request(
        "GET", f"/v1/videos/text2video/{task_id}/request", account=account
    ).json()["data"]
    page.get_by_label("Prompt", exact=True).fill("something else")
    page.get_by_label("Mode", exact=True).select_option("std")
    tile.get_by_role("button", name="Reuse").click()
    playwright_api.expect(page.get_by_label("Prompt", exact=True)).to_have_value(
        "a lighthouse on a cliff in a storm"
    )
    playwright_api.expect(page.get_by_label("Mode", exact=True)).to_have_value("pro")
    playwright_api.expect(page.get_by_label("Seed")).to_have_value(str(stored["seed"]))

    dialog = page.get_by_role("dialog")
    tile.get_by_role("button", name="Copy as curl").click()
    playwright_api.expect(dialog).to_contain_text("curl -X POST")
    playwright_api.expect(dialog).to_contain_text(f'"seed": {stored["seed"]}')
    dialog.get_by_role("button", name="Close").click()
    tile.get_by_role("button", name="Copy as Python").click()
    playwright_api.expect(dialog).to_contain_text("client.text2video.create_and_wait(")
    sdk_code = page.locator("#snippet-code").text_content()
    dialog.get_by_role("button", name="Close").click()
    tile.get_by_role("button", name="JWT example").click()
    playwright_api.expect(dialog).to_contain_text('algorithm="HS256"')
    code = page.locator("#snippet-code").text_content()
    dialog.get_by_role("button", name="Close").click()
    assert ast.literal_eval(code.split("body = ", 1)[1].split("\nresponse", 1)[0]) == stored

    # the SDK example runs as it is and makes the same video again (same settings and seed)
    env = {**os.environ, "KLING_ACCESS_KEY": account.access_key}
    env["KLING_SECRET_KEY"] = account.secret_key
    run = subprocess.run(
        [sys.executable, "-c", sdk_code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    made = Path(tmp_path, run.stdout.strip())
    assert made.suffix == ".mp4" and made.stat().st_size > 0
    again = server.request(
        "GET", f"/v1/videos/text2video/{made.stem}/request", account=account
    ).json()["data"]
    assert again == stored


def test_an_image_makes_an_image2video_task_that_plays(studio, server, tmp_path):
    page, account = studio
    picture = tmp_path / "portrait.png"
    picture.write_bytes(encode(gradient(360, 640, seed=3)))
    page.get_by_label("Model").select_option("kling-v1-6")
    page.get_by_label("Image", exact=True).set_input_files(str(picture))
    playwright_api.expect(page.get_by_role("img", name="Image: portrait.png")).to_be_visible()
    playwright_api.expect(page.get_by_label("Aspect ratio")).to_be_hidden()  # the image's
    generate(page, "the picture comes alive")
    tile = page.locator("#gallery li[data-status=succeed]").first
    playwright_api.expect(tile).to_contain_text("the picture comes alive", timeout=60_000)
    video = tile.locator("video")
    assert abs(video.evaluate(METADATA_DURATION) - 5.0) < 0.2
    assert video.evaluate("(v) => v.videoHeight > v.videoWidth")  # portrait, as the image
    task_id = tile.get_attribute("data-task-id")
    made = server.request("GET", f"/v1/videos/image2video/{task_id}", account=account).json()
    assert made["data"]["task_status"] == "succeed"
    page.get_by_role("button", name="Remove image").click()
    playwright_api.expect(page.get_by_label("Aspect ratio")).to_be_visible()


def test_the_shot_editor_makes_a_multi_shot_task_and_reuse_brings_it_back(studio, server):
    page, account = studio
    page.get_by_label("Model").select_option("kling-v3")
    page.get_by_label("Duration").select_option("5")
    page.get_by_label("Multi-shot").check()
    page.get_by_label("Shot 1 prompt").fill("a quiet village at dawn")
    page.get_by_label("Shot 1 seconds").fill("2")
    page.get_by_label("Shot 2 prompt").fill("a red car drives through it")
    page.get_by_label("Shot 2 seconds").fill("3")
    playwright_api.expect(page.locator("#shots-total")).to_have_text("Shots add up to 5 s of 5 s")
    page.get_by_role("button", name="Generate").click()
    tile = page.locator("#gallery li[data-status=succeed]").first
    playwright_api.expect(tile).to_contain_text(
        "a quiet village at dawn / a red car drives through it", timeout=60_000
    )
    playwright_api.expect(tile).to_contain_text("kling-v3")
    task_id = tile.get_attribute("data-task-id")
    stored = server.request(
        "GET", f"/v1/videos/text2video/{task_id}/request", account=account
    ).json()["data"]
    assert stored["multi_shot"] is True and stored["shot_type"] == "customize"
    assert [(s["prompt"], s["duration"]) for s in stored["multi_prompt"]] == [
        ("a quiet village at dawn", "2"),
        ("a red car drives through it", "3"),
    ]
    page.get_by_label("Multi-shot").uncheck()
    page.get_by_label("Model").select_option("kling-v1")
    tile.get_by_role("button", name="Reuse").click()
    playwright_api.expect(page.get_by_label("Model")).to_have_value("kling-v3")
    playwright_api.expect(page.get_by_label("Shot 2 prompt")).to_have_value(
        "a red car drives through it"
    )
    page.get_by_label("Multi-shot").uncheck()
    page.get_by_label("Model").select_option("kling-v1")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """Where screenshots go: a temporary folder, or $OPENKLING_TEST_SCREENSHOTS_DIR."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


def test_screenshot_then_forget_the_key(studio, server, size, screenshots):
    page, account = studio
    done = page.locator("#gallery li[data-status=succeed]")
    before = done.count()
    generate(page, "a red fox running through fresh snow at dawn")
    done.nth(before).wait_for(timeout=60_000)
    page.evaluate(WATCH_PROGRESS)
    generate(page, "a paper boat drifting down a rainy street, close up", mode="pro", duration="10")
    page.wait_for_function("() => window.__progress.some((v) => v > 20)", timeout=60_000)
    page.get_by_label("Prompt", exact=True).fill("a paper boat drifting down a rainy street")
    page.get_by_label("Seed").fill("")
    for video in page.locator("#gallery video").all():
        video.evaluate(METADATA_DURATION)
    # nothing is wider than the window: no sideways scrolling at phone width
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["viewport"]["width"]
    screenshots.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.activeElement.blur(); document.querySelector('.compose').scrollTop = 0")
    if size == "phone":  # the form is the top of the page; show the queue and the gallery
        page.locator("#queue-title").evaluate(
            "(h) => window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY"
            " - document.querySelector('.topbar').offsetHeight - 28)"
        )
    else:
        page.evaluate("window.scrollTo(0, 0)")
    shot = screenshots / f"studio-{size}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000  # a picture of the page, not an empty file

    page.get_by_role("button", name="Forget key").click()
    playwright_api.expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("localStorage.length") == 0
    page.reload()
    playwright_api.expect(page.get_by_label("API key")).to_be_visible()


def test_signing_in_with_access_and_secret_key_signs_a_jwt_in_the_browser(browser, server, size):
    account = server.new_account(credits=42)
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    tokens: list[str] = []
    page.on("request", lambda r: tokens.append(r.headers.get("authorization", "")))
    page.goto(server.base_url + "/")
    page.get_by_text("Use an access key and secret key").click()
    page.get_by_label("Access key").fill(account.access_key)
    page.get_by_label("Secret key").fill(account.secret_key)
    page.get_by_role("button", name="Sign in").click()
    playwright_api.expect(page.locator("#balance-value")).to_have_text("42")
    bearer = [t for t in tokens if t.startswith("Bearer ")]
    assert bearer and all(t.count(".") == 2 for t in bearer)  # JWTs, never the secret itself
    assert not any(account.secret_key in t for t in bearer)
    stored = json.loads(page.evaluate("localStorage.getItem('openkling.credentials')"))
    assert stored == {"accessKey": account.access_key, "secretKey": account.secret_key}
    context.close()


def test_a_revoked_key_signs_the_page_out_with_the_servers_message(browser, server):
    account = server.new_account(credits=10)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(server.base_url + "/")
    page.get_by_label("API key").fill(account.secret_key)
    page.get_by_role("button", name="Sign in").click()
    playwright_api.expect(page.locator("#live")).to_have_text("live")
    cli("keys", "revoke", account.access_key, data_dir=server.data_dir)
    alert = page.locator("#signin-alert")
    playwright_api.expect(alert).to_contain_text("API key is not valid (HTTP 401", timeout=30_000)
    playwright_api.expect(page.get_by_label("API key")).to_be_visible()
    page.close()


def test_a_waiting_task_shows_its_place_in_line_and_the_wait(browser, app_factory):
    """One worker, busy with a task held half way: the studio's queue says "2nd in line,
    about 40 s"."""
    engine = GatedEngine()
    engine.release()  # the first run ends, so that waits can be estimated
    live = app_factory(env={**ENV, "OPENKLING_WORKERS": "1"}, engine=engine, socket=True)
    account = live.new_account(credits=1000, name="line")
    body = {"prompt": "a quick test", "duration": "5"}
    first = live.request("POST", "/v1/videos/text2video", json=body, account=account)
    done = live.wait_task(first.json()["data"]["task_id"], account=account, timeout=60)
    assert done["task_status"] == "succeed"
    engine.hold()  # the next task keeps the only worker busy until the end of the test
    blocker = {"prompt": "a long blocker", "duration": "10"}
    assert live.request("POST", "/v1/videos/text2video", json=blocker, account=account)
    engine.wait_started()

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(live.base_url + "/")
    page.get_by_label("API key").fill(account.secret_key)
    page.get_by_role("button", name="Sign in").click()
    for prompt in ("waits first", "waits second"):
        generate(page, prompt)
    places = page.locator("#queue .place")
    playwright_api.expect(places.filter(has_text="next in line, about")).to_have_count(
        1, timeout=15_000
    )
    second = places.filter(has_text="2nd in line, about")
    playwright_api.expect(second).to_have_count(1)
    assert re.fullmatch(r"2nd in line, about \d+ (s|min)", second.inner_text())
    page.close()
    engine.release()
