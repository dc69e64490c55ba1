"""Findings are listed worst first, then by subject, code and message, numbers in
them read as numbers: ``document 2`` before ``document 10``, ``svc-9`` before ``svc-10``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trueup.cli import main
from trueup.views.quality import natural_key

BAD = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: 'bad name {i}'\n"


def test_numbers_in_text_order_as_numbers() -> None:
    texts = ["document 10", "document 2", "document 1", "doc", "document 2a", "svc-10", "svc-9"]
    assert sorted(texts, key=natural_key) == [
        "doc",
        "document 1",
        "document 2",
        "document 2a",
        "document 10",
        "svc-9",
        "svc-10",
    ]


def test_check_lists_a_file_s_documents_in_their_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "many.yaml").write_text("---\n".join(BAD.format(i=i) for i in range(12)))
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'trueup.db'}\n"
        f"sources:\n  - id: cat\n    type: file\n    path: {catalog}\n    include: ['*.yaml']\n"
    )
    main(["sync", "-c", str(config)])
    capsys.readouterr()
    main(["check", "-c", str(config), "--format", "json"])
    messages = [f["message"] for f in json.loads(capsys.readouterr().out)["findings"]]
    numbers = [int(m.split("document ")[1].split(":")[0]) for m in messages]
    assert numbers == list(range(12))
