"""The store's public names, which the pipeline, API and CLI code against."""

from __future__ import annotations

import trueup.store


def test_public_names() -> None:
    assert sorted(trueup.store.__all__) == [
        "Change",
        "CommitSummary",
        "Revision",
        "ScopeHealth",
        "Store",
        "StoredEntity",
        "SyncRun",
    ]
