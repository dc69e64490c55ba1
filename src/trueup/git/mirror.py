"""A clone of a repository that trueup publishes into: commits without a work tree, plain pushes.

Used by the git mirror sink (:mod:`trueup.sinks.git`). On top of
:class:`~trueup.git.repository.GitRepository` (fetching into a bare clone) it
can tell an empty remote from an unreachable one, write a commit straight
from file contents with ``git fast-import`` (no work tree, no index: the
blobs are written once, whatever the number of files), and push it.

A push is never forced: ``git push`` without ``--force`` or a ``+`` refspec
refuses to replace history, and a remote that moved meanwhile answers with a
rejection that :meth:`MirrorClone.push` reports as ``False``, so the caller can
fetch and re-apply its change onto the new head.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from trueup.errors import RepositoryError
from trueup.git.repository import GitRepository, fetched_ref
from trueup.model.observation import FailureKind

_SIGNATURE = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$")
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")
# ``git push --porcelain`` reasons that mean "the remote moved since you fetched".
_MOVED = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
)


@dataclass(frozen=True, slots=True)
class Signature:
    """Who a commit is by: ``Name <email>``."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Signature:
        match = _SIGNATURE.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not 'Name <email>'")
        return cls(match.group(1), match.group(2))

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class MirrorClone(GitRepository):
    """A bare clone of a repository trueup commits into and pushes to."""

    def remote_head(self, branch: str) -> str | None:
        """The remote branch's commit, None when the repository has no such branch yet.

        Raises RepositoryError when the remote cannot be reached or read.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        out = self._git(
            "ls-remote", "--", self.url, f"refs/heads/{branch}", cwd=self.path.parent, network=True
        )
        for line in out.decode().splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def fetch_head(self, branch: str) -> str | None:
        """Fetch ``branch`` and return its commit; None (and an empty clone) when it is absent."""
        if self.remote_head(branch) is None:
            if not (self.path / "HEAD").is_file():
                self._git("init", "--quiet", "--bare", str(self.path), cwd=self.path.parent)
            return None
        return self.fetch(branch)

    def message(self, commit: str) -> str:
        """A commit's full message."""
        return self._git("log", "-1", "--format=%B", commit).decode("utf-8", "replace")

    def last_commit_with(self, commit: str, marker: str) -> str | None:
        """The newest ancestor of ``commit`` (itself included) whose message holds ``marker``."""
        out = self._git(
            "log", "-1", "--format=%H", "--fixed-strings", f"--grep={marker}", commit, "--"
        )
        found = out.decode().strip()
        return found or None

    def changed_paths(self, old: str, new: str) -> list[str]:
        """The paths that differ between two commits."""
        out = self._git("diff-tree", "-r", "-z", "--name-only", "--no-commit-id", old, new)
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def write_commit(
        self,
        *,
        branch: str,
        parent: str | None,
        changes: Mapping[str, bytes | None],
        message: str,
        author: Signature,
        when: datetime,
    ) -> str:
        """Commit ``changes`` (path → new content, None to delete) on top of ``parent``.

        The commit is made with ``git fast-import`` on a ref of trueup's own
        (``refs/trueup/staged/<branch>``); nothing is pushed.
        """
        ref = f"refs/trueup/staged/{branch}"
        stamp = f"{int(when.timestamp())} +0000"
        text = message.encode()
        stream = [
            f"reset {ref}\n".encode(),
            f"commit {ref}\n".encode(),
            f"author {author} {stamp}\n".encode(),
            f"committer {author} {stamp}\n".encode(),
            f"data {len(text)}\n".encode() + text + b"\n",
        ]
        if parent is not None:
            stream.append(f"from {parent}\n".encode())
        for path in sorted(changes):
            if not _PLAIN_PATH.match(path) or path.startswith("/") or ".." in path.split("/"):
                raise RepositoryError(FailureKind.ERROR, f"refusing to write the path {path!r}")
            content = changes[path]
            if content is None:
                stream.append(f"D {path}\n".encode())
            else:
                stream.append(f"M 100644 inline {path}\ndata {len(content)}\n".encode())
                stream.append(content + b"\n")
        stream.append(b"done\n")
        self._git("fast-import", "--quiet", "--done", "--force", stdin=b"".join(stream))
        commit = self.resolve(ref)
        if commit is None:
            raise RepositoryError(FailureKind.ERROR, "git fast-import wrote no commit")
        return commit

    def push(self, commit: str, branch: str) -> bool:
        """Push ``commit`` to the remote branch: True when it landed, False when the remote moved.

        Never forced. Raises RepositoryError for any other refusal (no access,
        a protected branch, a hook that declined).
        """
        result = self._run(
            "push", "--porcelain", "--quiet", "--", self.url, f"{commit}:refs/heads/{branch}"
        )
        report = self._redact((result.stdout + result.stderr).decode("utf-8", "replace").strip())
        if result.returncode == 0:
            self._git("update-ref", fetched_ref(branch), commit)
            return True
        refused = [line for line in report.splitlines() if line.startswith("!")]
        if refused and all(any(m in line for m in _MOVED) for line in refused):
            return False
        last = (refused or report.splitlines() or [f"exit status {result.returncode}"])[-1]
        kind = FailureKind.FORBIDDEN if "denied" in report.lower() else FailureKind.ERROR
        if not refused:
            kind = FailureKind.UNREACHABLE
        raise RepositoryError(kind, f"git push: {last.lstrip('!').strip()}")
