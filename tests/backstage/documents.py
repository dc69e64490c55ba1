"""Small catalog documents the Backstage compatibility tests build their cases from."""

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
{extra}"""

TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: new-service
spec:
  type: service
  steps: []
"""

API_WITH_PLACEHOLDER = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition:
    $text: {target}
"""
