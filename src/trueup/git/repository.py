"""A local bare clone of one remote repository, driven through the real ``git`` CLI.

Used by the ``git`` source, by the ``github`` source when it reads contents
with ``git fetch``, and (through :mod:`~trueup.git.mirror`) by the git mirror
sink. Every call runs ``git`` as a subprocess with an argument list (never a
shell), a timeout and no terminal prompts; a credential in the URL travels in
git's environment, never on its command line (:mod:`~trueup.git.remote`).

Atomicity, so that a fetch that dies midway changes nothing:

- the first clone is made in a temporary folder next to the final one and
  renamed into place only once its first fetch completed;
- later fetches write objects into the clone (content-addressed, harmless when
  unused) and git moves the ``refs/trueup/fetched/<branch>`` ref only after the
  whole pack arrived and passed its connectivity check;
- the commit the last complete read used is ``refs/trueup/current/<branch>``;
  the caller moves it (:meth:`GitRepository.switch`) only after a complete read,
  which also keeps that commit reachable for the next diff.

Errors are translated here: every failure is a :class:`RepositoryError` whose
``kind`` says how the scope failed; credentials in URLs or in ``redact`` never
appear in its message.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trueup.errors import RepositoryError
from trueup.git.remote import redact_url, remote_access
from trueup.model.observation import FailureKind

_SHA = re.compile(r"^[0-9a-f]{40}$")
_BATCH = 500  # blobs (or paths) per ``cat-file``/``ls-tree`` call
_BATCH_BYTES = 64 * 1024 * 1024  # content per ``cat-file --batch`` call: bounds its memory
_FORBIDDEN = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied",
    # git's words for an HTTP status; a bare "401" would also match a port or a path
    "returned error: 401",
    "returned error: 403",
    "terminal prompts disabled",
)
# The repository answered, but its data is damaged: not "unreachable".
_CORRUPT = (
    "corrupt",
    "unable to read",
    "bad object",
    "missing blob",
    "missing tree",
    "missing commit",
    "did not send all necessary objects",
    "invalid sha1 pointer",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of ``git diff-tree --raw``: status ``A``/``M``/``D``/``R``/``C``/``T``."""

    status: str
    path: str
    blob: str | None  # the new blob; None for a deletion
    old_path: str | None = None  # for renames and copies


