"""``trueup demo`` ends by serving the demo world and saying how Backstage reads it."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.web.harness import TRUEUP, free_port


def test_the_demo_serves_its_world_and_prints_the_app_config_snippet(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [TRUEUP, "demo", "--dir", str(tmp_path / "d"), "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            feed_url = None
            while feed_url is None:
                assert demo.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                match = re.search(r"target: (http://\S+)", log.read_text())
                feed_url = match.group(1) if match else None
                time.sleep(0.2)
            for _ in range(100):
                try:
                    served = httpx.get(feed_url, timeout=10)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert served.status_code == 200
            names = {d["metadata"]["name"] for d in yaml.safe_load_all(served.text)}
            assert "order-service" in names
            text = log.read_text()
            snippet = yaml.safe_load(text[text.index("backend:\n") :])
            assert snippet["backend"]["reading"]["allow"] == [{"host": f"127.0.0.1:{port}"}]
            assert snippet["catalog"]["locations"] == [{"type": "url", "target": feed_url}]
            assert "Location" in snippet["catalog"]["rules"][0]["allow"]
            assert httpx.get(feed_url.split("?")[0]).status_code == 401  # the token is needed
            assert "serving the demo world" in text
            assert "[bold]" not in text and "[/" not in text  # styles, not markup shown as text
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=60)
