"""One key per repository, however its URL is written."""

from __future__ import annotations

import pytest

from trueup.model.repository import repository_key


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/shop",
        "https://github.com/Acme/Shop.git",
        "https://github.com/acme/shop/",
        "http://GitHub.com/acme/shop.git/",
        "ssh://git@github.com/acme/shop.git",
        "git@github.com:acme/shop.git",
        "git://github.com/acme/shop",
    ],
)
def test_remote_spellings_are_one_repository(url: str) -> None:
    assert repository_key(url) == "github.com/acme/shop"


def test_local_paths_and_file_urls_are_one_repository() -> None:
    assert repository_key("file:///srv/git/catalog.git") == "/srv/git/catalog"
    assert repository_key("/srv/git/catalog/") == "/srv/git/catalog"
    assert repository_key("/srv/git/./x/../catalog") == "/srv/git/catalog"


def test_different_repositories_differ() -> None:
    assert repository_key("https://github.com/acme/shop") != repository_key(
        "https://github.com/acme/shop-deploy"
    )
    assert repository_key("") == ""
