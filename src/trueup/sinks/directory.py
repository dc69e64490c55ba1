"""The ``directory`` sink: one YAML file per entity, ``<namespace>/<kind>/<name>.yaml``.

The folder is rebuilt beside the old one and swapped in by rename, so a reader
sees the previous complete set or the new one. Called by the pipeline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from trueup.model.assembled import AssembledEntity
from trueup.sinks.feed import entity_yaml


def write_directory(path: Path, entities: Iterable[AssembledEntity]) -> int:
    """Write every entity; return how many were written."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    count = 0
    try:
        for entity in entities:
            ref = entity.ref
            target = staging / ref.namespace / ref.kind / f"{ref.name}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(entity_yaml(entity.entity), encoding="utf-8")
            count += 1
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count
