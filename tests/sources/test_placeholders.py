"""``$text``/``$json``/``$yaml`` placeholders, as Backstage resolves them (SPEC 4.1).

Through the real ``file`` source on a real folder and the real ``git`` source on
a real repository: relative to the descriptor, in the same folder or commit,
size-capped, never out of the root, the file read recorded as a locator, and a
change to the referenced file alone re-reads the descriptor.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.sources.git.conftest import WorkRepo, make_source, read
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.observation import Observation, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

API = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: {name}
  description: An API
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition:
    {key}: {target}
"""


def api(name: str, target: str, key: str = "$text") -> str:
    return API.format(name=name, key=key, target=target)


def read_folder(
    folder: Path,
    data: Path | None = None,
    *,
    previous: Snapshot | None = None,
    now: datetime = T0,
    policy: EmissionPolicy | None = None,
) -> Snapshot:
    source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(folder)))
    context = ReadContext(
        now=lambda: now,
        previous={"catalog": previous} if previous else {},
        data_dir=data,
        emission=policy or DEFAULT_POLICY,
    )
    (result,) = source.observe(context)
    assert isinstance(result, Snapshot), result
    return result


def by_name(snapshot: Snapshot) -> dict[str, Observation]:
    return {o.ref.name: o for o in snapshot.observations}


def problems(snapshot: Snapshot) -> list[str]:
    return [f.message for f in snapshot.findings if f.evidence.get("rule") == "placeholder"]


def test_text_json_and_yaml_are_resolved_relative_to_the_descriptor(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    (folder / "apis" / "specs").mkdir(parents=True)
    (folder / "apis" / "specs" / "orders.yaml").write_text("openapi: 3.0.0\n")
    (folder / "apis" / "owner.json").write_text('{"team": "team-a", "oncall": [1, 2]}')
    (folder / "apis" / "extra.yaml").write_text("- url: https://x.example\n  title: X\n")
    descriptor = api("orders", "./specs/orders.yaml").replace(
        "  description: An API\n", "  description: An API\n  links: {$yaml: extra.yaml}\n"
    )
    descriptor += "  contact: {$json: ./owner.json}\n"
    (folder / "apis" / "catalog-info.yaml").write_text(descriptor)
    snap = read_folder(folder)
    assert snap.findings == ()
    orders = by_name(snap)["orders"]
    assert orders.fields["spec.definition"] == "openapi: 3.0.0\n"
    assert orders.fields["metadata.links"] == [{"url": "https://x.example", "title": "X"}]
    assert orders.fields["spec.contact"] == {"team": "team-a", "oncall": [1, 2]}
    referenced = dict(orders.references)
    assert set(referenced) == {"spec.definition", "metadata.links", "spec.contact"}
    assert referenced["spec.definition"].startswith("catalog@")
    assert referenced["spec.definition"].endswith(":apis/specs/orders.yaml")


def test_a_placeholder_leading_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("s3cr3t")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    (folder / "a.yaml").write_text(
        "---\n".join(
            [
                api("dots", "../secret.txt"),
                api("rooted", "/../secret.txt"),
                api("linked", "./link.txt"),
                api("url", "https://example.com/spec.yaml"),
                api("missing", "./nope.yaml"),
            ]
        )
    )
    snap = read_folder(folder)
    assert snap.observations == ()
    assert all("s3cr3t" not in repr(f) for f in snap.findings)
    said = problems(snap)
    assert len(said) == 5
    assert sum("leads out of the folder" in m for m in said) == 3
    assert any("is a URL" in m for m in said)
    assert any("does not exist" in m for m in said)


def test_a_placeholder_over_the_cap_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "big.txt").write_text("x" * 2000)
    (folder / "a.yaml").write_text(api("big", "big.txt"))
    snap = read_folder(folder, policy=EmissionPolicy(max_placeholder_bytes=1000))
    assert snap.observations == ()
    assert "over the 1000-byte placeholder cap" in problems(snap)[0]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("{$ref: '#/definitions/x', type: object}", {"$ref": "#/definitions/x", "type": "object"}),
        ("{$text: 42}", {"$text": 42}),
        ("{$unknown: ./a.txt}", {"$unknown": "./a.txt"}),
    ],
)
def test_what_is_no_placeholder_is_left_alone(tmp_path: Path, value: str, kept: object) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.txt").write_text("text")
    doc = api("x", "a.txt").replace("  definition:\n    $text: a.txt\n", f"  schema: {value}\n")
    doc = doc.replace("  type: openapi\n", "  type: openapi\n  definition: d\n")
    (folder / "a.yaml").write_text(doc)
    snap = read_folder(folder)
    assert by_name(snap)["x"].fields["spec.schema"] == kept


