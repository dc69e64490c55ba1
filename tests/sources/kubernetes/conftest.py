"""Fixtures: loopback Kubernetes API servers for the test session, and a kubeconfig.

Three fake clusters start once per session (``alpha`` plain HTTP; ``beta`` and
``gamma`` TLS with a bearer token, the CA given as a file and inline), each
reset before every test. The kubeconfig also holds contexts for the failure
cases of test-plan row 36: a second context on beta's server, a wrong token,
a wrong CA, an exec plugin that exits 1, and a port nobody listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trueup.testing.kube_api import (
    FakeApiServer,
    FakeContext,
    self_signed,
    write_fake_kubeconfig,
)

TOKEN = "s3cr3t-token"


@dataclass
class Clusters:
    alpha: FakeApiServer
    beta: FakeApiServer
    gamma: FakeApiServer
    kubeconfig: Path

    def all(self) -> list[FakeApiServer]:
        return [self.alpha, self.beta, self.gamma]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def cluster_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    folder = tmp_path_factory.mktemp("clusters")
    tls = self_signed(folder)
    other = folder / "other"
    other.mkdir()
    wrong_cert, _ = self_signed(other)
    servers = [
        FakeApiServer(name="alpha"),
        FakeApiServer(name="beta", token=TOKEN, tls=tls),
        FakeApiServer(name="gamma", token=TOKEN, tls=tls),
    ]
    alpha, beta, gamma = servers
    contexts = [
        FakeContext("alpha", alpha.url),
        FakeContext("beta", beta.url, token=TOKEN, ca_file=tls[0]),
        FakeContext("gamma", gamma.url, token=TOKEN, ca_file=tls[0], ca_inline=True),
        FakeContext("beta-again", beta.url, token=TOKEN, ca_file=tls[0], ca_inline=True),
        FakeContext("expired", beta.url, token="expired-token", ca_file=tls[0]),
        FakeContext("wrong-ca", beta.url, token=TOKEN, ca_file=wrong_cert),
        FakeContext(
            "exec-fails",
            beta.url,
            ca_file=tls[0],
            user={
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "false",
                    "interactiveMode": "Never",
                }
            },
        ),
        FakeContext("down", f"http://127.0.0.1:{_closed_port()}"),
    ]
    kubeconfig = write_fake_kubeconfig(folder / "kubeconfig", contexts)
    try:
        yield Clusters(alpha, beta, gamma, kubeconfig)
    finally:
        for server in servers:
            server.close()


@pytest.fixture
def clusters(cluster_set: Clusters) -> Clusters:
    for server in cluster_set.all():
        server.reset()
    return cluster_set
