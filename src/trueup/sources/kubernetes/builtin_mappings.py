"""The built-in collectors written as declarative mappings (SPEC 4.4).

Not used to read clusters: the Python collectors are faster and tolerate
hostile payloads field by field. These mappings show that every built-in
fits the mapping format (``docs/mappings.md`` quotes them) and the tests hold
them equal to the collectors on the same objects. A user who needs a variant
(another label, another status) copies one into ``mappings:``.
"""

from __future__ import annotations

import yaml

from trueup.sources.kubernetes.config import MappingConfig

BUILTIN_MAPPINGS_YAML = r"""
- name: workloads (Deployment; StatefulSet is the same with its kind)
  apiVersion: apps/v1
  kind: Deployment
  selector: backstage.io/kubernetes-id
  ref: metadata.labels."backstage.io/kubernetes-id"
  fields:
    metadata.annotations.backstage.io/kubernetes-id: metadata.labels."backstage.io/kubernetes-id"
  status:
    replicas: "join('/', [to_string(status.readyReplicas || `0`), to_string(spec.replicas || `1`)])"
    images: "join(',', spec.template.spec.containers[].image || `[]`)"
  links:
    backstage.io/kubernetes-id: metadata.labels."backstage.io/kubernetes-id"
  link_selectors: [backstage.io/kubernetes-label-selector]

- name: argocd (Application)
  apiVersion: argoproj.io/v1alpha1
  kind: Application
  language: jq
  ref: '.metadata.labels["backstage.io/kubernetes-id"] // .metadata.name'
  fields:
    metadata.annotations.argocd/app-name: .metadata.name
  status:
    argocd-sync: .status.sync.status // ""
    argocd-health: .status.health.status // ""
    argocd-revision: '.status.sync.revision // ((.status.sync.revisions // []) | join(","))'
    argocd-operation: .status.operationState.phase // ""
    argocd-deployed-revision: .status.operationState.syncResult.revision // ""
    argocd-repo: .spec.source.repoURL // ""
    argocd-target-revision: .spec.source.targetRevision // ""
    argocd-resource-health: >-
      if .status.resourceHealthSource == "appTree" then "not reported"
      else [.status.resources[]? | select(has("health")) | .health.status] as $h
      | if ($h | length) == 0 then "not reported"
        else ["Healthy","Suspended","Progressing","Missing","Degraded","Unknown"] as $o
        | $h | map(. as $s | ($o | index($s)) // 5) | max | $o[.] end end
  links:
    argocd/app-name: .metadata.name
    backstage.io/kubernetes-id: '.metadata.labels["backstage.io/kubernetes-id"]'
  link_selectors: [argocd/app-selector]
  # <destination cluster>[/<namespace>]: the destination's name, else its server's host
  # (what urlsplit calls the hostname), in-cluster for the local API server.
  place: >-
    ((.spec.destination.name | strings) // "") as $name
    | ((.spec.destination.server | strings) // "") as $server
    | ((.spec.destination.namespace | strings) // "") as $ns
    | (if $name != "" then $name
       else ([$server | capture("^(?:[A-Za-z][-A-Za-z0-9+.]*:)?//(?:[^/?#]*@)?"
                                + "(?:\\[(?<v6>[^]/?#]*)\\]|(?<host>[^:/?#]*))")]
             | first // {} | .v6 // .host // "" | ascii_downcase) as $host
       | (if $host == "" then $server else $host end)
       | if . == "" or . == "kubernetes.default.svc" then "in-cluster" else . end
       end)
    + (if $ns == "" then "" else "/" + $ns end)

- name: crossplane (a claim; composites and managed resources differ only in the ref)
  apiVersion: db.example.org/v1alpha1
  kind: Database
  language: jq
  entity_kind: resource
  ref: '"resource:" + (.metadata.namespace // "default") + "/" + .metadata.name'
  status:
    crossplane-ready: >-
      (.metadata.generation // 0) as $g
      | ([.status.conditions[]? | select(.type == "Ready")] | first) as $c
      | if $c == null then ""
        elif $g > 0 and ($c.observedGeneration // $g) < $g then ""
        else $c.status end
    crossplane-synced: >-
      (.metadata.generation // 0) as $g
      | ([.status.conditions[]? | select(.type == "Synced")] | first) as $c
      | if $c == null then ""
        elif $g > 0 and ($c.observedGeneration // $g) < $g then ""
        else $c.status end
  links:
    backstage.io/kubernetes-id: '.metadata.labels["backstage.io/kubernetes-id"]'
  place: >-
    (if .metadata.namespace then .metadata.namespace + "/" else "" end)
    + .kind + "/" + .metadata.name
"""


def builtin_mappings() -> list[MappingConfig]:
    """The mappings above, validated as configuration."""
    return [MappingConfig.model_validate(item) for item in yaml.safe_load(BUILTIN_MAPPINGS_YAML)]