@pytest.mark.parametrize("key", ['"\\x24text"', '"\\u0024text"', '"\\U00000024text"'])
def test_a_placeholder_key_written_as_an_escape_is_a_placeholder(tmp_path: Path, key: str) -> None:
    # No "$" in the file: the escape in a double-quoted key writes it, as Backstage reads it.
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.txt").write_text("text")
    descriptor = api("x", "a.txt", key=key)
    assert "$" not in descriptor
    (folder / "a.yaml").write_text(descriptor)
    snap = read_folder(folder)
    assert by_name(snap)["x"].fields["spec.definition"] == "text"


def test_yaml_and_json_that_do_not_parse_are_findings(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "two.yaml").write_text("a: 1\n---\nb: 2\n")
    (folder / "bad.json").write_text('{"a": NaN}')
    (folder / "a.yaml").write_text(
        api("two", "two.yaml", key="$yaml") + "---\n" + api("bad", "bad.json", key="$json")
    )
    snap = read_folder(folder, policy=EmissionPolicy())
    said = problems(snap)
    assert any("holds 2 YAML documents" in m for m in said)
    assert any("is not valid JSON" in m for m in said)


def test_a_change_to_only_the_referenced_file_reads_the_descriptor_again(tmp_path: Path) -> None:
    folder, data = tmp_path / "catalog", tmp_path / "data"
    folder.mkdir()
    (folder / "spec.yaml").write_text("version: 1\n")
    (folder / "a.yaml").write_text(api("orders", "spec.yaml"))
    first = read_folder(folder, data)
    assert by_name(first)["orders"].fields["spec.definition"] == "version: 1\n"

    unchanged = read_folder(folder, data, previous=first, now=T0 + timedelta(hours=1))
    assert unchanged.observations == first.observations  # not parsed again: first seen at T0

    (folder / "spec.yaml").write_text("version: 2\n")
    changed = read_folder(folder, data, previous=unchanged, now=T0 + timedelta(hours=2))
    orders = by_name(changed)["orders"]
    assert orders.fields["spec.definition"] == "version: 2\n"
    assert orders.provenance.observed_at == T0 + timedelta(hours=2)
    assert dict(orders.references) != dict(by_name(first)["orders"].references)

    (folder / "spec.yaml").unlink()  # the referenced file goes away: the entity keeps its last
    gone = read_folder(folder, data, previous=changed, now=T0 + timedelta(hours=3))
    assert by_name(gone)["orders"].fields["spec.definition"] == "version: 2\n"
    assert "does not exist" in problems(gone)[0]


# --- git -----------------------------------------------------------------------------


