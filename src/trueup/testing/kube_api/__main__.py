"""``python -m trueup.testing.kube_api``: serve loopback clusters from another process.

Used by ``bench/kube_bench.py`` so that the servers' work is not counted in the
benchmark's own time and memory. Prints the clusters' URLs on one line, then
reads commands from stdin, one per line — ``apply <index> <json>`` or
``delete <index> <json>`` — answering ``ok`` to each; stops at end of input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trueup.testing.kube_api.server import FakeApiServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve loopback Kubernetes API servers.")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seed", help="a JSON file: a list of objects to load in every cluster")
    parser.add_argument("--window", type=int, default=100_000)
    args = parser.parse_args(argv)
    servers = [
        FakeApiServer(name=f"c{i}", window=args.window, bookmark_interval=5.0)
        for i in range(args.count)
    ]
    try:
        seed = json.loads(Path(args.seed).read_text()) if args.seed else []
        for server in servers:
            for obj in seed:
                server.apply(obj)
        print(" ".join(s.url for s in servers), flush=True)
        for line in sys.stdin:
            verb, index, payload = line.split(" ", 2)
            target = servers[int(index)]
            obj = json.loads(payload)
            if verb == "apply":
                target.apply(obj)
            elif verb == "delete":
                target.delete(obj)
            print("ok", flush=True)
    finally:
        for server in servers:
            server.close()


if __name__ == "__main__":
    main()
