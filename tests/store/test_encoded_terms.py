"""An entity's dependency terms (``trueup.store.encoded.terms_of``): its relation targets."""

from __future__ import annotations

from trueup.store.encoded import terms_of

from .builders import assembled


def test_the_terms_are_the_parsed_relation_targets() -> None:
    entity = assembled(
        "svc", extra={"dependsOn": ["resource:db", "db"], "system": "shop", "providesApis": "x"}
    )
    assert terms_of(entity) == [  # "db" has no kind, which dependsOn needs: no term
        "r:api:default/x",
        "r:group:default/team-a",
        "r:resource:default/db",
        "r:system:default/shop",
    ]
