"""`newsbot ask`, `reindex` and `chat` over a demo store built by `newsbot ingest`; the chat's commands."""

from __future__ import annotations

import time

import contextlib
import io
import json
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.messages import LATEST_STORIES
from bot.terminal import HELP, TerminalChat
from index.models import RawDocument
from index.config import CONFIG_ENV, TOKEN_ENV

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "index" / "demo" / "stories.jsonl"
KEYS = {"question", "no_answer", "quotes", "articles", "suggestions", "note"}
QUOTE_KEYS = {"text", "article_id", "title", "date", "url", "score"}
PAY = "How much did the rail workers' pay rise?"
HEAT = "What was the highest temperature ever recorded in Port Alder?"


@pytest.fixture(autouse=True)
def no_env_config(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory, embedder) -> str:
    """A store built by `newsbot ingest` from the demo articles (embedder: model loaded, 1 thread)."""
    path = str(tmp_path_factory.mktemp("cli") / "cli.db")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--store", path, "ingest", str(DEMO)])
    assert code == 0, out.getvalue()
    assert "added 36, duplicates 0, rejected 0" in out.getvalue()
    assert Path(path + ".index", "CURRENT").is_file()  # ingest indexed too
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json(capsys, db):
    code, out, _ = run(capsys, "--store", db, "ask", "--json", "--now", "2026-11-25", PAY)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert set(answer) == KEYS
    assert answer["question"] == PAY and answer["no_answer"] is False
    assert answer["quotes"] and all(set(q) == QUOTE_KEYS for q in answer["quotes"])
    assert "6.5 percent" in answer["quotes"][0]["text"]
    assert answer["articles"][0] == "demo-025"


def test_ask_text(capsys, db):
    code, out, _ = run(capsys, "--store", db, "ask", "--now", "2026-11-25", HEAT)
    assert code == 0
    assert "41.2 degrees" in out and "8 Jul 2026" in out


def test_ask_modes(capsys, db):
    for mode in ("bm25", "dense"):
        code, out, _ = run(capsys, "--store", db, "ask", "--json", "--mode", mode, HEAT)
        assert code == 0
        assert json.loads(out)["articles"][0] == "demo-013", mode


def test_ask_without_question_is_a_usage_error(capsys, db):
    code, _, err = run(capsys, "--store", db, "ask")
    assert code == 2 and "question" in err


def test_ask_bad_now_is_a_usage_error(capsys, db):
    code, _, err = run(capsys, "--store", db, "ask", "--now", "someday", PAY)
    assert code == 2 and "--now" in err


