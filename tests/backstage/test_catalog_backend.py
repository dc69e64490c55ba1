"""A real Backstage catalog backend ingests trueup's export (issue 7 item 5b, SPEC 6.1).

``backstage-harness/catalog.mjs`` runs the pinned catalog plugin with SQLite in
memory on one location and reports, once processing settled, what it stitched and
every processing error. The second test proves a rejected location is reported;
the last drives a long-running catalog on a ``url`` location the way a test of
``trueup serve`` will: change the source, refresh, read again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.backstage.conftest import Export
from tests.backstage.documents import COMPONENT, TEMPLATE
from tests.backstage.harness import RunningCatalog, run_catalog


def test_real_catalog_ingests_every_exported_entity(demo_export: Export) -> None:
    report = run_catalog(demo_export.path)
    assert report.problems() == []
    assert report.ingested == demo_export.refs
    assert report.stitched == len(demo_export.documents) + 1  # the location's own entity
    assert report.location in report.entities
    assert report.orphans == ()


def test_real_catalog_rejects_the_whole_file_for_one_disallowed_kind(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(COMPONENT.format(name="a", extra="") + "---\n" + TEMPLATE, encoding="utf-8")
    report = run_catalog(path)
    assert report.entities == ()  # not even the valid Component, nor the location itself
    (error,) = report.location_errors
    assert error.startswith("NotAllowedError: Entity template:default/new-service")
    assert "is not of an allowed kind for that location" in error
    assert report.hook_errors == (f"{report.location}: {error}",)


class _Feed(BaseHTTPRequestHandler):
    """Serves the current text of one catalog file, like a feed would."""

    text = ""

    def do_GET(self) -> None:
        body = type(self).text.encode()
        self.send_response(200)
        self.send_header("content-type", "application/yaml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[tuple[str, type[_Feed]]]:
    handler = type("Feed", (_Feed,), {"text": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/backstage/entities.yaml", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_running_catalog_rereads_its_url_location_on_refresh(
    feed: tuple[str, type[_Feed]],
) -> None:
    url, source = feed
    source.text = (
        COMPONENT.format(name="a", extra="") + "---\n" + COMPONENT.format(name="b", extra="")
    )
    with RunningCatalog(url, location_type="url") as catalog:
        assert catalog.ready is not None
        assert catalog.ready.problems() == []
        assert catalog.ready.ingested == {"component:default/a", "component:default/b"}
        assert catalog.base_url.startswith("http://127.0.0.1:") and catalog.token

        source.text = (
            COMPONENT.format(name="a", extra="") + "---\n" + COMPONENT.format(name="c", extra="")
        )
        changed = catalog.refresh()
        assert changed.problems() == []
        assert changed.ingested == {"component:default/a", "component:default/c"}
        assert changed.orphans == ("component:default/b",)  # deleted by the catalog within 30 s

        source.text += "---\n" + TEMPLATE
        rejected = catalog.refresh()
        assert rejected.ingested == changed.ingested  # the last good read stays
        assert len(rejected.location_errors) == 1
        assert "template:default/new-service" in rejected.location_errors[0]