class GitRepository:
    """A bare clone at ``path`` of the repository at ``url``."""

    def __init__(
        self,
        url: str,
        path: Path,
        *,
        timeout: float = 300.0,
        env: Mapping[str, str] | None = None,
        redact: Sequence[str] = (),
    ) -> None:
        access = remote_access(
            url,
            {
                **os.environ,
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_ASKPASS": "true",  # answer any prompt with nothing, never hang
                "GCM_INTERACTIVE": "never",
                "LC_ALL": "C",  # error messages are classified in English
                **(env or {}),
            },
        )
        self.url = access.url  # without a credential: that is in ``_env``
        self.path = path
        self.timeout = timeout
        self._env = dict(access.env)
        self._secrets = [s for s in (*redact, *access.secrets) if s]
        # Messages name the remote as it was given, masked: ``https://****@host/…`` tells
        # that a credential was configured, which the bare ``self.url`` would not.
        self._shown = self._redact(url)
        self._refs: dict[str, str] | None = None  # refs(), until a fetch or switch moves one

    # --- locking and cloning -------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the clone (two syncs never fetch into it at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def fetch(self, branch: str) -> str:
        """Fetch ``branch``; return its commit. The first fetch clones (into a temp folder).

        When the remote's head is the commit fetched last time (``git ls-remote``,
        one round trip without pack negotiation) nothing is fetched.
        """
        refspec = f"+refs/heads/{branch}:{fetched_ref(branch)}"
        if not (self.path / "HEAD").is_file():
            self._clone(refspec)
        else:
            known = self.refs().get(fetched_ref(branch))
            if known is not None and self._remote_head(branch) == known:
                return known
            self._fetch_into(self.path, refspec)
        self._refs = None
        commit = self.resolve(fetched_ref(branch))
        if commit is None:
            raise RepositoryError(
                FailureKind.UNREACHABLE, f"branch {branch!r} not found in {self._shown}"
            )
        return commit

    def _clone(self, refspec: str) -> None:
        for stale in self.path.parent.glob(f"{self.path.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a process killed mid-clone
        temporary = self.path.with_name(f"{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            self._git("init", "--quiet", "--bare", str(temporary), cwd=self.path.parent)
            self._fetch_into(temporary, refspec)
            shutil.rmtree(self.path, ignore_errors=True)  # an unusable leftover, never a clone
            temporary.rename(self.path)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def _remote_head(self, branch: str) -> str | None:
        out = self._git(
            "ls-remote", "--", self.url, f"refs/heads/{branch}", cwd=self.path, network=True
        )
        for line in out.decode().splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def _fetch_into(self, where: Path, refspec: str) -> None:
        self._git(
            "-c",
            "fetch.fsckObjects=false",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
            self.url,
            refspec,
            cwd=where,
            network=True,
        )

    # --- refs ----------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit a ref (or sha) names, or None when there is no such commit."""
        result = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        out = result.stdout.decode().strip()
        return out if result.returncode == 0 and _SHA.match(out) else None

    def refs(self) -> dict[str, str]:
        """trueup's own refs (fetched and current heads): ref name → commit."""
        if self._refs is None:
            if not (self.path / "HEAD").is_file():
                return {}
            out = self._git("for-each-ref", "--format=%(refname) %(objectname)", "refs/trueup/")
            lines = out.decode().splitlines()
            self._refs = dict(line.split(" ", 1) for line in lines if " " in line)
        return dict(self._refs)

    def current(self, branch: str) -> str | None:
        """The commit of the last complete read of ``branch``."""
        return self.refs().get(current_ref(branch))

    def switch(self, branch: str, commit: str) -> None:
        """Move the current-head ref to ``commit`` after a complete read."""
        self._git("update-ref", current_ref(branch), commit)
        self._refs = None

    def is_ancestor(self, old: str, new: str) -> bool:
        return self._run("merge-base", "--is-ancestor", old, new).returncode == 0

    def fetch_commit(self, commit: str) -> bool:
        """Fetch ``commit`` by its id (objects only, no ref moves); False when not given.

        Servers speaking protocol version 2 (git's default) give any commit they
        hold; an older one may refuse an id no ref points to.
        """
        if not _SHA.match(commit) or not (self.path / "HEAD").is_file():
            return False
        try:
            self._fetch_into(self.path, commit)
        except RepositoryError:
            return False
        return self.resolve(commit) is not None

    # --- trees and blobs -------------------------------------------------------

    def list_files(self, commit: str) -> dict[str, str]:
        """Every regular file of ``commit``: path → blob sha (symlinks and submodules left out)."""
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit)
        files: dict[str, str] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, sha = meta.decode().split(" ")
            if kind == "blob" and mode in ("100644", "100755"):
                files[path.decode("utf-8", "surrogateescape")] = sha
        return files

    def diff(self, old: str, new: str) -> list[Change]:
        """What changed between two commits (``git diff-tree -r -M --raw``), renames included."""
        out = self._git("diff-tree", "-r", "-z", "-M", "--raw", "--no-commit-id", old, new)
        fields = out.split(b"\0")
        changes: list[Change] = []
        i = 0
        while i < len(fields) and fields[i]:
            meta = fields[i].decode().lstrip(":").split(" ")
            new_mode, new_sha, status = meta[1], meta[3], meta[4][0]
            blob = None if status == "D" or new_mode not in ("100644", "100755") else new_sha
            if status in ("R", "C"):
                old_path, path = _decode(fields[i + 1]), _decode(fields[i + 2])
                changes.append(Change(status, path, blob, old_path))
                i += 3
            else:
                changes.append(Change(status, _decode(fields[i + 1]), blob))
                i += 2
        return changes

    def lookup(self, commit: str, paths: Collection[str]) -> dict[str, str]:
        """The blob of each path that is a regular file in ``commit``; others are left out.

        A symlink is no file here: following it could lead out of the repository.
        """
        wanted = sorted(paths)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            out = self._git(
                "--literal-pathspecs", "ls-tree", "-z", "--full-tree", commit, "--", *chunk
            )
            asked = set(chunk)
            for record in out.split(b"\0"):
                meta, _, raw = record.partition(b"\t")
                if not raw:
                    continue
                mode, kind, sha = meta.decode().split(" ")
                path = _decode(raw)
                if kind == "blob" and mode in ("100644", "100755") and path in asked:
                    found[path] = sha
        return found

    def read_blobs(self, shas: Collection[str], *, max_bytes: int) -> dict[str, bytes | int]:
        """The content of each blob; a blob over ``max_bytes`` is given as its size, unread."""
        return dict(self.iter_blobs(shas, max_bytes=max_bytes))

    def iter_blobs(
        self, shas: Collection[str], *, max_bytes: int
    ) -> Iterator[tuple[str, bytes | int]]:
        """:meth:`read_blobs` one batch at a time, each batch at most ``_BATCH_BYTES`` of content.

        Memory follows the batch, not the commit: generated catalog files of tens
        of MB are read a few at a time.
        """
        wanted = sorted(set(shas))
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            sizes = self._sizes(chunk)
            batch: list[str] = []
            batch_bytes = 0
            for sha in chunk:
                if sizes[sha] > max_bytes:
                    yield sha, sizes[sha]
                    continue
                if batch and batch_bytes + sizes[sha] > _BATCH_BYTES:
                    yield from self._contents(batch).items()
                    batch, batch_bytes = [], 0
                batch.append(sha)
                batch_bytes += sizes[sha]
            if batch:
                yield from self._contents(batch).items()

    def _sizes(self, shas: Sequence[str]) -> dict[str, int]:
        request = "".join(f"{sha}\n" for sha in shas).encode()
        out = self._git("cat-file", "--batch-check=%(objectname) %(objectsize)", stdin=request)
        sizes: dict[str, int] = {}
        for line in out.decode().splitlines():
            sha, _, size = line.partition(" ")
            if not size.isdigit():
                raise RepositoryError(FailureKind.CORRUPT, f"blob {sha} is missing from the clone")
            sizes[sha] = int(size)
        return sizes

    def _contents(self, shas: Sequence[str]) -> dict[str, bytes]:
        request = "".join(f"{sha}\n" for sha in shas).encode()
        out = self._git("cat-file", "--batch", stdin=request)
        contents: dict[str, bytes] = {}
        position = 0
        for sha in shas:
            end = out.index(b"\n", position)
            header = out[position:end].decode().split(" ")
            if len(header) != 3 or header[0] != sha:
                raise RepositoryError(FailureKind.CORRUPT, f"blob {sha} could not be read")
            size = int(header[2])
            contents[sha] = out[end + 1 : end + 1 + size]
            position = end + 1 + size + 1
        return contents

    # --- running git ----------------------------------------------------------

    def _git(
        self, *args: str, cwd: Path | None = None, stdin: bytes | None = None, network: bool = False
    ) -> bytes:
        result = self._run(*args, cwd=cwd, stdin=stdin)
        if result.returncode != 0:
            message = self._redact(result.stderr.decode("utf-8", "replace").strip())
            kind = _classify(message, network=network)
            lines = message.splitlines() or [f"exit status {result.returncode}"]
            telling = [line for line in lines if any(m in line.lower() for m in _CORRUPT)]
            # The cause is git's first fatal or error line; what follows it is advice
            # ("… and the repository exists."), and hints come before it.
            causes = [line for line in lines if line.startswith(("fatal:", "error:"))]
            if kind is FailureKind.CORRUPT and telling:
                shown = telling[0]
            else:
                shown = causes[0] if causes else lines[-1]
            raise RepositoryError(kind, f"git {_command(args)}: {shown}")
        return result.stdout

    def _run(
        self, *args: str, cwd: Path | None = None, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["git", *args]
        try:
            return subprocess.run(
                command,
                cwd=cwd or self.path,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=self.timeout,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RepositoryError(
                FailureKind.UNREACHABLE,
                f"git {_command(args)}: no answer from {self._shown} within {self.timeout:g} s",
            ) from exc
        except OSError as exc:
            raise RepositoryError(FailureKind.ERROR, f"git cannot run: {exc.strerror}") from exc

    def _redact(self, text: str) -> str:
        text = redact_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text


def fetched_ref(branch: str) -> str:
    return f"refs/trueup/fetched/{branch}"


def current_ref(branch: str) -> str:
    return f"refs/trueup/current/{branch}"


def _command(args: Sequence[str]) -> str:
    """The git command of an argument list: ``fetch`` of ``-c fetch.fsckObjects=false fetch …``."""
    return args[2] if args[0] == "-c" and len(args) > 2 else args[0]


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _classify(stderr: str, *, network: bool) -> FailureKind:
    lowered = stderr.lower()
    if any(marker in lowered for marker in _CORRUPT):
        return FailureKind.CORRUPT
    if not network:
        return FailureKind.ERROR
    if any(marker in lowered for marker in _FORBIDDEN):
        return FailureKind.FORBIDDEN
    return FailureKind.UNREACHABLE  # refused, reset, timed out, not found: it was not reached
