"""Feed polling benchmark (`newsbot bench --feeds`, or `python scripts/bench_feeds.py`).

1,000 feeds of 20 items each, spread over 250 loopback hosts (127.0.0.1–127.0.0.250, four feeds
a host) each served by its own HTTP server that answers after 50 ms (a round trip to a news site;
with no latency at all a sequential loop on loopback is as fast as anything), polled with the default [feeds] settings (20 requests
in flight, one per host, 1 s between two requests to a host; but full_text "never", as the items
carry their whole text) into a fresh SQLite store:

* round 1: everything new — fetched, parsed, cleaned and saved, not embedded (embedding is the
  encoder's speed, measured by `newsbot bench`'s ingest part);
* rounds 2–11: every feed answers 304 to the conditional GET; the RSS after each round shows
  whether memory stays flat;
* peers in the same run: a sequential loop of plain httpx GETs over the same 1,000 URLs (full
  bodies), and the same loop sending the validators (all 304).

Prints a table and writes JSON (`--json`). Nothing leaves 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.support.feed_server import FeedRoute, FeedServer, Item, rss  # noqa: E402

from bot.feed_poller import FeedPoller  # noqa: E402
from index.config import Config, FeedsConfig, StoreConfig  # noqa: E402
from index.engine import Engine  # noqa: E402

WORDS = ("council harbour budget strike election court river school hospital market energy farm rail port "
         "bridge museum festival storm trade union").split()


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _items(feed: int, count: int) -> list[Item]:
    items = []
    for k in range(count):
        a, b, c = (WORDS[(feed * 7 + k * 3 + j) % len(WORDS)] for j in range(3))
        text = (f"Feed {feed} item {k}: the {a} report said the {b} plan and the {c} vote would shape the "
                f"week ahead, officials told reporters on Monday after a long meeting in the town hall.")
        items.append(Item(f"f{feed}-i{k}", f"{a.title()} and {b} news {feed}-{k}", text,
                          f"http://news{feed % 250}.test/{feed}/{k}"))
    return items


def run(feeds: int, items: int, hosts: int, rounds: int, config: FeedsConfig, latency_s: float) -> dict:
    servers = [FeedServer(f"127.0.0.{h + 1}", latency_s=latency_s, record=False) for h in range(hosts)]
    urls = []
    for n in range(feeds):
        server = servers[n % hosts]
        path = f"/feed{n}.xml"
        server.routes[path] = FeedRoute(rss(_items(n, items), title=f"Feed {n}"))
        urls.append(server.url(path))
    for server in servers:
        server.__enter__()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(dataclasses.replace(Config(), store=StoreConfig(path=f"{tmp}/feeds.db"), feeds=config))
            for url in urls:
                engine.store.add_feed(url)
            poller = FeedPoller(engine, config, trusted=frozenset(s.netloc for s in servers))
            figures = {"feeds": feeds, "items_per_feed": items, "hosts": hosts, "cpu": _cpu(), "latency_s": latency_s,
                       "settings": {"concurrency": config.concurrency, "per_host_delay_s": config.per_host_delay_s}}
            rss_before = _rss_mib()
            started = time.perf_counter()
            first = asyncio.run(poller.poll_round(every=True, index=False))
            wall = time.perf_counter() - started
            figures["first_round"] = {"wall_s": wall, "requests_per_s": feeds / wall, "articles_saved": first.added,
                                      "failed": len(first.failed), "peak_rss_mib": _peak_mib(),
                                      "rss_before_mib": rss_before, "rss_after_mib": _rss_mib()}
            later = []
            for _ in range(rounds):
                started = time.perf_counter()
                report = asyncio.run(poller.poll_round(every=True, index=False))
                later.append({"wall_s": time.perf_counter() - started, "rss_mib": _rss_mib(),
                              "unchanged": sum(f.status == "unchanged" for f in report.feeds)})
            figures["unchanged_rounds"] = later
            etags = {f.url: f.etag for f in engine.store.feeds()}
            engine.close()
        figures["sequential_get"] = _sequential(urls, {})
        figures["sequential_conditional_get"] = _sequential(urls, etags)
    finally:
        for server in servers:
            server.__exit__()
    return figures


def _sequential(urls: list[str], etags: dict[str, str | None]) -> dict:
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    with httpx.Client(trust_env=False, timeout=20) as client:
        for url in urls:
            headers = {"If-None-Match": etags[url]} if etags.get(url) else {}
            status = client.get(url, headers=headers).status_code
            statuses[status] = statuses.get(status, 0) + 1
    wall = time.perf_counter() - started
    return {"wall_s": wall, "requests_per_s": len(urls) / wall, "statuses": statuses}


def format_table(f: dict) -> str:
    later = f["unchanged_rounds"]
    best = min(r["wall_s"] for r in later)
    median = sorted(r["wall_s"] for r in later)[len(later) // 2]
    seq_304 = f["sequential_conditional_get"]["wall_s"]
    rows = [
        f"feed polling: {f['feeds']} feeds × {f['items_per_feed']} items on {f['hosts']} loopback hosts answering "
        f"after {f['latency_s'] * 1000:.0f} ms, "
        f"concurrency {f['settings']['concurrency']}, {f['settings']['per_host_delay_s']} s between requests to a "
        f"host; CPU {f['cpu']}",
        "| round | wall | requests/s | RSS |",
        "|---|---|---|---|",
        f"| first (all new: {f['first_round']['articles_saved']:,} articles saved, not embedded) | "
        f"{f['first_round']['wall_s']:.1f} s | {f['first_round']['requests_per_s']:.0f} | "
        f"peak {f['first_round']['peak_rss_mib']:.0f} MiB |",
        f"| unchanged (all 304), median of {len(later)} | {median:.2f} s | {f['feeds'] / median:.0f} | "
        f"{later[0]['rss_mib']:.0f} → {later[-1]['rss_mib']:.0f} MiB over {len(later)} rounds |",
        f"| peer: sequential httpx GETs (200, full bodies) | {f['sequential_get']['wall_s']:.2f} s | "
        f"{f['sequential_get']['requests_per_s']:.0f} | |",
        f"| peer: sequential conditional GETs (304) | {seq_304:.2f} s | "
        f"{f['sequential_conditional_get']['requests_per_s']:.0f} | |",
        "",
        f"unchanged round vs the sequential conditional loop: {seq_304 / median:.1f}× (best round {seq_304 / best:.1f}×)",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=250, help="loopback hosts the feeds are spread over (≤ 254)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="how long each server waits before answering")
    parser.add_argument("--rounds", type=int, default=10, help="unchanged (304) rounds after the first")
    parser.add_argument("--json", default="data/bench_feeds.json", metavar="PATH")
    args = parser.parse_args(argv)
    # full_text "never": the items carry their whole text (fetching 20,000 linked pages is another benchmark)
    figures = run(args.feeds, args.items, min(args.hosts, 254), args.rounds, FeedsConfig(full_text="never"),
                  args.latency_ms / 1000)
    print(format_table(figures))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nJSON written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
