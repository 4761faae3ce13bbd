"""`newsbot feeds …` as a user runs it: real processes, a real feed server, a real store; and a
kill -9 in the middle of a poll round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.support.feed_server import FeedRoute, FeedServer, Reply, rss, story

from index.store import open_store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def newsbot(tmp_path):
    config = tmp_path / "newsbot.toml"
    config.write_text("[feeds]\nallow_private_urls = true\nper_host_delay_s = 0.0\ntimeout_s = 5.0\n"
                      "claim_lease_s = 1.0\nfull_text = \"never\"\n")
    store = tmp_path / "store.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(*args, check=None):
        done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "--store", str(store), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        if check is not None:
            assert done.returncode == check, done.stdout + done.stderr
        return done

    run.store, run.config, run.env = store, config, env
    return run


def test_add_list_poll_export_import_and_remove(newsbot, server, tmp_path):
    server.routes["/a.xml"] = FeedRoute(rss([story(1), story(2)], title="Wire A"))
    server.routes["/b.xml"] = lambda r: Reply(500)
    added = newsbot("feeds", "add", server.url("/a.xml"), "--interval", "30", check=0)
    assert "added as feed 1" in added.stdout
    assert "not added" in newsbot("feeds", "add", server.url("/b.xml"), check=1).stdout  # the check fetches it
    newsbot("feeds", "add", "--no-check", server.url("/b.xml"), check=0)

    polled = newsbot("feeds", "poll", "--all", "--no-index", check=1)  # one feed failed
    assert "Wire A: 2 new" in polled.stdout and "error: HTTP 500" in polled.stdout

    listed = [json.loads(line) for line in newsbot("feeds", "list", "--json", check=0).stdout.splitlines()]
    assert [(f["id"], f["title"], f["items"], f["failures"]) for f in listed] == [(1, "Wire A", 2, 0), (2, "", 0, 1)]
    assert {"id", "url", "title", "enabled", "items", "last_ok", "last_error", "failures", "next_poll"} <= set(listed[0])
    assert listed[0]["last_ok"] and listed[1]["last_error"].startswith("HTTP 500")
    assert listed[0]["interval_minutes"] == 30
    human = newsbot("feeds", "list", check=0).stdout
    assert "failing (1 in a row)" in human and "last error: HTTP 500" in human

    opml = tmp_path / "feeds.opml"
    opml.write_text(newsbot("feeds", "export", check=0).stdout)
    other = tmp_path / "other.db"
    imported = subprocess.run([sys.executable, "-m", "bot.cli", "--store", str(other), "feeds", "import", str(opml)],
                              cwd=ROOT, env=newsbot.env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0 and "added 2 feed(s)" in imported.stdout
    with open_store(other) as store:
        assert [(f.url, f.title) for f in store.feeds()] == [(server.url("/a.xml"), "Wire A"), (server.url("/b.xml"), "")]

    stats = json.loads(newsbot("stats", "--json", check=0).stdout)
    assert stats["feeds"] == {"enabled": 2, "disabled": 0, "failing": 1} and stats["articles"] == 2
    assert "removed feed 2" in newsbot("feeds", "remove", server.url("/b.xml"), check=0).stdout
    assert newsbot("feeds", "remove", "2", check=3).returncode == 3
    assert "No feed is due" in newsbot("feeds", "poll", check=0).stdout  # feed 1 polls again in 30 minutes


def test_a_kill_9_mid_round_loses_and_repeats_nothing(newsbot, server):
    def slow(route):
        def answer(request):
            time.sleep(0.15)
            return route(request)
        return answer

    feeds, per_feed = 24, 3
    for n in range(feeds):
        server.routes[f"/f{n}.xml"] = slow(FeedRoute(rss([story(n * 10 + k, f"topic{n}") for k in range(per_feed)])))
    with open_store(newsbot.store) as store:
        for n in range(feeds):
            store.add_feed(server.url(f"/f{n}.xml"))
    config = newsbot.config
    config.write_text(config.read_text().replace("per_host_delay_s = 0.0", "per_host_delay_s = 0.05"))
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "--store", str(newsbot.store),
                                "feeds", "poll", "--all", "--no-index"], cwd=ROOT, env=newsbot.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open_store(newsbot.store) as store:
        deadline = time.monotonic() + 60
        while store.stats()["articles"] < per_feed * 3 and process.poll() is None:  # a few feeds in
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert store.stats()["articles"] < feeds * per_feed  # it died mid-round
        assert store.integrity_check() == []
    deadline = time.monotonic() + 120
    while True:  # claims of the dead process expire after the lease; poll until every feed was read
        newsbot("feeds", "poll", "--all", "--no-index")
        with open_store(newsbot.store) as store:
            if all(f.last_ok for f in store.feeds()):
                break
        assert time.monotonic() < deadline
    with open_store(newsbot.store) as store:
        headers = list(store.headers())
        assert len(headers) == feeds * per_feed == len({h.url for h in headers})
        assert sum(f.items for f in store.feeds()) <= feeds * per_feed
        assert store.integrity_check() == []
