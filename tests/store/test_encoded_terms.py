"""An entity's dependency terms (``trueup.store.encoded.terms_of``).

The store assembles an entity and writes its terms later; the relation targets
its relations check read are handed on with it (``assemble_with_relations``), so
they are not parsed again: the terms must be those parsing its spec gives.
"""

from __future__ import annotations

from trueup.checks.relations import relation_targets
from trueup.store.encoded import encode_entity, terms_of

from .builders import assembled


def test_the_relations_an_assembly_gives_make_the_terms_parsing_the_spec_makes() -> None:
    entity = assembled(
        "svc", extra={"dependsOn": ["resource:db", "db"], "system": "shop", "providesApis": "x"}
    )
    relations = tuple(relation_targets(entity.ref, entity.entity["spec"]))
    assert terms_of(entity) == [  # "db" has no kind, which dependsOn needs: no term
        "r:api:default/x",
        "r:group:default/team-a",
        "r:resource:default/db",
        "r:system:default/shop",
    ]
    assert terms_of(entity, relations) == terms_of(entity)
    given = encode_entity(entity, None, relations=relations)
    assert given.for_write().terms == encode_entity(entity, None).for_write().terms
    assert given.relations is None  # not kept once written


def test_the_relations_given_are_the_ones_used() -> None:
    entity = assembled("svc")
    assert terms_of(entity, ()) == []  # nothing parsed again
