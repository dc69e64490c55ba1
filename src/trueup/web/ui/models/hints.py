"""How to fix a finding: one short, specific sentence per finding code.

The dashboard's entity page shows :func:`fix_hint` under each finding. Hints use
the finding's own evidence (the field, the file, the place) so they say what to
change where, not only what is wrong; a dangling-ref's ``unserved_kind`` and
``unserved_code`` tell a target whose kind the feed does not serve, or that breaks
Backstage's rules, from one that does not exist. Pure; every value stays data (the
templates escape it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trueup.assemble.assembler import KIND_NAMES
from trueup.model.finding import Code, Finding, JSONValue

Evidence = Mapping[str, JSONValue]


def _text(evidence: Evidence, key: str, default: str) -> str:
    value = evidence.get(key)
    return str(value) if value not in (None, "") else default


def _invalid_entity(f: Finding) -> str:
    e = f.evidence
    where = _where(e)
    return (
        f"Change {_text(e, 'field', 'the field')}{where} to meet Backstage's rule "
        f"{_text(e, 'rule', 'named in the message')}; until then the entity stays out of the feed."
    )


def _invalid_file(f: Finding) -> str:
    e = f.evidence
    line = e.get("line")
    at = f" at line {line}" if isinstance(line, int) else ""
    return (
        f"Fix the YAML of {_text(e, 'path', 'the file')}{at}; trueup keeps serving this file's "
        "last good entities until it parses."
    )


def _dangling_ref(f: Finding) -> str:
    e = f.evidence
    target = _text(e, "target", _text(e, "value", "the referenced entity"))
    field = _text(e, "field", "the reference")
    unserved = e.get("unserved_kind")
    if isinstance(unserved, str) and unserved:
        kind = KIND_NAMES.get(unserved, unserved.capitalize())
        return (
            f"Add {kind} to backstage.kinds in trueup.yaml so {target} is served, "
            f"or change {field} to an entity the feed serves."
        )
    if e.get("unserved_code") == Code.INVALID_ENTITY.value:
        return (
            f"Fix {target}: its invalid-entity finding says which of Backstage's rules it "
            f"breaks; until then {field} points to an entity the feed leaves out."
        )
    return f"Declare {target}, or change {field} to an entity that exists."


def _missing_field(f: Finding) -> str:
    e = f.evidence
    return f"Add {_text(e, 'field', 'the field')} to the entity's catalog-info.yaml."


def _drift(f: Finding) -> str:
    e = f.evidence
    key, place = _text(e, "key", ""), _text(e, "place", "that place")
    if key == "argocd-sync":
        return f"Sync the Argo CD application at {place}, or change git to match what runs there."
    if key == "argocd-health":
        return (
            f"Open the Argo CD application at {place}: its resource tree shows what is unhealthy."
        )
    if key == "argocd-revision":
        head = _text(e, "head", "")[:12]
        branch = _text(e, "branch", "the branch")
        return (
            f"Let Argo CD deploy {branch}'s head {head} at {place}, or pin targetRevision "
            "if the older commit is intended."
        )
    if key.startswith("crossplane-"):
        return f"kubectl describe the claim at {place}: its conditions say why it is not True."
    if "lifecycle" in e:
        return (
            "Deploy it, or set spec.lifecycle to experimental or deprecated if it is not meant "
            "to run yet."
        )
    return "Bring what runs and what git declares back together."


def _stale(f: Finding) -> str:
    e = f.evidence
    source = _text(e, "source", "the source")
    return (
        f"{source} has not reported {_text(e, 'place', 'this place')} within its max_age: check "
        "its last error on the Sources page. Status stays Unknown until it reports again."
    )


def _removal_held(_f: Finding) -> str:
    return (
        "Check why the source returned fewer items. If the removals are real, release them on "
        "the Sources page (admin) or run trueup sync --accept-removals SOURCE."
    )


_HINTS: Mapping[str, Callable[[Finding], str]] = {
    Code.INVALID_ENTITY.value: _invalid_entity,
    Code.INVALID_FILE.value: _invalid_file,
    Code.DANGLING_REF.value: _dangling_ref,
    Code.MISSING_OWNER.value: lambda _f: (
        "Add spec.owner (a Group or User that exists) to the entity's catalog-info.yaml."
    ),
    Code.MISSING_FIELD.value: _missing_field,
    Code.CONFLICT.value: lambda _f: (
        "Declare the entity in one place, or set merge.precedence for the field so the "
        "intended source wins."
    ),
    Code.STALE.value: _stale,
    Code.DRIFT.value: _drift,
    Code.UNDECLARED.value: lambda _f: (
        "Declare it in a catalog-info.yaml with an owner, or stop running it if nobody owns it."
    ),
    Code.REMOVAL_HELD.value: _removal_held,
    Code.SOURCE_FAILED.value: lambda _f: (
        "Read the source's last error on the Sources page; trueup keeps its last good data "
        "meanwhile."
    ),
    Code.UNSUPPORTED_KIND.value: lambda _f: (
        "Add the kind to backstage.kinds (and to Backstage's catalog.rules), or remove the "
        "document."
    ),
    Code.INSECURE_CONNECTION.value: lambda _f: (
        "Give the kubeconfig context the cluster's CA (certificate-authority-data) instead of "
        "insecure-skip-tls-verify, and reach the API server over https."
    ),
}


def fix_hint(finding: Finding) -> str:
    """What to do about ``finding``, in one or two sentences."""
    hint = _HINTS.get(finding.code)
    if hint is None:
        return "See the message and its evidence."
    return hint(finding)


def _where(e: Evidence) -> str:
    path = e.get("path")
    if not path:
        return ""
    document = e.get("document")
    return f" in {path}" + (f" (document {document})" if isinstance(document, int) else "")
