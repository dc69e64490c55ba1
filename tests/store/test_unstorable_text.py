"""The store's last guard: text no store takes is written visible, never fails a commit.

The sources refuse a NUL or a lone surrogate in what they read, with a finding. A
message that quotes such input (a plugin's failure, a finding) must not make every
commit fail on either backend: it is stored with the character written as text.
"""

from __future__ import annotations

from trueup.model.finding import Code, finding
from trueup.model.observation import FailureKind, ScopeFailure
from trueup.model.ref import EntityRef
from trueup.store import Store

from .builders import T0, assembled, result


def test_a_failure_and_a_finding_quoting_unstorable_text_are_stored_visibly(
    store: Store,
) -> None:
    run = store.start_run(trigger="test", sources=["hub"], now=T0)
    failure = ScopeFailure("hub", "prod", FailureKind.ERROR, "bad name a\ud800b, c\0d", T0)
    quoting = finding(
        Code.INVALID_ENTITY,
        "component:default/pay",
        "the value x\ud800y is refused",
        rule="lone-surrogate",
        field="metadata.description\0",
    )
    store.commit(run, [failure], result(assembled("pay", findings=(quoting,))), now=T0, cause="t")

    [health] = store.scopes()
    assert health.last_error == "bad name a\\ud800b, c\\0d"
    stored = store.entity(EntityRef.of("component", None, "pay"))
    assert stored is not None
    [kept] = [f for f in stored.assembled.findings if f.code == Code.INVALID_ENTITY]
    assert kept.message == "the value x\\ud800y is refused"
    assert kept.evidence["field"] == "metadata.description\\u0000"
    assert [f.message for f in store.findings() if f.code == Code.INVALID_ENTITY] == [
        "the value x\\ud800y is refused"
    ]
