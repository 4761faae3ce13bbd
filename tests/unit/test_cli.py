"""The `newsbot` command line: output scripts can read and exit codes they can rely on."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from index.config import CONFIG_ENV, TOKEN_ENV, ConfigError, load_config

STORY = (
    "Storm hits coast\n\n"
    "June 6, 2019\n\n"
    "A storm hit the northern coast on Thursday, cutting power to thousands of homes.\n\n"
    "Emergency services said no one had been seriously hurt."
)


@pytest.fixture(autouse=True)
def no_env_config(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.db")


@pytest.fixture
def story(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(STORY, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ingested_id(capsys, db, story):
    code, out, _ = run(capsys, "--store", db, "ingest", "--json", story)
    assert code == 0
    return json.loads(out)["added_ids"][0]


@pytest.mark.model  # ingest indexes what it saved: the bundled model is loaded
def test_ingest_succeeds(capsys, db, story):
    code, out, _ = run(capsys, "--store", db, "ingest", story)
    assert code == 0
    assert "added 1, duplicates 0, rejected 0" in out


def test_ingest_json_report(capsys, db, story):
    code, out, _ = run(capsys, "--store", db, "ingest", "--json", story)
    report = json.loads(out)
    assert code == 0
    assert report["added"] == 1 and report["duplicates"] == 0 and report["rejected"] == []
    assert len(report["added_ids"]) == 1


def test_ingest_with_a_bad_file_exits_1_and_says_why(capsys, tmp_path, db, story):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary\x00" * 10)
    code, out, _ = run(capsys, "--store", db, "ingest", bad, story)
    assert code == 1
    assert "added 1, duplicates 0, rejected 1" in out
    assert f"rejected {bad}: binary file" in out


def test_stats_json(capsys, db, story):
    ingested_id(capsys, db, story)
    code, out, _ = run(capsys, "--store", db, "stats", "--json")
    stats = json.loads(out)
    assert code == 0
    assert stats["articles"] == 1
    assert stats["store"] == db


def test_stats_of_an_empty_store(capsys, db):
    from index.store import open_store

    open_store(db).close()  # created, nothing saved yet (a path that is not there is refused)
    code, out, _ = run(capsys, "--store", db, "stats")
    assert code == 0 and "articles:  0" in out


def test_list_json_gives_one_object_per_line(capsys, tmp_path, db, story):
    other = tmp_path / "other.txt"
    other.write_text("Bridge reopens\n\nThe old bridge reopened to traffic after two years of repairs.", "utf-8")
    run(capsys, "--store", db, "ingest", story, other)
    code, out, _ = run(capsys, "--store", db, "list", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    assert all(set(row) == {"id", "title", "date", "source", "url"} for row in rows)
    assert [(r["title"], r["date"]) for r in rows] == [("Storm hits coast", "2019-06-06"), ("Bridge reopens", None)]


def test_show_json_adds_the_text(capsys, db, story):
    article_id = ingested_id(capsys, db, story)
    code, out, _ = run(capsys, "--store", db, "show", article_id, "--json")
    shown = json.loads(out)
    assert code == 0
    assert set(shown) == {"id", "title", "date", "source", "url", "text"}
    assert shown["id"] == article_id and shown["title"] == "Storm hits coast"
    assert shown["text"].startswith("A storm hit the northern coast")


def test_show_plain(capsys, db, story):
    article_id = ingested_id(capsys, db, story)
    code, out, _ = run(capsys, "--store", db, "show", article_id)
    assert code == 0
    assert out.splitlines()[0] == "Storm hits coast"
    assert "2019-06-06" in out.splitlines()[1]


def test_show_unknown_id_exits_3(capsys, db):
    from index.store import open_store

    open_store(db).close()
    code, out, err = run(capsys, "--store", db, "show", "no-such-id")
    assert code == 3
    assert "no-such-id" in err and out == ""


def test_no_command_exits_2(capsys):
    assert run(capsys)[0] == 2


def test_a_store_that_cannot_be_opened_exits_4(capsys, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database\x00" * 300)
    code, _, err = run(capsys, "--store", garbage, "stats")
    assert code == 4
    assert "store error" in err


def write_config(tmp_path, text: str):
    path = tmp_path / "newsbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_with_an_unknown_key_exits_2_naming_it(capsys, tmp_path, db):
    config = write_config(tmp_path, "[ingest]\nmax_file_bytez = 10\n")
    code, _, err = run(capsys, "--config", config, "--store", db, "stats")
    assert code == 2
    assert "max_file_bytez" in err


def test_config_with_an_unknown_section_exits_2_naming_it(capsys, tmp_path, db):
    config = write_config(tmp_path, "[retreival]\nk1 = 1.5\n")
    code, _, err = run(capsys, "--config", config, "--store", db, "stats")
    assert code == 2
    assert "retreival" in err


def test_config_with_a_wrong_type_exits_2(capsys, tmp_path, db):
    config = write_config(tmp_path, '[ingest]\nmax_file_bytes = "big"\n')
    code, _, err = run(capsys, "--config", config, "--store", db, "stats")
    assert code == 2
    assert "ingest.max_file_bytes" in err and "int" in err


def test_missing_or_invalid_config_file_exits_2(capsys, tmp_path, db):
    assert run(capsys, "--config", tmp_path / "missing.toml", "--store", db, "stats")[0] == 2
    broken = write_config(tmp_path, "[ingest\n")
    assert run(capsys, "--config", broken, "--store", db, "stats")[0] == 2


def test_newsbot_config_env_var_is_honoured(capsys, monkeypatch, tmp_path):
    store_path = tmp_path / "from-env.db"
    config = write_config(tmp_path, f'[store]\npath = "{store_path}"\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    code, _, err = run(capsys, "stats", "--json")
    assert code == 4 and f"no store at {store_path}" in err  # the configured path, not the default one
    from index.store import open_store

    open_store(store_path).close()
    code, out, _ = run(capsys, "stats", "--json")
    assert code == 0
    assert json.loads(out)["store"] == str(store_path)


def test_newsbot_config_env_var_with_a_bad_file_exits_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(CONFIG_ENV, str(write_config(tmp_path, "[store]\nbogus = 1\n")))
    code, _, err = run(capsys, "stats")
    assert code == 2 and "bogus" in err


def test_load_config_defaults():
    config = load_config(env={})
    assert config.ingest.max_file_bytes == 20_000_000
    assert config.telegram.token == ""


def test_newsbot_token_overrides_the_config_token(tmp_path):
    path = write_config(tmp_path, '[telegram]\ntoken = "from-file"\nadmins = [1, 2]\n')
    assert load_config(path, env={}).telegram.token == "from-file"
    config = load_config(path, env={TOKEN_ENV: "from-env"})
    assert config.telegram.token == "from-env"
    assert config.telegram.admins == [1, 2]


def test_newsbot_token_from_the_process_environment(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "secret-token")
    assert load_config().telegram.token == "secret-token"


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[telegram]\nadmins = [1, true]\n", "telegram.admins[1]"),
        ("[telegram]\nadmins = 5\n", "list"),
        ("[ingest]\npassage_words = true\n", "ingest.passage_words"),
        ('store = "x.db"\n', "[store]"),
        ('[retrieval]\nfusion = "max"\n', "retrieval.fusion"),
        ("[ingest]\nmax_file_bytes = 0\n", "ingest.max_file_bytes"),
        ("[telegram]\nanswer_processes = -1\n", "telegram.answer_processes"),
        ("[telegram]\nanswer_processes = 500\n", "telegram.answer_processes"),
        ("[retrieval]\nparallel_stages_from = -1\n", "retrieval.parallel_stages_from"),
    ],
)
def test_load_config_errors_name_the_key(tmp_path, toml, words):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, toml), env={})
    assert words in str(info.value)


def test_ints_are_accepted_for_floats(tmp_path):
    config = load_config(write_config(tmp_path, "[retrieval]\nk1 = 2\n"), env={})
    assert config.retrieval.k1 == 2.0 and isinstance(config.retrieval.k1, float)


def test_the_example_config_loads_and_shows_the_defaults():
    from pathlib import Path

    from index.config import Config

    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert load_config(example, env={}) == Config()


def test_migrate_copies_a_store_and_refuses_a_non_empty_target(capsys, tmp_path, db, story):
    assert main(["--store", db, "ingest", str(story)]) == 0
    capsys.readouterr()
    target = str(tmp_path / "copy.db")
    assert main(["migrate", "--from", db, "--to", f"sqlite:///{target}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 1
    assert main(["--store", target, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 1
    assert main(["migrate", "--from", db, "--to", target]) == 4
    assert "not empty" in capsys.readouterr().err


def test_a_config_file_with_a_token_that_others_can_read_is_warned_about(tmp_path, caplog):
    path = tmp_path / "newsbot.toml"
    path.write_text('[telegram]\ntoken = "123:secret-value"\n')
    path.chmod(0o644)
    load_config(path, env={})
    assert "other users may read it" in caplog.text and "secret-value" not in caplog.text
    caplog.clear()
    path.chmod(0o600)
    load_config(path, env={})
    assert "other users may read it" not in caplog.text


def test_a_mistyped_secret_is_not_echoed_in_the_error(tmp_path):
    path = tmp_path / "newsbot.toml"
    path.write_text("[telegram]\ntoken = 123456789\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, env={})
    assert "telegram.token: expected str" in str(error.value) and "123456789" not in str(error.value)


def _foreign_sqlite(tmp_path):
    import sqlite3

    path = tmp_path / "contacts.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ann', '555')")
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize("command", [["stats"], ["list"], ["show", "x"], ["ingest", "STORY"]])
def test_another_applications_sqlite_file_is_refused_and_left_as_it_was(capsys, tmp_path, story, command):
    """`stats` on the wrong file used to switch it to WAL and add newsbot's tables to it."""
    import sqlite3

    path = _foreign_sqlite(tmp_path)
    before = path.read_bytes()
    argv = [str(story) if a == "STORY" else a for a in command]
    code, _, err = run(capsys, "--store", path, *argv)
    assert code == 4 and "not a newsbot store" in err and "contacts" in err
    assert path.read_bytes() == before
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["contacts"]
    db.close()


