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
