"""Load a ``kubectl get -o json`` export into a loopback API server, kinds included.

Called by the demo's live clusters (:mod:`trueup.world.live`). An export holds
objects, not always the definitions of their kinds: the demo's clusters list
Argo CD Applications without Argo CD's CRD, and Crossplane claims whose CRDs
Crossplane itself would have made from a CompositeResourceDefinition. So that
discovery answers as the real cluster would, :func:`served_kinds` works out
what to serve, in this order:

1. the CustomResourceDefinitions in the export (stored first: storing one
   registers its kinds, as on a real server);
2. for each CompositeResourceDefinition (XRD): the XRD kind itself, and what
   Crossplane makes of it — the composite kind of every served version
   (namespaced for a v2 XRD unless its ``scope`` says ``Cluster`` or
   ``LegacyCluster``) and, for a v1 or ``LegacyCluster`` XRD with
   ``claimNames``, the namespaced claim kind;
3. every other kind the export uses and nothing defines: its plural guessed as
   Kubernetes' ``UnsafeGuessKindToResource`` does, namespaced when its objects
   have a namespace, in the ``managed`` category when a composite lists it in
   its resource refs (how Crossplane providers' CRDs are categorised).

Kinds are served without inventing objects: the store then holds exactly the
export's objects (their ``resourceVersion`` is the server's own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trueup.testing.kube_api.cluster_state import ResourceInfo
from trueup.testing.kube_api.selectors import Obj
from trueup.testing.kube_api.server import FakeApiServer

CRD_API = "apiextensions.k8s.io/v1"
XRD_GROUP = "apiextensions.crossplane.io"
XRD_PLURAL = "compositeresourcedefinitions"


def guess_plural(kind: str) -> str:
    """As Kubernetes guesses: ``Application`` → ``applications``, ``Policy`` → ``policies``."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _is_crd(obj: Obj) -> bool:
    return obj.get("apiVersion") == CRD_API and obj.get("kind") == "CustomResourceDefinition"


def _is_xrd(obj: Obj) -> bool:
    group, _ = _split(str(obj.get("apiVersion", "")))
    return group == XRD_GROUP and obj.get("kind") == "CompositeResourceDefinition"


def xrd_kind(version: str) -> ResourceInfo:
    """The CompositeResourceDefinition kind: what installing Crossplane serves."""
    return ResourceInfo(
        XRD_GROUP,
        version,
        XRD_PLURAL,
        "CompositeResourceDefinition",
        False,
        "compositeresourcedefinition",
        ("xrd", "xrds"),
        ("crossplane",),
    )


def argocd_application_kind() -> ResourceInfo:
    """The Argo CD Application kind: what installing Argo CD serves."""
    return ResourceInfo(
        "argoproj.io",
        "v1alpha1",
        "applications",
        "Application",
        True,
        "application",
        ("app", "apps"),
    )


def kinds_of_xrd(xrd: Obj) -> list[ResourceInfo]:
    """The XRD kind, and the composite (and claim) kinds Crossplane would serve for it."""
    _, api = _split(str(xrd.get("apiVersion", "")))
    out = [xrd_kind(api)]
    spec = xrd.get("spec") or {}
    group, names, claim = spec.get("group"), spec.get("names") or {}, spec.get("claimNames")
    if not group or not names.get("kind") or not names.get("plural"):
        return out
    scope = spec.get("scope") or ("LegacyCluster" if api == "v1" else "Namespaced")
    for version in spec.get("versions") or []:
        if version.get("served", True) is False or not version.get("name"):
            continue
        kind = str(names["kind"])
        out.append(
            ResourceInfo(
                group,
                version["name"],
                names["plural"],
                kind,
                scope == "Namespaced",
                kind.lower(),
                categories=("composite",),
            )
        )
        if scope == "LegacyCluster" and claim and claim.get("kind") and claim.get("plural"):
            out.append(
                ResourceInfo(
                    group,
                    version["name"],
                    claim["plural"],
                    claim["kind"],
                    True,
                    str(claim["kind"]).lower(),
                    categories=("claim",),
                )
            )
    return out


def _composed(objects: Iterable[Obj]) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every resource a composite says it composed."""
    found: set[tuple[str, str]] = set()
    for obj in objects:
        spec = obj.get("spec") or {}
        refs = spec.get("resourceRefs") or (spec.get("crossplane") or {}).get("resourceRefs")
        for ref in refs or []:
            if ref.get("apiVersion") and ref.get("kind"):
                found.add((str(ref["apiVersion"]), str(ref["kind"])))
    return found


def served_kinds(objects: Sequence[Obj], defined: Iterable[ResourceInfo]) -> list[ResourceInfo]:
    """The kinds to serve (beyond ``defined`` and the export's CRDs) so every object fits."""
    known = {(info.group_version, info.kind) for info in defined}
    for obj in objects:
        if _is_crd(obj):
            spec = obj.get("spec") or {}
            for version in spec.get("versions") or []:
                gv = f"{spec.get('group')}/{version.get('name')}"
                known.add((gv, str((spec.get("names") or {}).get("kind"))))
    out: list[ResourceInfo] = []
    for xrd in (o for o in objects if _is_xrd(o)):
        for info in kinds_of_xrd(xrd):
            if (info.group_version, info.kind) not in known:
                known.add((info.group_version, info.kind))
                out.append(info)
    composed = _composed(objects)
    namespaced_kinds = {
        (str(o["apiVersion"]), str(o["kind"]))
        for o in objects
        if (o.get("metadata") or {}).get("namespace")
    }
    for obj in objects:
        key = (str(obj["apiVersion"]), str(obj["kind"]))
        if key in known:
            continue
        known.add(key)
        group, version = _split(key[0])
        namespaced = key in namespaced_kinds
        out.append(
            ResourceInfo(
                group,
                version,
                guess_plural(key[1]),
                key[1],
                namespaced,
                key[1].lower(),
                categories=("managed",) if key in composed else (),
            )
        )
    return out


def load_export(server: FakeApiServer, objects: Sequence[Obj]) -> int:
    """Serve the kinds ``objects`` need and store every object; returns how many were stored.

    CRDs go first, then XRDs, then the rest in the export's order.
    """
    for obj in objects:
        if not obj.get("apiVersion") or not obj.get("kind"):
            raise ValueError(f"an export item without apiVersion or kind: {obj!r:.200}")
    crds = [o for o in objects if _is_crd(o)]
    server.apply(*crds)
    for info in served_kinds(objects, server.state.resources()):
        server.state.register(info)
    xrds = [o for o in objects if _is_xrd(o)]
    rest = [o for o in objects if not _is_crd(o) and not _is_xrd(o)]
    server.apply(*xrds, *rest)
    return len(crds) + len(xrds) + len(rest)