def test_ask_batch(capsys, db, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        json.dumps({"question": "Who won the election for mayor of Port Alder?", "now": "2026-10-30"}) + "\n"
        + '{"question": "broken\n'
        + json.dumps({"question": PAY}) + "\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "--store", db, "ask", "--batch", batch)
    assert code == 1  # the broken line
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert len(lines) == 3
    first, broken, third = lines
    assert set(first) == KEYS and set(third) == KEYS
    # "now" was honoured: before the vote, the result (4 Nov) is not known
    assert not {"demo-027", "demo-028"} & set(first["articles"])
    assert set(broken) == {"line", "error"} and broken["line"] == 2 and "not valid JSON" in broken["error"]
    assert third["question"] == PAY and "6.5 percent" in third["quotes"][0]["text"]


def test_ask_batch_reports_bad_lines_and_goes_on(capsys, db, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join([
        json.dumps({"question": HEAT, "now": "not a date"}),
        json.dumps({"no_question": 1}),
        "",  # blank lines are skipped
        json.dumps([1, 2]),
        json.dumps({"question": HEAT}),
    ]) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "--store", db, "ask", "--batch", batch)
    assert code == 1  # done, but some lines failed
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [line.get("line") for line in lines] == [1, 2, 4, None]
    assert lines[0]["error"].startswith('line 1: "now": not a date') and "--now" not in lines[0]["error"]
    assert "41.2 degrees" in lines[-1]["quotes"][0]["text"]


def test_ask_batch_non_string_question_is_one_error_line(capsys, db, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(json.dumps({"question": 5}) + "\n" + json.dumps({"question": HEAT}) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "--store", db, "ask", "--batch", batch)
    assert code == 1
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines[0]["line"] == 1 and "error" in lines[0]
    assert "41.2 degrees" in lines[1]["quotes"][0]["text"]


def test_reindex(capsys, db):
    before = (Path(db + ".index") / "CURRENT").read_text()
    code, out, _ = run(capsys, "--store", db, "reindex")
    assert code == 0
    assert out.startswith("reindexed ") and "passages" in out
    assert (Path(db + ".index") / "CURRENT").read_text() != before
    code, out, _ = run(capsys, "--store", db, "ask", "--json", PAY)
    assert code == 0 and json.loads(out)["articles"][0] == "demo-025"


def test_chat_reads_questions_from_stdin(capsys, db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{HEAT}\n/article demo-001\n/quit\nnever read\n"))
    code, out, _ = run(capsys, "--store", db, "chat")
    assert code == 0
    assert "“Port Alder recorded its highest temperature ever" in out and "41.2 degrees" in out
    assert "New winter ferry links Port Alder with Gull Island" in out


def test_chat_asks_as_of_now_when_given(capsys, db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("What happened with the rail strike this week?\n"))
    code, out, err = run(capsys, "--store", db, "chat", "--now", "2026-11-24")
    assert code == 0 and "asking as of 2026-11-24" in err
    assert out.startswith("Nothing on that from 17 Nov 2026 to 24 Nov 2026. The latest I have:")
    assert "Rail strike ends as workers accept 6.5 percent pay rise · 22 Oct 2026" in out


def test_the_readme_demo_exchange_is_what_the_demo_chat_says(capsys, db, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- demo-exchange:", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    banner, questions = lines[0], [line[len("you> "):] for line in lines if line.startswith("you> ")]
    expected = "\n".join(line for line in lines[1:] if not line.startswith("you> "))
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(q + "\n" for q in questions)))
    code, out, err = run(capsys, "--store", db, "chat", "--now", "2026-11-24")
    assert code == 0 and len(questions) == 3
    assert banner.split(" (")[0] in err
    assert out.strip() == expected.strip()


def test_chat_and_run_refuse_a_bad_now(capsys, db):
    code, _, err = run(capsys, "--store", db, "chat", "--now", "someday")
    assert code == 2 and "--now" in err


def test_the_demo_chat_asks_as_of_the_demo_articles_last_day():
    from bot.cli import demo_day

    days = [json.loads(line)["date"][:10] for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert demo_day() == date.fromisoformat(max(days)) == date(2026, 11, 24)


def test_chat_ends_at_end_of_input(capsys, db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("/help\n"))
    code, out, _ = run(capsys, "--store", db, "chat")
    assert code == 0 and "/latest" in out


# -- TerminalChat.handle ----------------------------------------------------------------------


@pytest.fixture
def chat(demo_engine):
    written: list[str] = []
    return TerminalChat(demo_engine, now=lambda: date(2026, 11, 25), write=written.append), written


def test_chat_help(chat):
    terminal, written = chat
    assert terminal.handle("/help") is True
    assert written == [HELP]
    assert terminal.handle("/start") is True and written[-1] == HELP


def test_chat_stats(chat, demo_engine):
    terminal, written = chat
    assert terminal.handle("/stats")
    count = demo_engine.store.stats()["articles"]
    assert written[0].startswith(f"{count} articles from ")
    assert "24 Nov 2026" in written[0]


def test_chat_latest(chat):
    terminal, written = chat
    assert terminal.handle("/latest")
    lines = written[0].splitlines()  # the Telegram bot's /latest, in plain text
    assert lines[0] == "Newest stories" and len(lines) == 1 + LATEST_STORIES
    assert lines[1].startswith("• 24 Nov 2026 — ") and lines[1].endswith(" demo-036")
    assert terminal.handle("/latest Quillnest")
    assert "Quillnest" in written[1] and "“" in written[1]


def test_chat_article(chat):
    terminal, written = chat
    assert terminal.handle("/article demo-001")
    assert written[0].startswith("New winter ferry links Port Alder with Gull Island\n5 Jan 2026\n\n")
    assert "Saltwren" in written[0]
    assert terminal.handle("/article nope-999")
    assert written[1] == "No article with id 'nope-999'."


def test_chat_unknown_command_empty_line_and_quit(chat):
    terminal, written = chat
    assert terminal.handle("/frobnicate now") is True
    assert written == ["Unknown command /frobnicate. Try /help."]
    assert terminal.handle("   ") is True and len(written) == 1
    assert terminal.handle("/quit") is False
    assert terminal.handle("/exit") is False
    assert len(written) == 1


def test_chat_question(chat):
    terminal, written = chat
    assert terminal.handle(PAY)
    assert "6.5 percent pay rise" in written[0] and "22 Oct 2026" in written[0]
    assert terminal.handle("What is the recipe for banana bread?")
    assert written[1].startswith("Nothing in the store answers that.")


def test_chat_run_stops_at_quit(chat):
    terminal, written = chat
    terminal.run(["/help", "/quit", "/stats"])
    assert written == [HELP]


@pytest.fixture
def own_chat(fresh_engine):
    """A terminal chat over a store of its own (these tests save articles and follow topics)."""
    from tests.support.demo import demo_documents

    engine = fresh_engine()
    engine.save_documents(demo_documents())
    engine.open_index()
    written: list[str] = []
    return TerminalChat(engine, now=lambda: date(2026, 11, 25), write=written.append), written


def test_chat_topics_and_an_alert_for_a_saved_article(own_chat):
    terminal, written = own_chat
    terminal.handle("/subscribe Zorblax merger -rumour")
    assert written[-1].startswith("Subscribed to Zorblax merger -rumour. New matching articles arrive as soon as")
    terminal.handle("/topics")
    assert written[-1] == "Your topics\n1. Zorblax merger -rumour (instant) · no judgements yet"
    terminal.handle("/save Zorblax and Quaffle agree merger. The Zorblax merger creates the largest "
                    "budgeting app maker in Valdoria, the companies said on Tuesday.")
    saved, alert = written[-2:]
    assert saved.startswith("added 1, duplicates 0, rejected 0")
    assert alert.startswith("🔔 New on Zorblax merger -rumour\n“") and "Zorblax" in alert
    terminal.handle("/save A Zorblax merger rumour spread on Wednesday, and the Zorblax board denied it.")
    assert not written[-1].startswith("🔔")  # "-rumour" excludes it
    terminal.handle("/unsubscribe 1")
    assert written[-1] == "Unsubscribed (1 topic)."


def test_chat_timeline_is_a_sparkline(chat):
    terminal, written = chat
    terminal.handle("/timeline rail strike")
    assert "█" in written[-1] and "rail strike" in written[-1]
    assert all(len(line) <= 80 for line in written[-1].splitlines())
    terminal.handle("/timeline")
    assert written[-1].startswith("Which topic?")


def test_chat_refuses_an_empty_topic_with_the_reason(chat):
    terminal, written = chat
    terminal.handle("/subscribe the and of")
    assert "no searchable words" in written[-1]


def test_chat_ingest_reports_reasons_and_duplicates_as_the_cli_does(own_chat, tmp_path):
    terminal, written = own_chat
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no text"}\n{broken\n')
    terminal.handle(f"/ingest {bad}")
    assert written[-1].splitlines() == [
        "added 0, duplicates 0, rejected 2",
        f"  rejected {bad}:1: record has no text field (text/body/content)",
        f"  rejected {bad}:2: not valid JSON (JSONDecodeError: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))"]
    terminal.handle("/save The Port Alder ferry resumed service on Friday after the storm, the operator said.")
    terminal.handle("/save The Port Alder ferry resumed service on Friday after the storm, the operator said.")
    assert written[-1].startswith("added 0, duplicates 1, rejected 0")


def test_chat_article_without_an_id_says_how(chat):
    terminal, written = chat
    terminal.handle("/article")
    assert written[-1].startswith("Which article? /article ID")


def test_chat_shows_alerts_for_articles_another_process_saved_and_daily_digests_when_due(own_chat):
    from tests.support.demo import engine_at

    terminal, written = own_chat
    terminal.handle("/subscribe Zorblax merger")
    terminal.handle("/subscribe daily: Quaffle budgeting app")
    assert "once a day, in a digest" in written[-1]
    other = engine_at(terminal.engine.store.path, terminal.engine.embedder)  # e.g. `newsbot ingest`
    try:
        other.save_documents([
            RawDocument(origin="cli", title="Zorblax agrees merger", text=(
                "Zorblax agreed a merger with a rival on Tuesday. The Zorblax merger creates the largest software "
                "maker in Valdoria, the companies said.")),
            RawDocument(origin="cli", title="Quaffle budgeting app adds savings goals", text=(
                "The Quaffle budgeting app added savings goals on Thursday. Quaffle said users of the budgeting "
                "app can now set a target and a date for each goal."))])
    finally:
        other.close()
    stop = terminal.watch_in_background(0.05, None)
    try:
        deadline = time.monotonic() + 60
        while not any(w.startswith("🔔 New on Zorblax merger\n") for w in written):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
    assert not any("daily digest:" in w for w in written)  # not due before the digest hour
    terminal._alerts(now="2100-01-01T00:00:00Z")
    assert written[-1].startswith("📰 Your daily digest: 1 new article\n") and "Quaffle" in written[-1]


def test_a_quote_that_is_one_whole_quotation_keeps_its_own_marks():
    from bot.render import quoted

    assert quoted("“We will not stop,” she said.") == "““We will not stop,” she said.”"
    assert quoted("“We will not stop.”") == "“We will not stop.”"
    assert quoted('"We will not stop."') == '"We will not stop."'
    assert quoted("Plain sentence.") == "“Plain sentence.”"


def test_chat_timeline_counts_by_week_not_per_week(chat):
    terminal, written = chat
    terminal.handle("/timeline rail strike")
    assert "counted by" in written[-1].splitlines()[0] and " per " not in written[-1].splitlines()[0]
