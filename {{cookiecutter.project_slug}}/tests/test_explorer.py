"""GraphiQL, served by the service itself: it works with no other host reachable.

The browser test runs headless Chromium (Debian's `chromium`, or Google Chrome; `CHROMIUM`
names another) with every host name but the service's address unresolvable. Without a
browser it skips, saying so; with CI set, it fails.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import gunicorn, serve

BROWSERS = ("chromium", "google-chrome", "google-chrome-stable", "chromium-browser")


class Loads(HTMLParser):
    """The addresses a page loads scripts and styles from, with their integrity hashes."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        stylesheet = tag == "link" and found.get("rel") == "stylesheet"
        if address := found.get("src") if tag == "script" else found.get("href") if stylesheet else None:
            self.files[address] = found.get("integrity")


def loads(page: str) -> dict[str, str | None]:
    parser = Loads()
    parser.feed(page)
    return parser.files


def browser() -> str:
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("no Chromium for the explorer test: apt install chromium, or set CHROMIUM")
    pytest.skip("no Chromium for the explorer test: apt install chromium, or set CHROMIUM")


async def test_the_page_loads_only_files_the_service_serves_as_published(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    files = loads(page.text)

    assert page.status_code == 200 and "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert len(files) >= 4
    for address, integrity in files.items():
        assert not urlsplit(address).netloc, f"{address} is on another host"
        asset = await client.get(urljoin("http://test/graphql", address), headers={"accept-encoding": "gzip"})
        assert asset.status_code == 200, address
        if integrity:  # what the browser checks: the hash of the file, decompressed
            digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
            assert integrity == f"sha384-{digest}", address


async def test_a_client_without_gzip_gets_the_same_file(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    address = urljoin("http://test/graphql", next(iter(loads(page.text))))

    compressed = await client.get(address, headers={"accept-encoding": "gzip"})
    plain = await client.get(address, headers={"accept-encoding": "identity"})

    assert compressed.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert plain.content == compressed.content  # httpx decompressed the first


async def test_an_unknown_file_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/explorer/..%2Fsettings.py")

    assert response.status_code == 404


async def test_production_serves_no_explorer_files(client: httpx.AsyncClient, settings: Settings, tables: None) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    address = urljoin("http://test/graphql", next(iter(loads(page.text))))

    async with serve(settings.model_copy(update={"app_env": "production"})) as production:
        response = await production.get(address)

    assert response.status_code == 404


def test_the_explorer_works_in_a_browser_that_reaches_no_other_host(database_url: str, tables: None) -> None:
    chromium = browser()
    with gunicorn(database_url, 1) as served, tempfile.TemporaryDirectory() as profile:
        shown = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # as root, Chromium starts only without its sandbox
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no CDN can serve a file
                "--virtual-time-budget=30000",  # virtual time: it stands still while the page loads
                "--dump-dom",
                f"{served.base}/graphql",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout
        metrics = httpx.get(f"{served.base}/metrics").text

    assert 'aria-label="Query Editor"' in shown and "FirstUsers" in shown  # GraphiQL, with the example query
    # GraphiQL asked the service for its schema, and got it.
    assert 'graphql_requests_total{operation="IntrospectionQuery",outcome="ok"} 1.0' in metrics
