"""/docs works offline: Swagger UI's files come from openkling itself (the swagger-ui-bundle
package), so Chromium renders the API reference with every request off loopback blocked."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright import sync_api as playwright_api

from support.browser import launch_chromium
from support.harness import AppServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = AppServer(socket=True, data_dir=tmp_path_factory.mktemp("apidocs")).start()
    yield app
    app.stop()


def test_docs_render_with_every_outside_request_blocked(server):
    blocked: list[str] = []
    served: list[str] = []

    def only_loopback(route: playwright_api.Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
            served.append(url)
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_loopback)
            page.goto(server.base_url + "/docs")
            # the operations are rendered from the app's own OpenAPI document
            operation = page.locator(".opblock-summary-path", has_text="/v1/videos/text2video")
            playwright_api.expect(operation.first).to_be_visible(timeout=20_000)
            assert page.locator(".opblock").count() > 10
            page.locator(".opblock-summary-path", has_text="/v1/videos/text2video").first.click()
            playwright_api.expect(page.get_by_text("Try it out").first).to_be_visible()
        finally:
            browser.close()
    assert blocked == [], f"/docs asked the internet for {blocked}"
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in served)


def test_only_the_page_assets_are_served(server):
    http = server.client
    js = http.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert http.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    for name in ("index.html", "..%2Fswagger-ui.js", "swagger-ui-bundle.js.map"):
        assert http.get(f"/docs/assets/{name}").status_code == 404
