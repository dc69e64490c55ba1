"""A self-signed certificate for the loopback API server's optional TLS.

Called by whoever starts a :class:`~trueup.testing.kube_api.server.FakeApiServer`
with ``tls=`` (the tests' cluster fixtures; the demo's live clusters when asked
for TLS). The certificate names ``127.0.0.1`` and ``localhost`` so that clients
verify it against a kubeconfig's ``certificate-authority``; it is made with the
``openssl`` command line, which every machine that runs trueup's tests has.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made with the openssl CLI."""
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
