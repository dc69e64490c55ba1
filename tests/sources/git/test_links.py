"""Names, links and Location URL targets of repositories (pure functions)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from trueup.backstage_config import WebLinksConfig
from trueup.git.remote import repository_name
from trueup.sources.git.config import GitSourceConfig
from trueup.sources.github.config import GithubSourceConfig
from trueup.sources.repository_catalog.catalog import path_in_repository, reader_of
from trueup.sources.repository_catalog.weblinks import web_links


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


def test_gitlab_links_use_its_dash_paths_and_nested_groups() -> None:
    links = web_links("git@gitlab.com:acme/platform/catalog.git", "main")
    location, extra = links.annotations("teams/a/catalog-info.yaml")
    web = "https://gitlab.com/acme/platform/catalog"
    assert location == f"url:{web}/-/tree/main/teams/a/"
    assert extra == {
        "backstage.io/view-url": f"{web}/-/blob/main/teams/a/catalog-info.yaml",
        "backstage.io/edit-url": f"{web}/-/edit/main/teams/a/catalog-info.yaml",
    }
    # a self-hosted GitLab is recognised by its name
    location, _ = web_links("https://gitlab.acme.io/ops/cat.git", "dev").annotations("c.yaml")
    assert location == "url:https://gitlab.acme.io/ops/cat/-/tree/dev/"


def test_bitbucket_cloud_links() -> None:
    links = web_links("https://jdoe@bitbucket.org/acme/catalog.git", "main")
    location, extra = links.annotations("a/catalog-info.yaml")
    web = "https://bitbucket.org/acme/catalog"
    assert location == f"url:{web}/src/main/a/"
    assert extra == {
        "backstage.io/view-url": f"{web}/src/main/a/catalog-info.yaml",
        "backstage.io/edit-url": f"{web}/src/main/a/catalog-info.yaml?mode=edit&at=main",
    }


def test_bitbucket_server_links_from_scm_and_ssh_remotes() -> None:
    web = "https://git.acme.io/projects/PLAT/repos/catalog"
    at = "?at=refs%2Fheads%2Fmain"
    for url in (
        "https://git.acme.io/scm/plat/catalog.git",
        "ssh://git@bitbucket.acme.io:7999/plat/catalog.git",
    ):
        location, extra = web_links(url, "main").annotations("a/catalog-info.yaml")
        expected = web.replace("git.acme.io", urlsplit(url).hostname or "")
        assert location == f"url:{expected}/browse/a/{at}", url
        assert extra["backstage.io/view-url"] == f"{expected}/browse/a/catalog-info.yaml{at}"
        assert extra["backstage.io/edit-url"] == extra["backstage.io/view-url"]  # no edit page
    location, _ = web_links("https://git.acme.io/scm/~jdoe/notes.git", "main").annotations("c.y")
    assert location == f"url:https://git.acme.io/users/jdoe/repos/notes/browse/{at}"


def test_an_unknown_host_gets_links_only_from_configured_templates() -> None:
    assert web_links("https://forge.acme.io/acme/catalog.git", "main").annotations("a.yaml") == (
        None,
        {},
    )
    templates = WebLinksConfig(
        source_location="https://cgit.acme.io/catalog.git/tree/{folder}?h={branch}",
        view_url="https://cgit.acme.io/catalog.git/tree/{path}?h={branch}",
    )
    links = web_links("git://git.acme.io/catalog.git", "main", templates)
    location, extra = links.annotations("teams/a b.yaml")
    assert location == "url:https://cgit.acme.io/catalog.git/tree/teams/?h=main"
    assert extra == {
        "backstage.io/view-url": "https://cgit.acme.io/catalog.git/tree/teams/a%20b.yaml?h=main"
    }
    # a host type given in configuration wins over the guess
    forced = web_links(
        "https://forge.acme.io/acme/catalog.git", "main", WebLinksConfig(host="gitlab")
    )
    assert forced.annotations("a.yaml")[0] == "url:https://forge.acme.io/acme/catalog/-/tree/main/"


def test_a_template_with_an_unknown_name_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="may use only"):
        WebLinksConfig(view_url="https://x/{repo}/{path}")
