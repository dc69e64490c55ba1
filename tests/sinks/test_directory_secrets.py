"""A secret learnt after an entity's file was written leaves that file (SPEC 10).

The directory sink rewrites only the entities a commit revised. A value that
becomes a known secret later (a token added to ``trueup.yaml``, a ``${VAR}``
whose value already sits in some field, a token a source meets) changes no
entity, yet the feed masks it from then on: the folder must too, so the sink
runs its full pass when the secrets known are not those its files were masked
with. What it keeps to tell is a salted, slow fingerprint of them all, never a
value nor a plain hash of one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.assemble.builders import NOW, component, group, intent, policy, snapshot, system
from tests.sinks.test_directory import publication_of, sink
from trueup.assemble.assembler import assemble
from trueup.cli import main
from trueup.feed import FeedRow, feed_row
from trueup.redaction import KNOWN_SECRETS
from trueup.sinks.base import Publication
from trueup.sinks.directory.sink import MASKED

SECRET = "Rotated-deploy-key-3f9a1c"
TOKENS = "server:\n  tokens:\n    - {name: backstage, role: read, token: '${READ_TOKEN}'}\n"
PAYMENTS = "default/component/payments.yaml"


def holding(folder: Path, text: str) -> list[str]:
    """The files of ``folder`` (the sink's own bookkeeping too) that contain ``text``."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and text in path.read_text(encoding="utf-8")
    )


# --- through a real sync -----------------------------------------------------------


def declared(name: str, description: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}, description: {description}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )


class World:
    """A catalog folder read by a file source, written by directory sinks (``out``...)."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root, self.db_url = root, db_url
        self.catalog = root / "catalog"
        self.catalog.mkdir()
        (self.catalog / "payments.yaml").write_text(declared("payments", f"uses {SECRET}"))
        (self.catalog / "orders.yaml").write_text(declared("orders", "takes orders"))
        self.out = root / "out"
        self.config = root / "trueup.yaml"

    def sync(self, extra: str = "", *, outs: tuple[str, ...] = ("out",)) -> None:
        sinks = "".join(f"  - {{type: directory, path: {self.root / out}}}\n" for out in outs)
        self.config.write_text(
            f"database: {self.db_url}\n"
            "sources:\n"
            f"  - {{id: catalog, type: file, path: {self.catalog}}}\n"
            "sinks:\n" + sinks + extra
        )
        assert main(["sync", "-c", str(self.config)]) == 0


@pytest.fixture
def world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("READ_TOKEN", SECRET)
    return World(tmp_path, db_url)


def test_an_unchanged_entity_file_loses_a_secret_learnt_after_it_was_written(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.sync()  # the value is no secret yet: written as it is
    assert holding(world.out, SECRET) == [PAYMENTS]

    world.sync(TOKENS)  # now it is a read token; no entity changed
    capsys.readouterr()
    assert main(["export", "-c", str(world.config)]) == 0
    assert 'description: "uses **********"' in capsys.readouterr().out  # the feed masks it

    assert holding(world.out, SECRET) == []
    assert 'description: "uses **********"' in (world.out / PAYMENTS).read_text()


def test_what_a_folder_keeps_of_the_secrets_gives_none_back(world: World) -> None:
    world.sync(TOKENS, outs=("out", "other"))
    records = [json.loads((world.root / out / MASKED).read_text()) for out in ("out", "other")]

    forms = {SECRET, quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]}
    for record in records:
        assert set(record) == {"salt", "secrets"}
        salt, text = bytes.fromhex(record["salt"]), json.dumps(record)
        assert len(salt) == 16 and len(record["secrets"]) == 64
        for form in forms:  # no form, no plain or salted fast hash of one
            data = form.encode()
            assert form not in text
            for name in ("md5", "sha1", "sha256", "sha512", "blake2b"):
                assert hashlib.new(name, data).hexdigest() not in text
                assert hashlib.new(name, salt + data).hexdigest() not in text
                assert hmac.new(salt, data, name).hexdigest() not in text
    # Each folder salts its own: the same secrets give two records that cannot be matched.
    assert records[0]["salt"] != records[1]["salt"]
    assert records[0]["secrets"] != records[1]["secrets"]


# --- through the sink's entry point ------------------------------------------------


def stored_rows(**spec: str) -> list[FeedRow]:
    """The stored rows of a group, a system and the payments component (its ``spec``)."""
    docs = [group("team-a"), system("shop"), component("payments", **spec)]
    result = assemble(
        [snapshot("catalog", "catalog", *(intent(d) for d in docs))], policy(), now=NOW
    )
    return [row for e in result.entities.values() if (row := feed_row(e)) is not None]


def unchanged_since(commit: int, stored: list[FeedRow]) -> Publication:
    """Store commit ``commit``, which revised no entity (an update reads no row)."""
    return publication_of(stored, frozenset(), [], commit=commit)


def test_a_secret_a_source_meets_between_two_writes_is_masked_by_the_next(
    tmp_path: Path,
) -> None:
    stored = stored_rows(build=SECRET)
    sink(tmp_path).write(publication_of(stored, None, [], commit=1))
    assert holding(tmp_path, SECRET) == [PAYMENTS]

    KNOWN_SECRETS.add(SECRET)  # a kubeconfig's token, a Terraform sensitive value
    report = sink(tmp_path).write(unchanged_since(2, stored))
    assert (report.written, report.unchanged) == (1, 2)  # the full pass: every file compared
    assert holding(tmp_path, SECRET) == []
    assert 'build: "**********"' in (tmp_path / PAYMENTS).read_text()

    report = sink(tmp_path).write(unchanged_since(3, stored))
    assert (report.written, report.unchanged) == (0, 0)  # the same secrets: an update again


def test_a_secret_learnt_while_the_rows_are_read_is_caught_by_the_next_write(
    tmp_path: Path,
) -> None:
    stored = stored_rows(build=SECRET)

    def learning() -> list[FeedRow]:  # the secret comes as the rows are being masked
        KNOWN_SECRETS.add(SECRET)
        return stored

    sink(tmp_path).write(Publication(learning, read_at=NOW, commit_number=1))
    assert holding(tmp_path, SECRET) == []  # these rows were masked with it

    # What the record says the files were masked with is older: one full pass more.
    report = sink(tmp_path).write(unchanged_since(2, stored))
    assert (report.written, report.unchanged) == (0, 3)
    report = sink(tmp_path).write(unchanged_since(3, stored))
    assert (report.written, report.unchanged) == (0, 0)


def test_a_folder_written_without_a_record_gets_the_full_pass(tmp_path: Path) -> None:
    stored = stored_rows(build=SECRET)
    sink(tmp_path).write(publication_of(stored, None, [], commit=1))
    damaged: list[Callable[[Path], object]] = [
        lambda record: record.unlink(),
        lambda record: record.write_text("{not json"),
    ]
    for commit, damage in enumerate(damaged, start=2):
        damage(tmp_path / MASKED)  # whatever it masked with, none can tell
        report = sink(tmp_path).write(unchanged_since(commit, stored))
        assert report.unchanged == 3