def test_git_placeholders_read_the_same_commit_and_urls_into_the_repository(
    tmp_path: Path,
) -> None:
    work = WorkRepo(tmp_path / "work")
    work.write("specs/orders.yaml", "version: 1\n")
    work.write("specs/events.yaml", "events: 1\n")
    url = "https://github.com/acme/catalog/blob/main/specs/events.yaml"
    work.write(
        "apis/catalog-info.yaml",
        api("orders", "../specs/orders.yaml"),
        api("events", url),
        api("elsewhere", "https://github.com/acme/other/blob/main/x.yaml"),
    )
    first_head = work.commit()
    os.symlink("/etc/hostname", work.path / "specs" / "link.yaml")
    work.write("apis/linked/catalog-info.yaml", api("linked", "../../specs/link.yaml"))
    work.commit()
    source = make_source(
        str(work.path),
        include=["**/catalog-info.yaml"],
        web={"base": "https://github.com/acme/catalog", "host": "github"},
    )
    data = tmp_path / "data"
    snap = read(source, data)
    assert isinstance(snap, Snapshot)
    found = by_name(snap)
    assert found["orders"].fields["spec.definition"] == "version: 1\n"
    assert found["events"].fields["spec.definition"] == "events: 1\n"
    head = work.head()
    assert dict(found["orders"].references) == {
        "spec.definition": f"work@{head[:12]}:specs/orders.yaml"
    }
    said = problems(snap)
    assert any("outside this repository" in m for m in said)
    assert any("no regular file" in m for m in said)  # a symlink is no file
    assert {"elsewhere", "linked"}.isdisjoint(found)
    assert first_head != head

    # Only the referenced file changes: the descriptor's blob is the same, yet it is read again.
    work.write("specs/orders.yaml", "version: 2\n")
    work.commit()
    again = read(source, data, previous=snap)
    assert isinstance(again, Snapshot)
    assert by_name(again)["orders"].fields["spec.definition"] == "version: 2\n"
    assert source.files_parsed == 1  # the one descriptor whose placeholder file changed


def test_git_placeholder_urls_are_decoded_before_they_are_kept_inside_the_repository(
    tmp_path: Path,
) -> None:
    # A percent-encoded ``..`` or NUL in a URL placeholder is one document's problem:
    # the other entities of the file and the repository are read as usual.
    work = WorkRepo(tmp_path / "work")
    work.write("specs/orders.yaml", "version: 1\n")
    base = "https://github.com/acme/catalog/blob/main"
    work.write(
        "apis/catalog-info.yaml",
        api("orders", "../specs/orders.yaml"),
        api("climbs", f"{base}/%2E%2E/outside.yaml"),
        api("nul", f"{base}/specs/a%00b.yaml"),
        api("dotted", f"{base}/apis/%2e%2e/specs/orders.yaml"),
    )
    work.commit()
    source = make_source(
        str(work.path), web={"base": "https://github.com/acme/catalog", "host": "github"}
    )
    snap = read(source, tmp_path / "data")
    assert isinstance(snap, Snapshot), snap
    found = by_name(snap)
    assert found["orders"].fields["spec.definition"] == "version: 1\n"
    # As a browser resolves it (%2e%2e is a ``..`` segment): the file in the same commit.
    assert found["dotted"].fields["spec.definition"] == "version: 1\n"
    assert {"climbs", "nul"}.isdisjoint(found)
    said = problems(snap)
    assert any("climbs" in m or "%2E%2E" in m for m in said), said
    assert any("a%00b" in m for m in said), said


def test_yaml_data_that_a_yaml_1_1_directive_makes_read_otherwise_is_refused(
    tmp_path: Path,
) -> None:
    """Backstage's ``$yaml`` resolver honours ``%YAML 1.1`` (``on`` is true there)."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "spec.yaml").write_text("openapi: 3.0.0\n")
    (folder / "alike.yaml").write_text("%YAML 1.1\n---\nmode: 'on'\nport: 8080\n")
    (folder / "otherwise.yaml").write_text("%YAML 1.1\n---\nmode: on\n")
    (folder / "a.yaml").write_text(
        api("alike", "./spec.yaml")
        + "  contact: {$yaml: ./alike.yaml}\n---\n"
        + api("otherwise", "./spec.yaml")
        + "  contact: {$yaml: ./otherwise.yaml}\n"
    )
    snap = read_folder(folder)
    assert by_name(snap)["alike"].fields["spec.contact"] == {"mode": "on", "port": 8080}
    assert "otherwise" not in by_name(snap)
    (problem,) = problems(snap)
    assert (
        "$yaml './otherwise.yaml': is read otherwise by Backstage: mode: 'on' is read " in problem
    )
    assert "as true under the file's %YAML 1.1 directive" in problem
    assert problem.endswith("[yaml-1.1] [placeholder]")
