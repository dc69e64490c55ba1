"""Issue 8, case 7: the configuration file is parsed like a catalog file, and checked.

Before: an alias bomb in ``trueup.yaml`` grew to 2.7 GB in 30 s with no end; a
non-UTF-8 file gave a traceback; an empty file was "ok" and ``sync`` exited 0;
``config check`` accepted ``database: "not a url"`` and a folder that does not
exist; ``-c`` naming a FIFO hung.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run
from tests.hostile.conftest import MakeFifo
from tests.hostile.world import file_world

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)),
        "sources: *i",
    ]
)


def _limit_memory() -> None:  # the child cannot take the machine down, whatever it does
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_an_alias_bomb_in_the_configuration_is_refused_by_its_limits(tmp_path: Path) -> None:
    config = tmp_path / "trueup.yaml"
    config.write_text(BOMB + "\n")
    # In a child process under a 1 GiB address-space limit: before, this grew without end.
    done = subprocess.run(
        [sys.executable, "-m", "trueup", "config", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
        check=False,
    )
    assert done.returncode == 1
    assert f"error: {config}:" in done.stderr
    assert (
        ":6: refused: more than 100000 nodes in one document (aliases expanded) [node-limit]"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_configuration_that_is_not_utf8_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "trueup.yaml"
    config.write_bytes(b"database: sqlite:///x.db\nsources: []  # caf\xe9\n")
    for argv in (["sync"], ["config", "check"], ["config", "show"]):
        code, _, err = run(capsys, *argv, "-c", str(config))
        assert code == 1
        assert err.strip() == f"error: {config}: not UTF-8 text (an invalid byte at offset 43)"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n...\n"])
def test_an_empty_configuration_is_an_error_and_sync_does_not_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    config = tmp_path / "trueup.yaml"
    config.write_text(text)
    for argv in (["sync"], ["config", "check"]):
        code, _, err = run(capsys, *argv, "-c", str(config))
        assert code == 1
        assert f"{config}: the configuration is empty: nothing is configured" in err


def test_a_configuration_without_sources_does_not_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "trueup.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'x.db'}\nsources: []\n")
    code, _, err = run(capsys, "sync", "-c", str(config))
    assert (code, err.strip()) == (
        1,
        f"error: {config}: nothing to sync: no sources are configured",
    )
    code, _, err = run(capsys, "config", "check", "-c", str(config))
    assert code == 1 and "sources: nothing is configured" in err


def test_config_check_refuses_a_database_that_is_not_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = file_world(tmp_path)
    text = world.config.read_text().replace(f"sqlite:///{world.database}", '"not a url"')
    world.config.write_text(text)
    code, _, err = run(capsys, "config", "check", "-c", str(world.config))
    assert code == 1
    assert f"{world.config}:1: database: is not a database URL" in err
    world.config.write_text(text.replace('"not a url"', "mysql://u:pw@db/x"))
    code, _, err = run(capsys, "config", "check", "-c", str(world.config))
    assert code == 1 and "names the 'mysql' backend" in err and "pw" not in err


def test_config_check_refuses_folders_that_do_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = file_world(tmp_path)
    world.config.write_text(
        f"database: sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}\n"
        "sources:\n"
        f"  - {{id: cat, type: file, path: {tmp_path / 'gone'}}}\n"
        f"  - {{id: tf, type: terraform, state: '{tmp_path / 'nostates'}/*.tfstate'}}\n"
        f"  - {{id: ex, type: kubernetes, snapshot: '{tmp_path / 'noexports'}/*'}}\n"
        f"  - {{id: repo, type: git, url: {tmp_path / 'norepo'}}}\n"
    )
    code, _, err = run(capsys, "config", "check", "-c", str(world.config))
    assert code == 1
    assert err.splitlines() == [
        f"error: {world.config}: database: the folder {tmp_path / 'no-such-folder'} "
        "of the SQLite file does not exist",
        f"{world.config}: sources[0] (cat).path: the folder {tmp_path / 'gone'} does not exist",
        f"{world.config}: sources[1] (tf).state: the folder {tmp_path / 'nostates'} does not exist",
        f"{world.config}: sources[2] (ex).snapshot: the folder {tmp_path / 'noexports'} "
        "does not exist",
        f"{world.config}: sources[3] (repo).url: the repository folder {tmp_path / 'norepo'} "
        "does not exist",
    ]


def test_config_check_refuses_kubeconfig_files_and_contexts_sync_could_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"exec": {"command": "aws"}}}],
                "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'x.db'}\n"
        "sources:\n"
        f"  - {{id: a, type: kubernetes, kubeconfig: {kubeconfig}, contexts: [prod, staging]}}\n"
        f"  - {{id: b, type: kubernetes, kubeconfig: {tmp_path / 'nope'}}}\n"
        f"  - {{id: c, type: kubernetes, kubeconfig: {kubeconfig}, allow_exec: true}}\n"
    )
    code, _, err = run(capsys, "config", "check", "-c", str(config))
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert (
        "sources[0] (a).contexts: context 'prod' (user 'u') uses an exec credential plugin"
        in (lines[0])
    )
    assert (
        lines[1] == f"{config}: sources[0] (a).contexts: 'staging' is not a context of {kubeconfig}"
    )
    assert (
        lines[2]
        == f"{config}: sources[1] (b).kubeconfig: kubeconfig {tmp_path / 'nope'} does not exist"
    )


def test_a_fifo_given_to_c_is_refused_without_being_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fifo: MakeFifo
) -> None:
    config = tmp_path / "trueup.yaml"
    # Were it opened, the writer would feed it a valid configuration (and the test would
    # fail, not hang).
    fifo(config, f"database: sqlite:///{tmp_path / 'x.db'}\nsources: []\n")
    for argv in (["config", "check"], ["sync"]):
        code, _, err = run(capsys, *argv, "-c", str(config))
        assert code == 1
        assert err.strip() == (
            f"error: {config}: cannot read the configuration: it is a FIFO (named pipe), "
            "not a file; not read"
        )
