"""The benchmark's targets (met / missed / not measured) and its table."""

from __future__ import annotations

from collections.abc import Callable


def _target(name: str, value: float | None, ok: Callable[[float], bool], detail: str) -> dict:
    status = "not measured" if value is None else ("met" if ok(value) else "missed")
    return {"target": name, "status": status, "detail": detail}


def evaluate_targets(report: dict) -> list[dict]:
    sizes = report["sizes"]
    at_1m, at_100k = sizes.get("1000000", {}), sizes.get("100000", {})
    targets = []
    for n, label, limit in (("1000000", "1M", 50), ("100000", "100k", 25)):
        p95 = sizes.get(n, {}).get("p95_ms")
        targets.append(_target(f"p95 <= {limit} ms at {label} passages", p95, lambda v, limit=limit: v <= limit,
                               f"p95 {_ms(p95)}" if p95 is not None else f"{n} not in --sizes"))
    pairs = [(n, s["bm25_p50_ms"], s["bm25s_p50_ms"]) for n, s in sizes.items()
             if s.get("bm25_p50_ms") is not None and s.get("bm25s_p50_ms") is not None and int(n) >= 100_000]
    worst = max((ours / theirs for _, ours, theirs in pairs), default=None)
    targets.append(_target("bm25 stage >= 2x faster than bm25s at 100k and 1M", worst, lambda v: v <= 0.5,
                           "; ".join(f"{int(n):,}: {_ms(a)} vs {_ms(b)}" for n, a, b in pairs) or "no sizes"))
    pairs = [(n, s["dense_p50_ms"], s["dense_exact_p50_ms"]) for n, s in sizes.items()
             if s.get("dense_p50_ms") and s.get("dense_exact_p50_ms") and int(n) >= 100_000]
    slowest = min((theirs / ours for _, ours, theirs in pairs), default=None)
    targets.append(_target("dense stage >= 3x faster than the float16 brute force at 100k and 1M", slowest,
                           lambda v: v >= 3, "; ".join(f"{int(n):,}: {_ms(a)} vs {_ms(b)} ({b / a:.2f}x)"
                                                        for n, a, b in pairs) or "no sizes"))
    ours, theirs = at_100k.get("bm25_p50_ms"), at_100k.get("rank_bm25_p50_ms")
    speedup = theirs / ours if ours and theirs else None
    targets.append(_target(">= 100x faster than rank-bm25 at 100k", speedup, lambda v: v >= 100,
                           f"{speedup:.0f}x" if speedup else at_100k.get("rank_bm25_note", "100000 not in --sizes")))
    ingest = report["ingest"]
    ratio = (ingest["pipeline_tokens_per_s"] / ingest["encoder_tokens_per_s"]
             if ingest.get("pipeline_tokens_per_s") and ingest.get("encoder_tokens_per_s") else None)
    targets.append(_target("ingest pipeline >= 0.9x encoder tokens/s", ratio, lambda v: v >= 0.9,
                           f"{ratio:.2f}x" if ratio else ingest.get("note", "")))
    rss = at_1m.get("rss_mb")
    targets.append(_target("peak RSS <= 1.2 GiB at 1M passages (serving: index loaded, answering)", rss,
                           lambda v: v <= 1229,
                           f"{rss:,.0f} MiB serving; building it peaks at {at_1m.get('build_rss_mb', 0):,.0f} MiB "
                           "in a process of its own" if rss is not None else "1000000 not in --sizes"))
    seconds = report.get("reindex_s") if report.get("reindex_full") else None
    detail = (f"{report.get('reindex_articles', 0):,} articles in {report.get('reindex_s', 0):.1f} s"
              + ("" if report.get("reindex_full") else " (not all ~45k: run with --full)"))
    targets.append(_target("reindex of 45k articles <= 60 s", seconds, lambda v: v <= 60, detail))
    alert = (report.get("alert_match_ms") or {}).get("100000")
    p95 = alert.get("p95_ms") if alert else None
    targets.append(_target("matching one article against 100k topics <= 20 ms (p95)", p95, lambda v: v <= 20,
                           f"p50 {_ms(alert['p50_ms'])}, p95 {_ms(p95)} over {alert['articles']} articles"
                           if alert else "100000 not among the alert topic counts"))
    return targets


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _versus(label: str, ours: float | None, peer: str, theirs: float | None, note: str = "") -> str:
    """'bm25 3.1 ms vs bm25s 2.0 ms (0.65x)': the ratio is the peer's time over ours (above 1: faster)."""
    if theirs is None:
        return f"{label} {_ms(ours)} vs {peer} {note or 'n/a'}"
    ratio = f" ({theirs / ours:.2f}x)" if ours else ""
    return f"{label} {_ms(ours)} vs {peer} {_ms(theirs)}{ratio}"


