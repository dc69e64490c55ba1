"""``dangling-ref`` and ``missing-owner``: relations that resolve to nothing.

The relation fields and their default kinds follow Backstage's catalog model
(``dependsOn`` and ``dependencyOf`` have no default kind); a ref resolves as
Backstage's ``parseEntityRef`` does, with the field's default kind and the
entity's own namespace. An entity with no ``spec.owner`` at all is
``missing-owner`` (an error by default); an owner that resolves to nothing is a
``dangling-ref`` like any other relation (a warning by default: most
organisations load their Groups from an org provider, not from catalog files).
A relation resolves when Backstage will have its target: an assembled entity of
a kind the feed serves (one outside ``backstage.kinds`` is kept, never emitted,
so a relation to it dangles in Backstage and here) whose document Backstage's
rules accept (one refused as ``invalid-entity`` is not served either:
``CheckContext.refused``).
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from trueup.checks.base import CheckContext, CheckPlugin, Draft
from trueup.config_model import CheckConfig
from trueup.errors import RefError
from trueup.model.finding import Code, Finding, JSONValue, finding
from trueup.model.ref import EntityRef, parse_ref

# spec field -> default kind (None: the kind is required)
RELATION_FIELDS: dict[str, str | None] = {
    "owner": "group",
    "system": "system",
    "domain": "domain",
    "subcomponentOf": "component",
    "providesApis": "api",
    "consumesApis": "api",
    "dependsOn": None,
    "dependencyOf": None,
    "parent": "group",
    "children": "group",
    "memberOf": "group",
    "members": "user",
    "subdomainOf": "domain",
    "partOf": "system",
}
OWNED_KINDS = frozenset({"component", "api", "resource", "system", "domain"})


def names_any(ref: EntityRef, spec: object, targets: Container[EntityRef]) -> bool:
    """Whether the entity ``ref`` with ``spec`` names one of ``targets`` in a relation."""
    return any(t is not None and t in targets for _, _, t in relation_targets(ref, spec))


def relation_targets(ref: EntityRef, spec: object) -> Iterator[tuple[str, str, EntityRef | None]]:
    """(field, raw value, parsed ref or None when unparseable) for every relation."""
    if not isinstance(spec, dict):
        return
    for name, default_kind in RELATION_FIELDS.items():
        value = spec.get(name)
        if value is None:  # most of the fields, on most entities
            continue
        for raw in value if isinstance(value, list) else (value,):
            try:
                target = parse_ref(raw, default_kind=default_kind, default_namespace=ref.namespace)
            except RefError:
                yield name, str(raw), None
            else:
                yield name, str(raw), target


class RelationsCheck:
    def check(self, draft: Draft, context: CheckContext) -> Iterator[Finding]:
        subject = str(draft.ref)
        spec = draft.entity.get("spec")
        owner = spec.get("owner") if isinstance(spec, dict) else None
        if draft.declared and draft.ref.kind in OWNED_KINDS and not owner:
            yield finding(Code.MISSING_OWNER, subject, "no spec.owner", field="spec.owner")
        for name, raw, target in relation_targets(draft.ref, spec):
            unserved: dict[str, JSONValue] = {}  # evidence of a target the feed does not serve
            if target is None:
                reason = "is not a valid reference"
            elif target not in context.refs:
                reason = "resolves to nothing"
            elif not context.emission.allows(target.kind):
                reason = (
                    "resolves to an entity that is not served: "
                    f"kind {target.kind!r} is not in backstage.kinds"
                )
                unserved = {"unserved_kind": target.kind}
            elif target in context.refused:
                reason = "resolves to an entity that is not served: it breaks Backstage's rules"
                unserved = {"unserved_code": "invalid-entity"}
            else:
                continue
            if name == "owner" and not (draft.declared and owner):
                # a discovered entity's owner is a placeholder, not a claim; an empty
                # owner is "no spec.owner" above
                continue
            yield finding(
                Code.DANGLING_REF,
                subject,
                f"spec.{name} {raw!r} {reason}",
                field=f"spec.{name}",
                value=raw,
                target=str(target) if target else None,
                **unserved,
            )


PLUGIN = CheckPlugin(
    config=CheckConfig,
    create=lambda config: RelationsCheck(),
    summary="dangling-ref, missing-owner: relations that resolve to nothing",
)
