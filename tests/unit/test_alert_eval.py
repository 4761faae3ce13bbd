"""How `newsbot eval --alerts` scores topics (bench/alert_eval.py): the arithmetic and the report,
on hand-made results (the run itself reads ../shared/eval and is measured, not unit-tested)."""

import numpy as np

from bench.alert_eval import AlertEvalOptions, TopicResult, format_report, prf, summarise
from bench.alert_topics import EVAL_TOPICS


def test_precision_recall_and_f1_of_alerts():
    assert prf(alerts=4, hits=3, relevant=6) == (0.75, 0.5, 0.6)
    assert prf(alerts=0, hits=0, relevant=5) == (0.0, 0.0, 0.0)  # silence is no precision
    assert prf(alerts=3, hits=0, relevant=0) == (0.0, 0.0, 0.0)


def test_every_category_has_two_phrasings_split_between_tune_and_check():
    by_category = {}
    for topic in EVAL_TOPICS:
        by_category.setdefault(topic.category, set()).add((topic.text, topic.half))
    assert len(by_category) >= 20 and all(len(p) == 2 for p in by_category.values())
    halves = {topic.half for topic in EVAL_TOPICS}
    assert halves == {"tune", "check"}
    assert all(1 <= len(t.text.split()) <= 5 for t in EVAL_TOPICS)


def result(topic, relevant, alerts, hits, keyword, cosine, labels):
    return TopicResult(topic, relevant, alerts, hits, keyword, np.array(cosine), np.array(labels, bool), 0.4)


def test_macro_and_micro_f1_and_baselines_are_reported_per_half():
    tune, check = EVAL_TOPICS[0], EVAL_TOPICS[2]
    assert (tune.half, check.half) == ("tune", "check")
    results = [
        result(tune, relevant=2, alerts=2, hits=2, keyword=(1, 1), cosine=[0.9, 0.8, 0.1], labels=[1, 1, 0]),
        result(check, relevant=2, alerts=4, hits=1, keyword=(0, 0), cosine=[0.2, 0.7, 0.6], labels=[0, 1, 1]),
    ]
    report = summarise(results, subscribe_ms=1.0, options=AlertEvalOptions(), archive=10, streamed=3)
    overall = report["summary"]["all"]
    assert overall["macro_f1"] == (1.0 + prf(4, 1, 2)[2]) / 2
    assert overall["micro_f1"] == prf(6, 3, 4)[2]
    assert report["summary"]["tune"]["macro_f1"] == 1.0
    # one cosine threshold in (0.2, 0.6] separates both topics' stories: the lowest such is reported
    assert 0.2 < report["cosine_threshold"] <= 0.6 and overall["cosine_macro_f1"] == 1.0
    text = format_report(report)
    assert tune.text in text and check.text in text and "zero-shot" in text
