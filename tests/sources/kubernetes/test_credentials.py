"""Issue 8, case 4: a kubeconfig is handled like client-go, and runs nothing unasked.

Each test writes a kubeconfig with one context against the session's loopback
clusters (``beta`` speaks TLS and wants the bearer token ``TOKEN``; ``alpha``
is plain HTTP) and reads it with the live source. Before: an ``exec`` plugin
and a gcp ``cmd-path`` ran during ``sync``; ``insecure-skip-tls-verify`` and a
token over ``http://`` passed silently (and urllib3 warned on every request);
a token file ending in a newline failed with the token in the finding, and
``tokenFile: /etc/passwd`` printed that file.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
from urllib3.exceptions import InsecureRequestWarning

from tests.sources.kubernetes.builders import deployment
from tests.sources.kubernetes.conftest import TOKEN, Clusters
from tests.sources.kubernetes.harness import NOW, names, read_all, store_at
from trueup import pipeline
from trueup.config import Config
from trueup.model.observation import FailureKind, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.live import KubernetesLiveSource


def kubeconfig(tmp_path: Path, server: str, user: dict[str, Any], **cluster: Any) -> Path:
    path = tmp_path / "kubeconfig"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(document))
    return path


def source(path: Path, **extra: Any) -> KubernetesLiveSource:
    config = KubernetesSourceConfig(
        id="k8s",
        type="kubernetes",
        kubeconfig=str(path),
        contexts=["ctx"],
        connect_timeout="2s",
        request_timeout="5s",
        **extra,
    )
    return KubernetesLiveSource(config, sleep=lambda _: None)


def read(path: Path, **extra: Any) -> ScopeRead:
    return read_all(source(path, **extra))["ctx"]


def failure(found: ScopeRead) -> ScopeFailure:
    assert isinstance(found, ScopeFailure), found
    return found


def beta_tls(clusters: Clusters) -> dict[str, Any]:
    """The CA that verifies beta, as the session's own kubeconfig names it."""
    session = json.loads(clusters.kubeconfig.read_text())
    (beta,) = [c["cluster"] for c in session["clusters"] if c["name"] == "beta-cluster"]
    return {"certificate-authority": beta["certificate-authority"]}


def test_an_exec_plugin_is_not_run_without_allow_exec(clusters: Clusters, tmp_path: Path) -> None:
    canary = tmp_path / "exec-ran"
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "sh",
        "args": ["-c", f"touch {canary}; exit 1"],
        "interactiveMode": "Never",
    }
    path = kubeconfig(tmp_path, clusters.beta.url, {"exec": plugin}, **beta_tls(clusters))
    refused = failure(read(path))
    assert refused.kind is FailureKind.INVALID
    assert "uses an exec credential plugin (sh); it was not run" in refused.message
    assert "allow_exec: true" in refused.message
    assert not canary.exists()
    ran = failure(read(path, allow_exec=True))  # allowed: it runs, exits 1, no token → 401
    assert canary.exists() and ran.kind is FailureKind.FORBIDDEN


def test_a_gcp_auth_provider_cmd_path_is_not_run_without_allow_exec(
    clusters: Clusters, tmp_path: Path
) -> None:
    canary = tmp_path / "cmd-path-ran"
    provider = {"name": "gcp", "config": {"cmd-path": f"touch {canary}"}}
    path = kubeconfig(
        tmp_path, clusters.beta.url, {"auth-provider": provider}, **beta_tls(clusters)
    )
    refused = failure(read(path))
    assert refused.kind is FailureKind.INVALID
    assert "runs cmd-path; it was not run" in refused.message
    assert not canary.exists()
    failure(read(path, allow_exec=True))  # runs; its output is no token
    assert canary.exists()


