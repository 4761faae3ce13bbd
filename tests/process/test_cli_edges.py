"""The CLI's edges as a new operator meets them: a mistyped store, options after the command,
--version, help pages that say what each command and option does."""

from __future__ import annotations

import pytest

from bot.cli import build_parser, main


@pytest.mark.parametrize("command", [["stats"], ["list"], ["show", "x"], ["ask", "--mode", "bm25", "anything"],
                                     ["chat"], ["reindex"], ["feeds", "list"], ["feeds", "poll"]])
def test_commands_that_read_refuse_a_store_that_does_not_exist(tmp_path, capsys, command):
    typo = tmp_path / "typo" / "stroe.db"
    assert main(["--store", str(typo), *command]) == 4
    err = capsys.readouterr().err
    assert f"no store at {typo}" in err and "ingest" in err
    assert not typo.exists() and not typo.parent.exists()


def test_store_and_config_are_accepted_after_the_command(tmp_path, capsys, make_article):
    from index.store import open_store

    with open_store(tmp_path / "s.db") as store:
        store.save(make_article("Seven words of text in this article here.", id="a1", title="One"))
    assert main(["stats", "--store", str(tmp_path / "s.db"), "--json"]) == 0
    assert '"articles": 1' in capsys.readouterr().out
    assert main(["--store", str(tmp_path / "other.db"), "list", "--store", str(tmp_path / "s.db")]) == 0
    assert "a1" in capsys.readouterr().out


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("newsbot ")


def _subparsers(parser):
    import argparse

    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_every_command_and_option_says_what_it_does():
    parser = build_parser()
    for name, command in _subparsers(parser).items():
        assert command.description, f"{name} has no description"
        parsers = [command, *(_subparsers(command).values() if name == "feeds" else [])]
        for p in parsers:
            for action in p._actions:
                if action.option_strings and action.dest != "help":
                    assert action.help, f"{p.prog} {action.option_strings} has no help"


def test_the_help_pages_name_formats_token_and_date_format():
    commands = _subparsers(build_parser())
    assert "JSONL" in commands["ingest"].description and "RSS" in commands["ingest"].description
    assert "NEWSBOT_TOKEN" in commands["run"].description
    now = next(a for a in commands["ask"]._actions if a.dest == "now")
    assert "YYYY-MM-DD" in now.help


def test_the_chat_at_a_terminal_has_line_editing_and_history(tmp_path):
    """Up-arrow recalls the last line (readline) instead of printing ^[[A; history is kept."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time
    from pathlib import Path

    from index.store import open_store

    store = tmp_path / "empty.db"
    open_store(store).close()
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), HOME=str(tmp_path), TERM="xterm")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--store", str(store), "chat"], cwd=root, env=env,
                               stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, count: int = 1) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while seen.count(marker) < count:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            if select.select([leader], [], [], 0.5)[0]:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break

    try:
        read_until(b"you> ")
        os.write(leader, b"/stats\r")
        read_until(b"you> ", 2)
        os.write(leader, b"\x1b[A\r")  # the up arrow, then Enter
        read_until(b"articles from", 2)
        os.write(leader, b"/quit\r")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    assert b"^[[A" not in seen
    assert "/stats" in (tmp_path / ".newsbot_history").read_text()


@pytest.mark.parametrize("toml,key", [('[retrieval]\nfusion = "borda"\n', "retrieval.fusion"),
                                      ('[retrieval]\nvector_dtype = "bf16"\n', "retrieval.vector_dtype"),
                                      ('[telegram]\nmode = "carrier"\n', "telegram.mode"),
                                      ('[feeds]\nfull_text = "sometimes"\n', "feeds.full_text")])
def test_a_setting_with_choices_names_them_when_given_another(tmp_path, toml, key):
    from index.config import ConfigError, load_config

    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=rf"{key} must be one of .*, got"):
        load_config(path, env={})


def test_the_choices_are_typed_once_and_read_where_they_are_needed():
    import typing

    from index.config import Fusion, Mode, VectorDtype
    from index.passage_vectors import VECTOR_DTYPES
    from index.retrieval import FUSIONS, MODES

    assert VECTOR_DTYPES == typing.get_args(VectorDtype) and MODES == typing.get_args(Mode)
    assert set(FUSIONS) == set(typing.get_args(Fusion))
    ask = next(p for name, p in _subparsers(build_parser()).items() if name == "ask")
    assert tuple(next(a for a in ask._actions if a.dest == "mode").choices) == MODES


def test_a_set_override_is_checked_against_the_choices_too():
    from bot.cli import _override
    from index.config import Config, ConfigError

    assert _override(Config(), ["retrieval.fusion=rrf"]).retrieval.fusion == "rrf"
    with pytest.raises(ConfigError, match="retrieval.fusion must be one of rrf, weighted, zscore"):
        _override(Config(), ["retrieval.fusion=borda"])