def test_stats_reads_a_store_without_writing_to_it(capsys, tmp_path, db, story):
    import os

    assert main(["--store", db, "ingest", "--no-index", str(story)]) == 0
    capsys.readouterr()
    os.chmod(tmp_path, 0o555)  # nobody may create files beside it (root may: checked by mode=ro below)
    try:
        from index.store import SqliteStore, StoreError

        with SqliteStore(db, read_only=True) as store:
            assert store.stats()["articles"] == 1
            with pytest.raises(StoreError, match="readonly"):
                store.set_meta("x", "y")
    finally:
        os.chmod(tmp_path, 0o755)


def test_a_password_in_a_postgresql_url_is_never_echoed(capsys, tmp_path, db, story):
    assert main(["--store", db, "ingest", "--no-index", str(story)]) == 0
    capsys.readouterr()
    for url in ("postgresql://news:hunter2@127.0.0.1:9/news?connect_timeout=2",
                "postgresql://news@127.0.0.1:9/news?password=hunter2&connect_timeout=2",
                "postgres://news:hunter2@127.0.0.1:9/news?sslmode=disable&Password=hunter2"):
        code, out, err = run(capsys, "migrate", "--from", db, "--to", url)
        assert code == 4 and "hunter2" not in out + err, err
    assert "PGPASSWORD" in err  # where the password belongs instead: not on a command line `ps` shows


def test_eval_alerts_without_the_data_skips_with_a_message(capsys, tmp_path, db):
    code, out, err = run(capsys, "--store", db, "eval", "--alerts", "--eval-dir", tmp_path, "--cache", tmp_path)
    assert code == 0 and out == ""
    assert "reuters-21578.jsonl.gz" in err and "skipping" in err