def test_insecure_skip_tls_verify_is_a_finding_and_urllib3_warns_no_more(
    clusters: Clusters, tmp_path: Path
) -> None:
    clusters.beta.apply(deployment("api", "shop"))
    path = kubeconfig(
        tmp_path, clusters.beta.url, {"token": TOKEN}, **{"insecure-skip-tls-verify": True}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = read(path)
    assert isinstance(found, Snapshot) and found.observations
    insecure = [f for f in found.findings if f.code == "insecure-connection"]
    assert [f.evidence["kind"] for f in insecure] == ["insecure-skip-tls-verify"]
    assert f"the certificate of {clusters.beta.url} is not verified" in insecure[0].message
    assert not [w for w in caught if issubclass(w.category, InsecureRequestWarning)]


def test_a_bearer_token_over_plain_http_is_a_finding(clusters: Clusters, tmp_path: Path) -> None:
    clusters.alpha.apply(deployment("api", "shop"))
    found = read(kubeconfig(tmp_path, clusters.alpha.url, {"token": "sent-in-the-clear"}))
    assert isinstance(found, Snapshot) and found.observations
    (insecure,) = [f for f in found.findings if f.code == "insecure-connection"]
    assert insecure.severity.value == "warning"
    assert insecure.evidence["kind"] == "credentials-over-http"
    assert f"credentials are sent over plain HTTP to {clusters.alpha.url}" in insecure.message
    assert "sent-in-the-clear" not in insecure.message


def test_a_token_file_ending_in_a_newline_is_read_like_client_go(
    clusters: Clusters, tmp_path: Path
) -> None:
    clusters.beta.apply(deployment("api", "shop"))
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")  # what `echo TOKEN > file` writes
    path = kubeconfig(tmp_path, clusters.beta.url, {"tokenFile": "token"}, **beta_tls(clusters))
    found = read(path)
    assert isinstance(found, Snapshot), found
    assert names(found) == ["Deployment/api"]


@pytest.mark.parametrize(
    ("content", "shape"),
    [
        (None, "2 lines"),  # /etc/passwd-like: several lines
        ("tok en with spaces", "spaces or control characters"),
        ("", "is empty"),
    ],
)
def test_a_token_file_that_holds_no_token_is_refused_without_showing_it(
    clusters: Clusters, tmp_path: Path, content: str | None, shape: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
        if content is None
        else content
    )
    path = kubeconfig(tmp_path, clusters.beta.url, {"tokenFile": str(token_file)})
    refused = failure(read(path))
    assert refused.kind is FailureKind.INVALID
    assert f"tokenFile {token_file}" in refused.message and shape in refused.message
    assert "root:x" not in refused.message and "with spaces" not in refused.message


def test_etc_passwd_as_a_token_file_is_refused_without_showing_it(
    clusters: Clusters, tmp_path: Path
) -> None:
    path = kubeconfig(tmp_path, clusters.beta.url, {"tokenFile": "/etc/passwd"})
    refused = failure(read(path))
    assert "tokenFile /etc/passwd does not hold a bearer token" in refused.message
    assert "root" not in refused.message.replace("/root", "")


def test_a_token_reaches_no_finding_row_or_log(
    clusters: Clusters, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clusters.beta.apply(deployment("api", "shop"))
    secret = "tok-\x01-with-a-control-character"
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    document = {
        "clusters": [{"name": "c", "cluster": {"server": clusters.beta.url, **beta_tls(clusters)}}],
        "users": [
            {"name": "good", "user": {"tokenFile": str(token_file)}},
            {"name": "bad", "user": {"token": secret}},
        ],
        "contexts": [
            {"name": "good", "context": {"cluster": "c", "user": "good"}},
            {"name": "bad", "context": {"cluster": "c", "user": "bad"}},
        ],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(document))
    config = KubernetesSourceConfig(
        id="k8s", type="kubernetes", kubeconfig=str(path), contexts=["good", "bad"]
    )
    with store_at(tmp_path) as store:
        outcome = pipeline.sync(
            Config(sources=[config]), store, now=lambda: NOW, sources=[KubernetesLiveSource(config)]
        )
        assert [f.scope for f in outcome.failures] == ["bad"]
        assert "does not hold a bearer token" in outcome.failures[0].message
        messages = [f.message for f in store.findings()]
    with sqlite3.connect(tmp_path / "trueup.db") as conn:
        stored = "\n".join(conn.iterdump())
    for text in (stored, caplog.text, *messages):
        assert TOKEN not in text and "with-a-control-character" not in text
