"""The GitHub client alone: redirects, the token's reach, 304s without a cached body."""

from __future__ import annotations

from pathlib import Path

import pytest

from trueup.errors import GithubError
from trueup.model.observation import FailureKind
from trueup.sources.github.client import GithubClient

from .conftest import TOKEN
from .fake_api import FakeClock, FakeGitHub, Fault, serve


def client(url: str, clock: FakeClock, cache: Path | None = None) -> GithubClient:
    return GithubClient(url, TOKEN, cache_path=cache, sleep=clock.sleep, clock=clock)


def test_a_redirect_to_another_origin_never_carries_the_token(
    github: FakeGitHub, clock: FakeClock
) -> None:
    other = FakeGitHub(clock)
    other.put_repo("acme/x", {})
    github.put_repo("acme/x", {})
    with serve(other) as elsewhere:
        github.script(r"^/repos/acme/x$", Fault(302, {"location": f"{elsewhere}/repos/acme/x"}))
        api = client(github.base_url, clock)
        try:
            assert api.get_json("/repos/acme/x")["full_name"] == "acme/x"
            assert other.log[-1].authorization is None
            api.get_json("/repos/acme/x")  # a 302 is not remembered: asked at the API again
        finally:
            api.close()
    assert [r.path for r in github.log] == ["/repos/acme/x", "/repos/acme/x"]


def test_a_lost_cache_body_is_never_guessed(github: FakeGitHub, clock: FakeClock) -> None:
    github.script(r"^/repos/acme/y$", Fault(304))
    github.put_repo("acme/y", {})
    api = client(github.base_url, clock)
    with pytest.raises(GithubError) as raised:
        api.get("/repos/acme/y")
    assert raised.value.kind == FailureKind.ERROR
    assert TOKEN not in str(raised.value)
    api.close()


def test_etags_and_the_rate_limit_survive_a_restart(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    github.put_repo("acme/z", {})
    cache = tmp_path / "http-cache.json"
    api = client(github.base_url, clock, cache)
    api.get("/repos/acme/z")
    api.save()
    api.close()
    again = client(github.base_url, clock, cache)
    assert again.get("/repos/acme/z").status == 304
    assert again.rate_limit.remaining is not None
    again.close()
    assert TOKEN not in cache.read_text()


def test_an_error_message_holding_a_nul_is_shown_escaped(
    github: FakeGitHub, clock: FakeClock
) -> None:
    github.script(r"^/repos/acme/z$", Fault(400, {}, {"message": "bad\0request"}))
    api = client(github.base_url, clock)
    with pytest.raises(GithubError) as raised:
        api.get("/repos/acme/z")
    api.close()
    # it becomes the scope's failure and a finding: PostgreSQL stores no NUL
    assert "\0" not in str(raised.value) and "bad\\0request" in str(raised.value)


def test_an_error_message_holding_a_lone_surrogate_is_shown_escaped(
    github: FakeGitHub, clock: FakeClock
) -> None:
    # the fake sends it as the JSON escape "\udc80", which json.loads keeps as is
    github.script(r"^/repos/acme/z$", Fault(400, {}, {"message": "bad\udc80request"}))
    api = client(github.base_url, clock)
    with pytest.raises(GithubError) as raised:
        api.get("/repos/acme/z")
    api.close()
    # it becomes the scope's failure and a finding: UTF-8 has no surrogate
    str(raised.value).encode()
    assert "bad\\udc80request" in str(raised.value)
