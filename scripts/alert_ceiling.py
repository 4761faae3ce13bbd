"""How far labels would take a topic rule on the alert evaluation's stories: supervised ceilings.

    python scripts/alert_ceiling.py

The zero-shot target (macro-F1 0.70 over the 68 topics of `newsbot eval --alerts`) is measured
here against what a classifier trained on the *true labels* of the archive (the first third of the
dev stream, 2,885 stories) reaches on the later stories, per topic: a logistic regression on the
bundled MiniLM's article vectors (mean of its passages), and a linear SVM on tf-idf words (the
classic Reuters baseline), each at its own decision threshold and at the best threshold per
topic chosen on the scored stories' labels (an upper bound). A zero-shot matcher has none of
these labels. Needs scikit-learn (installed with sentence-transformers) and the store `newsbot
eval --alerts` caches (~/.cache/newsbot/eval/reuters_dev.db); skips with a message where absent.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is a checkout package, not installed

from bench.alert_eval import STORE_NAME, dev_records, eval_data_missing, load_labels  # noqa: E402
from bench.alert_topics import EVAL_TOPICS  # noqa: E402
from index.config import load_config  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.tokenize import tokenize  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
CACHE = Path.home() / ".cache" / "newsbot" / "eval" / STORE_NAME


def best_f1(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores)
    hits = np.cumsum(labels[order])
    return float((2 * hits / (np.arange(1, len(order) + 1) + labels.sum())).max()) if labels.any() else 0.0


def f1_at(predicted: np.ndarray, labels: np.ndarray) -> float:
    hits = int((predicted & labels).sum())
    return 2 * hits / (int(predicted.sum()) + int(labels.sum())) if hits else 0.0


def main() -> int:
    missing = eval_data_missing(EVAL_DIR)
    if missing or not CACHE.is_file():
        print(missing or f"{CACHE} not found: run `newsbot eval --alerts` once first; skipping")
        return 0
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    labels = load_labels(EVAL_DIR)
    records = list(dev_records(EVAL_DIR, labels))
    archive_ids = {r["id"] for r in records[: int(len(records) / 3)]}  # as AlertEvalOptions.archive_share
    config = load_config(None)
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(CACHE), url=""))
    with Engine(config) as engine:
        engine.open_index()
        index = engine.index.current
        passage_seq = index.article_seq.view.copy()
        vectors = index.vectors.take(np.arange(index.size)).astype(np.float32)
        seqs = np.unique(passage_seq)
        articles = engine.store.articles_by_seq([int(s) for s in seqs])
    ids = [articles[int(s)].id for s in seqs]
    texts = [f"{articles[int(s)].title}\n{articles[int(s)].text}" for s in seqs]
    mean = np.zeros((len(seqs), vectors.shape[1]), np.float32)
    np.add.at(mean, np.searchsorted(seqs, passage_seq), vectors)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    words = TfidfVectorizer(analyzer=tokenize, sublinear_tf=True, min_df=2).fit_transform(texts)
    train = np.array([i in archive_ids for i in ids])
    scored = ~train
    rows = {name: [] for name in ("emb_own", "emb_best", "tfidf_own", "tfidf_best")}
    for topic in EVAL_TOPICS:  # two phrasings per category: the same labels, scored twice as the eval does
        y = np.array([topic.category in labels.get(i, ()) for i in ids])
        emb = LogisticRegression(C=10, max_iter=2000).fit(mean[train], y[train]).decision_function(mean)
        svm = LinearSVC(C=1).fit(words[train], y[train]).decision_function(words)
        rows["emb_own"].append(f1_at(emb[scored] > 0, y[scored]))
        rows["emb_best"].append(best_f1(emb[scored], y[scored]))
        rows["tfidf_own"].append(f1_at(svm[scored] > 0, y[scored]))
        rows["tfidf_best"].append(best_f1(svm[scored], y[scored]))
    print(f"{len(EVAL_TOPICS)} topics, trained on the labels of {int(train.sum())} archive stories, "
          f"scored on {int(scored.sum())}: macro-F1")
    print(f"  MiniLM article vectors, logistic regression: own threshold {np.mean(rows['emb_own']):.3f}, "
          f"best threshold per topic {np.mean(rows['emb_best']):.3f}")
    print(f"  tf-idf words, linear SVM:                    own threshold {np.mean(rows['tfidf_own']):.3f}, "
          f"best threshold per topic {np.mean(rows['tfidf_best']):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
