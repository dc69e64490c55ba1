"""Names, links and Location URL targets of repositories (pure functions)."""

from __future__ import annotations

from trueup.config import GithubSourceConfig, GitSourceConfig
from trueup.sources.git.catalog import path_in_repository
from trueup.sources.git.source import reader_of, repository_name, web_links


def test_repository_names_for_every_url_form() -> None:
    assert repository_name("https://github.com/acme/catalog.git") == "catalog"
    assert repository_name("ssh://git@host:22/acme/catalog.git") == "catalog"
    assert repository_name("git@github.com:acme/catalog.git") == "catalog"
    assert repository_name("git://127.0.0.1:9418/catalog.git") == "catalog"
    assert repository_name("file:///srv/git/catalog/") == "catalog"
    assert repository_name("/srv/git/catalog") == "catalog"


def test_view_urls_for_web_remotes_and_file_locations_for_local_ones() -> None:
    links = web_links("git@github.com:acme/catalog.git", "main")
    location, extra = links.annotations("teams/a/catalog-info.yaml")
    assert location == "url:https://github.com/acme/catalog/tree/main/teams/a/"
    assert extra["backstage.io/view-url"] == (
        "https://github.com/acme/catalog/blob/main/teams/a/catalog-info.yaml"
    )
    assert extra["backstage.io/edit-url"].startswith("https://github.com/acme/catalog/edit/main/")
    local, extra = web_links("/srv/git/catalog", "main").annotations("catalog-info.yaml")
    assert (local, extra) == ("file:/srv/git/catalog/", {})
    assert web_links("git://host/catalog.git", "main").annotations("a.yaml") == (None, {})


def test_url_targets_into_the_same_repository_and_branch_become_paths() -> None:
    web = "https://github.com/acme/catalog"
    assert path_in_repository(web, "main", f"{web}/blob/main/teams/a.yaml") == "teams/a.yaml"
    assert path_in_repository(web, "main", f"{web}/tree/main/x/../b.yaml") == "b.yaml"
    assert path_in_repository(web, "main", f"{web}/-/blob/main/c.yaml") == "c.yaml"
    assert path_in_repository(web, "main", f"{web}/blob/dev/a.yaml") is None
    assert path_in_repository(web, "main", f"{web}/blob/main/../../escape.yaml") is None
    assert path_in_repository(web, "main", "https://github.com/acme/other/blob/main/a") is None


def test_url_targets_into_other_configured_repositories_name_their_reader() -> None:
    others = [
        GitSourceConfig(id="infra", type="git", url="git@github.com:acme/infra.git"),
        GithubSourceConfig(id="gh", type="github", org="acme-apps"),
    ]
    url = "https://github.com/acme/infra/blob/main/catalog-info.yaml"
    assert reader_of(url, others) == "source infra"
    assert reader_of("https://github.com/acme-apps/x/blob/main/c.yaml", others) == "source gh"
    assert reader_of("https://github.com/nobody/x/blob/main/c.yaml", others) is None
