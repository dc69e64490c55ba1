"""Benchmark of the git and github sources (SPEC section 9): cost grows with change.

Builds 100 real git repositories holding 10,000 catalog files (100,000
entities, from ``trueup.world.write_scaled_world``) and measures, for the
``git`` source (one source per repository, driven directly through
``ReadContext`` like the pipeline does):

- a cold sync (clone + parse everything),
- a re-sync with nothing changed,
- a re-sync after one file changed in one repository,

each in its own process, so wall time and peak memory (max RSS from ``wait4``)
belong to that step alone. Then, for the ``github`` source against the loopback
GitHub API of the tests, the requests a no-change re-sync of the same 100
repositories costs, and how many of them count against the rate limit.

Usage: ``python bench/git_bench.py [--entities 100000] [--repos 100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the loopback GitHub API lives with the tests

from tests.sources.github.fake_api import FakeClock, FakeGitHub, serve  # noqa: E402
from trueup.model.observation import Snapshot  # noqa: E402
from trueup.sources.base import ReadContext  # noqa: E402
from trueup.sources.git import GitSource  # noqa: E402
from trueup.sources.git.config import GitSourceConfig  # noqa: E402
from trueup.sources.github import GithubSource  # noqa: E402
from trueup.sources.github.config import GithubSourceConfig  # noqa: E402
from trueup.world import write_scaled_world  # noqa: E402

INCLUDE = ["catalog-info.yaml", "catalog/*.yaml"]
_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True)


def repositories(root: Path) -> list[Path]:
    return sorted(p for p in (root / "repos").iterdir() if p.is_dir())


def read_all(root: Path) -> dict[str, int]:
    """One sync of every repository through the git source (run in a child process)."""
    now = datetime.now(UTC)
    parsed = observations = failures = 0
    for repo in repositories(root):
        config = GitSourceConfig(id=repo.name, type="git", url=str(repo), include=INCLUDE)
        source = GitSource(config)
        context = ReadContext(now=lambda: now, data_dir=root / "data" / repo.name)
        for read in source.observe(context):
            if isinstance(read, Snapshot):
                observations += len(read.observations)
            else:
                failures += 1
        parsed += source.files_parsed
    return {"files_parsed": parsed, "observations": observations, "failures": failures}


def measure(root: Path, step: str) -> None:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--phase", str(root)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    figures = json.loads(out)
    print(
        f"git  {step:<34} {seconds:7.2f} s {usage.ru_maxrss / 1024:8.1f} MiB peak  "
        f"files parsed {figures['files_parsed']:>6}  entities {figures['observations']:>7}  "
        f"failures {figures['failures']}"
    )


def publish(fake: FakeGitHub, repo: Path) -> None:
    """Mirror a local repository's head into the fake API (same commit sha)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = {name.decode(): (repo / name.decode()).read_bytes() for name in listed if name}
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    full_name = f"acme/{repo.name}"
    if full_name not in fake.repos:
        fake.put_repo(full_name, {}).clone_url = str(repo)
    fake.set_head(full_name, files, branch="main", commit=head)


def github_requests(root: Path, *, use_git: bool) -> None:
    """Cold, no-change and one-file-changed syncs of the github source against the fake API."""
    clock = FakeClock()
    fake = FakeGitHub(clock, token="bench-token", limit=1_000_000)  # to measure, not to refuse
    repos = repositories(root)
    for repo in repos:
        publish(fake, repo)
    mode = "git fetch" if use_git else "API"
    with serve(fake) as url:
        config = GithubSourceConfig(
            id="gh", type="github", org="acme", token="bench-token", api_url=url,
            catalog_path=INCLUDE, use_git_for_content=use_git,
        )  # fmt: skip
        data = root / ("gh-git" if use_git else "gh-api")

        def sync(step: str) -> None:
            source = GithubSource(config, data_dir=data, sleep=clock.sleep)
            before, counted = len(fake.log), fake.counted()
            started = time.perf_counter()
            context = ReadContext(now=lambda: datetime.fromtimestamp(clock(), UTC))
            reads = list(source.observe(context))
            seconds = time.perf_counter() - started
            failed = sum(1 for r in reads if not isinstance(r, Snapshot))
            print(
                f"github ({mode:<9}) {step:<26} {seconds:7.2f} s  "
                f"requests {len(fake.log) - before:>6}  counted {fake.counted() - counted:>6}  "
                f"304s {source.requests.not_modified:>4}  files parsed {source.files_parsed:>6}  "
                f"failed scopes {failed}"
            )

        sync("cold sync")
        sync("re-sync, nothing changed")
        changed = repos[0] / "catalog-info.yaml"
        changed.write_text(changed.read_text().replace("description:", "description: y", 1))
        git(repos[0], "commit", "-q", "-am", "one more file")
        publish(fake, repos[0])
        sync("re-sync, one file changed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--phase", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        print(json.dumps(read_all(args.phase)))
        return
    with tempfile.TemporaryDirectory(prefix="trueup-git-bench-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        write_scaled_world(root, entities=args.entities, repos=args.repos)
        repos = repositories(root)
        for repo in repos:
            git(repo, "init", "-q", "-b", "main")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "world")
        files = sum(1 for r in repos for p in r.rglob("*.yaml") if ".git" not in p.parts)
        print(
            f"world: {len(repos)} repositories, {files} catalog files, {args.entities} entities "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        measure(root, "cold sync")
        measure(root, "re-sync, nothing changed")
        changed = repos[len(repos) // 2] / "catalog-info.yaml"
        changed.write_text(changed.read_text().replace("description:", "description: x", 1))
        git(changed.parent, "commit", "-q", "-am", "one file")
        measure(root, "re-sync, one file changed")
        github_requests(root, use_git=False)
        github_requests(root, use_git=True)


if __name__ == "__main__":
    main()
