"""A loopback GitHub REST API for tests: real HTTP on 127.0.0.1, GitHub's protocol.

It serves, from an in-memory git object model (blob and tree shas computed as
git computes them):

- ``GET /orgs/{org}/repos`` and ``/users/{user}/repos`` with ``per_page``/``page``
  and ``Link`` headers (``rel="next"``, ``rel="last"``);
- ``GET /repos/{o}/{r}`` (``301`` to ``/repositories/{id}`` for a renamed
  repository, ``404`` for a deleted one) and ``/repositories/{id}/...``;
- ``GET /repos/{o}/{r}/commits/{ref}`` (``Accept: application/vnd.github.sha``
  gives the bare sha; ``422`` for an unknown ref, ``409`` for an empty repository);
- ``GET /repos/{o}/{r}/git/trees/{sha}[?recursive=1]`` (``truncated`` on demand);
- ``GET /repos/{o}/{r}/git/blobs/{sha}`` (base64, wrapped at 60 columns);
- ``GET /rate_limit`` (does not count).

Every answer carries ``x-ratelimit-limit/remaining/used/reset/resource`` and an
``etag``; ``If-None-Match`` that matches is a ``304`` that does not count, as on
GitHub. When ``remaining`` reaches 0 every request is a ``403`` primary limit
until the reset. Scripted faults (:meth:`FakeGitHub.script`) answer the next
matching requests with any status and headers. :attr:`FakeGitHub.log` records
each request: method, path, status, whether it counted, the headers sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClock:
    """Epoch seconds that only move when told (``sleep`` advances them)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Fault:
    """A scripted answer; status -1 resets the connection in the middle of the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    counted: bool
    at: float
    if_none_match: str | None
    authorization: str | None
    accept: str | None


@dataclass
class FakeRepo:
    id: int
    full_name: str
    default_branch: str = "main"
    archived: bool = False
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    renamed_to: str | None = None
    deleted: bool = False
    clone_url: str | None = None


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeGitHub:
    """The state behind the server: repositories, objects, limits, faults and the log."""

    def __init__(self, clock: FakeClock, *, token: str | None = None, limit: int = 5000) -> None:
        self.clock = clock
        self.token = token
        self.limit = limit
        self.remaining = limit
        self.reset = clock() + 3600
        self.repos: dict[str, FakeRepo] = {}
        self.orgs: dict[str, list[str]] = {}
        self.empty_orgs: set[str] = set()
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, list[tuple[str, str, str, str]]] = {}  # mode, type, name, sha
        self.commits: dict[str, str] = {}  # commit -> root tree
        self.files: dict[str, dict[str, bytes]] = {}  # commit -> flat files
        self.truncated: set[str] = set()  # repositories whose recursive trees are truncated
        self.faults: list[tuple[re.Pattern[str], list[Fault]]] = []
        self.log: list[Request] = []
        self.base_url = ""
        self.lock = threading.Lock()
        self._next_id = 1000
        self._commits = 0

    # --- building the world ---------------------------------------------------

    def put_repo(
        self,
        full_name: str,
        files: Mapping[str, str | bytes],
        *,
        branch: str = "main",
        archived: bool = False,
    ) -> FakeRepo:
        owner = full_name.split("/", maxsplit=1)[0]
        self._next_id += 1
        repo = FakeRepo(self._next_id, full_name, default_branch=branch, archived=archived)
        self.repos[full_name] = repo
        self.orgs.setdefault(owner, []).append(full_name)
        if files:
            self.push(full_name, files, branch=branch)
        return repo

    def push(
        self,
        full_name: str,
        changes: Mapping[str, str | bytes | None],
        *,
        branch: str | None = None,
    ) -> str:
        """Commit ``changes`` (None deletes a path) on ``branch``; return the commit sha."""
        repo = self.repos[full_name]
        branch = branch or repo.default_branch
        parent = repo.branches.get(branch)
        files = dict(self.files.get(parent, {})) if parent else {}
        for path, content in changes.items():
            if content is None:
                files.pop(path, None)
            else:
                files[path] = content.encode() if isinstance(content, str) else content
        return self.set_head(full_name, files, branch=branch)

    def set_head(
        self, full_name: str, files: Mapping[str, bytes], *, branch: str, commit: str | None = None
    ) -> str:
        """Point ``branch`` at a new commit with exactly ``files`` (a force-push)."""
        tree = self._tree(files)
        self._commits += 1
        commit = commit or hashlib.sha1(f"commit {tree} {self._commits}".encode()).hexdigest()
        self.commits[commit] = tree
        self.files[commit] = dict(files)
        self.repos[full_name].branches[branch] = commit
        return commit

    def rename(self, old: str, new: str) -> None:
        repo = self.repos.pop(old)
        repo.full_name = new
        self.repos[new] = repo
        owner = old.split("/", maxsplit=1)[0]
        self.orgs[owner] = [new if n == old else n for n in self.orgs[owner]]
        self.repos[old] = FakeRepo(repo.id, old, renamed_to=new)

    def delete(self, full_name: str) -> None:
        self.repos[full_name].deleted = True
        owner = full_name.split("/", maxsplit=1)[0]
        self.orgs[owner] = [n for n in self.orgs[owner] if n != full_name]

    def script(self, pattern: str, *faults: Fault) -> None:
        """Answer the next requests whose path (with query) matches ``pattern`` with ``faults``."""
        self.faults.append((re.compile(pattern), list(faults)))

    def exhaust(self, reset_in: float = 60.0) -> None:
        """Use up the primary limit: every request is a 403 until ``reset_in`` seconds pass."""
        self.remaining = 0
        self.reset = self.clock() + reset_in

    def counted(self) -> int:
        return sum(1 for r in self.log if r.counted)

    def _tree(self, files: Mapping[str, bytes]) -> str:
        nested: dict[str, Any] = {}
        for path, data in files.items():
            node = nested
            *folders, name = path.split("/")
            for folder in folders:
                node = node.setdefault(folder, {})
            node[name] = data
        return self._write_tree(nested)

    def _write_tree(self, node: Mapping[str, Any]) -> str:
        entries = []
        for name, value in node.items():
            if isinstance(value, dict):
                entries.append(("40000", "tree", name, self._write_tree(value)))
            else:
                sha = blob_sha(value)
                self.blobs[sha] = value
                entries.append(("100644", "blob", name, sha))
        entries.sort(key=lambda e: e[2] + "/" if e[1] == "tree" else e[2])
        body = b"".join(
            f"{mode} {name}".encode("utf-8", "surrogatepass") + b"\0" + bytes.fromhex(sha)
            for mode, _, name, sha in entries
        )
        sha = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
        self.trees[sha] = entries
        return sha

    # --- answering ----------------------------------------------------------------

    def answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            status, extra, body = self._answer(path, headers)
            counted = status != 304 and not path.startswith("/rate_limit")
            if counted and self.remaining > 0 and status not in (403, 429):
                self.remaining -= 1
            out = {
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-used": str(self.limit - self.remaining),
                "x-ratelimit-reset": str(int(self.reset)),
                "x-ratelimit-resource": "core",
                **extra,
            }
            self.log.append(
                Request(
                    "GET",
                    path,
                    status,
                    counted,
                    self.clock(),
                    headers.get("if-none-match"),
                    headers.get("authorization"),
                    headers.get("accept"),
                )
            )
            return status, out, body

    def _answer(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.clock() >= self.reset:
            self.remaining, self.reset = self.limit, self.clock() + 3600
        for pattern, queue in self.faults:
            if queue and pattern.search(path):
                fault = queue.pop(0)
                return fault.status, dict(fault.headers), _json(fault.body or {"message": "fault"})
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, _json({"message": "Bad credentials"})
        if self.remaining <= 0 and not path.startswith("/rate_limit"):
            return 403, {}, _json({"message": "API rate limit exceeded for user ID 1."})
        try:
            status, extra, body = self._route(path, headers)
        except KeyError:
            status, extra, body = 404, {}, _json({"message": "Not Found"})
        if status == 200:
            etag = 'W/"' + hashlib.sha256(body).hexdigest() + '"'
            extra["etag"] = etag
            if headers.get("if-none-match") == etag:
                # as on GitHub: no pagination headers on a 304 (app-sre/github-mirror#57)
                extra.pop("link", None)
                return 304, extra, b""
        return status, extra, body

    def _route(self, target: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        if segments[:1] == ["rate_limit"]:
            return 200, {}, _json({"resources": {"core": {"remaining": self.remaining}}})
        if segments[0] in ("orgs", "users") and segments[2:] == ["repos"]:
            return self._listing(parts.path, segments[1], query)
        if segments[0] == "repositories":
            repo = next(
                r for r in self.repos.values() if r.id == int(segments[1]) and not r.renamed_to
            )
            rest = segments[2:]
        elif segments[0] == "repos":
            repo = self.repos[f"{segments[1]}/{segments[2]}"]
            if repo.renamed_to:
                moved = "/".join(["", "repositories", str(repo.id), *segments[3:]])
                location = self.base_url + moved + (f"?{parts.query}" if parts.query else "")
                return 301, {"location": location}, _json({"message": "Moved Permanently"})
            rest = segments[3:]
        else:
            raise KeyError(target)
        if repo.deleted:
            raise KeyError(target)
        if not rest:
            return 200, {}, _json(self.repo_json(repo))
        return self._git(repo, rest, query, headers)

    def _git(
        self, repo: FakeRepo, rest: list[str], query: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if rest[0] == "commits":
            if not repo.branches:
                return 409, {}, _json({"message": "Git Repository is empty."})
            ref = "/".join(rest[1:])
            commit = repo.branches.get(ref) or (ref if ref in self.commits else None)
            if commit is None:
                return 422, {}, _json({"message": f"No commit found for SHA: {ref}"})
            if "vnd.github.sha" in headers.get("accept", ""):
                return 200, {"content-type": "text/plain"}, commit.encode()
            return (
                200,
                {},
                _json({"sha": commit, "commit": {"tree": {"sha": self.commits[commit]}}}),
            )
        if rest[:2] == ["git", "trees"]:
            sha = self.commits.get(rest[2], rest[2])
            entries = self._entries(sha, "", recursive=query.get("recursive") == "1")
            truncated = query.get("recursive") == "1" and repo.full_name in self.truncated
            if truncated:
                entries = entries[: len(entries) // 2]
            return 200, {}, _json({"sha": sha, "tree": entries, "truncated": truncated})
        if rest[:2] == ["git", "blobs"]:
            data = self.blobs[rest[2]]
            encoded = base64.encodebytes(data).decode()
            body = {"sha": rest[2], "size": len(data), "encoding": "base64", "content": encoded}
            return 200, {}, _json(body)
        raise KeyError("/".join(rest))

    def _entries(self, sha: str, prefix: str, *, recursive: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for mode, kind, name, child in self.trees[sha]:
            entry: dict[str, Any] = {
                "path": prefix + name,
                "mode": mode,
                "type": kind,
                "sha": child,
            }
            if kind == "blob":
                entry["size"] = len(self.blobs[child])
            out.append(entry)
            if kind == "tree" and recursive:
                out.extend(self._entries(child, f"{prefix}{name}/", recursive=True))
        return out

    def _listing(
        self, path: str, owner: str, query: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if owner not in self.orgs:
            raise KeyError(owner)
        names = [] if owner in self.empty_orgs else sorted(self.orgs[owner], key=str.lower)
        repos = [self.repo_json(self.repos[n]) for n in names]
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        last = max(1, -(-len(repos) // per_page))
        items = repos[(page - 1) * per_page : page * per_page]
        links = []
        keep = {k: v for k, v in query.items() if k != "page"}
        extra = "".join(f"{k}={v}&" for k, v in sorted(keep.items()))
        if page < last:
            links.append(f'<{self.base_url}{path}?{extra}page={page + 1}>; rel="next"')
            links.append(f'<{self.base_url}{path}?{extra}page={last}>; rel="last"')
        return 200, ({"link": ", ".join(links)} if links else {}), _json(items)

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "name": repo.full_name.split("/")[1],
            "full_name": repo.full_name,
            "default_branch": repo.default_branch,
            "archived": repo.archived,
            "disabled": False,
            "private": False,
            "html_url": f"https://github.example/{repo.full_name}",
            "clone_url": repo.clone_url or f"https://github.example/{repo.full_name}.git",
        }


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as written: no 40 ms stalls

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out, body = self.server.fake.answer(self.path, headers)  # type: ignore[attr-defined]
        if status == -1:  # the connection is reset in the middle of the body
            self.send_response(200)
            self.send_header("content-length", "100000")
            self.end_headers()
            self.wfile.write(b'[{"id": 1, ')
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(status)
        if status != 304:
            out.setdefault("content-type", "application/json")
            out["content-length"] = str(len(body))
        for key, value in out.items():
            self.send_header(key, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """Run the fake on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.fake = fake  # type: ignore[attr-defined]
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