def _size_lines(n: str, s: dict) -> list[str]:
    head = f"{int(n):,} passages" + (f" (real passages replicated from {s['real_passages']:,})"
                                     if s.get("replicated") else " (real)")
    if "error" in s:
        return [head, f"  failed: {s['error']}"]
    stages = " · ".join(f"{k} {_ms(v)}" for k, v in s["stages_ms"].items())
    agree = s.get("rank_bm25_agree")
    return [
        head,
        (f"  answer path  p50 {_ms(s['p50_ms'])}  p95 {_ms(s['p95_ms'])}  p99 {_ms(s['p99_ms'])}"
         f"  ({s['questions']} questions)"),
        f"  stages p50   {stages}",
        "  " + _versus("bm25", s["bm25_p50_ms"], "bm25s", s.get("bm25s_p50_ms"), s.get("bm25s_note", "")),
        "  " + _versus("bm25", s["bm25_p50_ms"], "rank-bm25", s.get("rank_bm25_p50_ms"), s.get("rank_bm25_note", ""))
        + (f"; same top 10 on {agree:.0%} of queries" if agree is not None else ""),
        "  " + _versus(f"dense ({s.get('dense_search', 'exact')})", s["dense_p50_ms"], "float16 exact search",
                       s.get("dense_exact_p50_ms"), s.get("dense_exact_note", ""))
        + _versus(" ·", s["dense_p50_ms"], "numpy float32 brute force", s["dense_numpy_p50_ms"],
                  s.get("dense_numpy_note", "")),
        (f"  memory       peak RSS serving {s['rss_mb']:,.0f} MiB (loaded in {s['load_s']:.1f} s) · building "
         f"{s['build_rss_mb']:,.0f} MiB (in {s['build_s']:.1f} s) · on disk {s['disk_mb']:,.1f} MiB "
         f"· vectors {s['vector_dtype']}"),
        "  peers' RSS   " + (" · ".join(f"{k} +{v:,.0f} MiB" for k, v in s.get("peers_rss_mb", {}).items()
                                      if v is not None) or "n/a") + " (each one's growth, measured apart)",
    ]


def _alert_lines(report: dict) -> list[str]:
    sizes = report.get("alert_match_ms")
    if not sizes:
        return [f"alert match  n/a: {report.get('alert_match_note', '')}"]
    lines = []
    for n, a in sizes.items():
        lines.append(
            f"alert match  {int(n):,} topics: p50 {_ms(a['p50_ms'])} p95 {_ms(a['p95_ms'])} per article "
            f"(tokenise + match, {a['articles']} articles, {a['passages_per_article']:.1f} passages each); "
            + _versus("match", a["match_p50_ms"], "brute force", a["brute_force_p50_ms"])
            + f", dense product alone {_ms(a['dense_floor_p50_ms'])}, per-topic loop {_ms(a['per_topic_loop_p50_ms'])}"
            f"; same matches as brute force on {a['same_hits_as_brute_force']:.0%}; every topic at 0.45: "
            f"p50 {_ms(a['low_threshold_p50_ms'])} p95 {_ms(a['low_threshold_p95_ms'])}")
    lines.append(f"             ({report['alert_match_note']})")
    return lines


def format_report(report: dict) -> str:
    m, data = report["machine"], report["data"]
    lines = [
        (f"newsbot bench: {m.get('cpu', 'unknown CPU')}, {m['cpus']} CPUs, Python {m['python']}, numpy {m['numpy']}, torch {m['torch']} "
         f"({m['torch_threads'] or 'default'} threads)"),
        (f"data: {data['articles']:,} real articles, {data['real_passages']:,} passages; "
         f"{data['questions']} timed questions ({data['distinct_questions']} distinct)"),
        f"dense vectors: {report['dense_vectors']} ({report['dimension']}-d); query vectors: {report['query_vectors']}"
        + (f", encode_query p50 {_ms(report['query_embedding_ms'])} (not in the answer-path figures)"
           if report["query_embedding_ms"] is not None else ""),
        "ratios: the peer's time over ours (above 1x: newsbot is faster)",
        "",
    ]
    for n, s in report["sizes"].items():
        lines += _size_lines(n, s) + [""]
    ingest = report["ingest"]
    if ingest.get("pipeline_tokens_per_s"):
        lines.append(f"ingest       pipeline {ingest['pipeline_tokens_per_s']:,.0f} tokens/s vs encoder "
                     f"{ingest['encoder_tokens_per_s']:,.0f} tokens/s ({ingest['ratio']:.2f}x; "
                     f"{ingest['articles']} articles, {ingest['passages']} passages)")
    else:
        lines.append(f"ingest       {ingest.get('note', 'n/a')}")
    lines.append(f"reindex      {report['reindex_articles']:,} articles ({report['reindex_passages']:,} passages) "
                 f"in {report['reindex_s']:.1f} s, every vector cached (random unit vectors seeded in the bench's store)")
    lines += _alert_lines(report)
    lines += ["", "targets"]
    lines += [f"  {t['status']:>12}  {t['target']}: {t['detail']}" for t in report["targets"]]
    return "\n".join(lines)
