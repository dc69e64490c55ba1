"""A broken document is one error, its first problem; a file's errors come in line order.

Backstage reports one error per file; trueup reports one per broken document, so a
document that breaks a rule and then stops libyaml (a Helm template) must not
count twice.
"""

from __future__ import annotations

import pytest

from trueup.parse.catalog_yaml import Document, DocumentError, load_documents
from trueup.sources.descriptors import parse_descriptor_file

HELM_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Values.name }}
spec:
  {{- include "x" . }}
  type: ClusterIP
"""

# Each breaks a rule first (at line 2), then stops libyaml with a syntax error (line 3).
RULE_THEN_SYNTAX = {
    "complex-key": "a: 1\n{b: c}: d\ne: [\n",
    "duplicate-key": "a: 1\na: 2\ne: [\n",
    "forbidden-tag": "a: 1\nb: !!python/name:os.system x\ne: [\n",
    "yaml-syntax": "a: 1\nb: *nowhere\ne: [\n",
}


def errors_of(text: str) -> list[tuple[int | None, str, int | None]]:
    return [(r.index, r.rule, r.line) for r in load_documents(text) if isinstance(r, DocumentError)]


def test_a_helm_template_is_one_error_at_its_first_problem() -> None:
    assert load_documents(HELM_SERVICE) == [
        DocumentError(0, "complex-key", "mapping keys must be scalars", 4)
    ]


@pytest.mark.parametrize("rule", sorted(RULE_THEN_SYNTAX))
def test_a_rule_broken_before_a_syntax_error_is_the_one_error(rule: str) -> None:
    assert errors_of(RULE_THEN_SYNTAX[rule]) == [(0, rule, 2)]


def test_each_broken_document_of_a_file_is_one_error_in_line_order() -> None:
    text = (
        "kind: A\n"  # document 0, line 1
        "---\n"
        + HELM_SERVICE  # document 1, lines 3-9
        + "---\n"
        + "kind: C\n"  # document 2, from its marker at line 10
        + "---\n"
        + RULE_THEN_SYNTAX["duplicate-key"]  # document 3, lines 13-15
        + "---\n"
        + "kind: E\n"  # document 4, from its marker at line 16
    )
    results = load_documents(text)
    assert [(r.index, r.line) for r in results if isinstance(r, Document)] == [
        (0, 1),
        (2, 10),
        (4, 16),
    ]
    assert errors_of(text) == [(1, "complex-key", 6), (3, "duplicate-key", 14)]


def test_a_helm_template_is_one_invalid_file_finding() -> None:
    parsed = parse_descriptor_file(
        HELM_SERVICE.encode(), source="catalog", scope="catalog", path="chart/service.yaml"
    )
    assert [f.message for f in parsed.findings] == [
        "chart/service.yaml: document 0 does not parse (line 4): "
        "mapping keys must be scalars [complex-key]"
    ]
