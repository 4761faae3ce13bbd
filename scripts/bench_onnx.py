"""ONNX Runtime (float32, and dynamically quantised to int8) against the torch encoder, for the
bundled all-MiniLM-L6-v2: tokens/s on the same passages, agreement of the vectors, recall@5.

    python scripts/bench_onnx.py [--articles 300] [--recall] [--json PATH]

Needs onnxruntime and onnx (not project dependencies: `pip install --target DIR onnxruntime==1.32.0
onnx==1.23.2` and `--packages DIR`). sentence-transformers' own ONNX backend goes through
optimum-onnx, which requires transformers < 4.58 (this project runs transformers 5), so the model
is exported here with torch.onnx (the same graph the backend would export: the transformer without
pooling) and pooled and normalised as sentence-transformers does (mean over the attention mask).

--recall re-embeds every passage of pool_quick with each ONNX model into a copy of the eval
cache's pool store (the cache itself is not touched) and runs the evaluation on it, the query
encoder being the same ONNX model; the torch figures come from the cache as `newsbot eval` uses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.config import Config, StoreConfig
from index.embedding import Embedder, resolve_model

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


def export(model, folder: Path) -> Path:
    import torch

    class Transformer(torch.nn.Module):  # keyword arguments: transformers 5 reordered forward()'s
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    transformer = Transformer(model[0].auto_model).eval()
    sample = model.tokenizer(["a short sentence", "and a second, somewhat longer one"], padding=True,
                             return_tensors="pt")
    path = folder / "model.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(transformer, tuple(sample[n] for n in names), str(path), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return path


def quantise(path: Path, per_channel: bool) -> Path:
    """Dynamic int8 quantisation of the weights (activations quantised at run time): per tensor,
    as sentence-transformers' export_dynamic_quantized_onnx_model configs do by default, or per
    output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(f"model_qint8_{'channel' if per_channel else 'tensor'}.onnx")
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8, per_channel=per_channel)
    return out


class OrtEncoder:
    """An Embedder stand-in: the same key (so cached vectors are found), vectors from ONNX Runtime."""

    def __init__(self, path: Path, tokenizer, max_length: int, key: str, threads: int, batch_size: int = 64):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.key = key
        self.dimension = 384
        self.batch_size = batch_size

    def encode(self, texts) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # little padding per batch
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in batch.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def passages(config: Config, n_articles: int) -> list[str]:
    """The passage texts of the first n eval articles, as the bench's ingest part embeds them."""
    from index.articles import Unusable, build_article
    from bench.data import iter_records
    from index.readers import Unreadable, record_to_document
    from index.search_index import passage_text

    texts: dict[str, None] = {}
    for i, record in enumerate(iter_records(EVAL_DIR)):
        if i >= n_articles:
            break
        try:
            article = build_article(record_to_document(record, f"onnx:{i}", config.ingest.max_file_bytes),
                                    config.ingest.passage_words)
        except (Unreadable, Unusable):
            continue
        texts.update((passage_text(article, p.index, True), None) for p in article.passages)
    return list(texts)


def throughput(encode, texts: list[str], tokens: int, repeats: int = 2) -> float:
    encode(texts[:8])  # warm-up
    best = None
    for _ in range(repeats):
        started = time.perf_counter()
        encode(texts)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return tokens / best


def recall(config: Config, encoder, pool: str, cache: Path) -> dict:
    """Evaluation of pool with `encoder` (None: the cached torch vectors, as `newsbot eval`)."""
    from bench import evaluation
    from index.engine import Engine
    from index.search_index import passage_text

    questions = evaluation.load_questions(EVAL_DIR)
    source = cache / f"{pool}.db"
    if encoder is None:
        with evaluation.pool_engine(config, EVAL_DIR, pool, cache) as engine:
            engine.open_index()
            return evaluation.evaluate(engine, questions, ("dense", "hybrid"))
    with tempfile.TemporaryDirectory(prefix="onnx-eval-") as tmp:
        shutil.copy(source, Path(tmp) / source.name)
        store_config = StoreConfig(path=str(Path(tmp) / source.name))
        with Engine(dataclasses.replace(config, store=store_config), embedder=encoder) as engine:
            texts, after = {}, 0
            while True:
                articles = engine.store.articles_after(after, limit=500)
                if not articles:
                    break
                for article in articles:
                    for p in article.passages:
                        text = passage_text(article, p.index, True)
                        texts[text] = None
                after = articles[-1].seq
            from index.embedding import text_hash

            ordered = list(texts)
            started = time.perf_counter()
            vectors = encoder.encode(ordered)
            embed_s = time.perf_counter() - started
            engine.store.put_vectors(encoder.key, zip([text_hash(t) for t in ordered], vectors))
            engine.open_index()
            results = evaluation.evaluate(engine, questions, ("dense", "hybrid"))
            results["embedded_passages"] = len(ordered)
            results["embed_s"] = round(embed_s, 1)
            return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recall", action="store_true")
    parser.add_argument("--recall-models", default="onnx_int8_channel",
                        help="comma-separated: which ONNX models --recall re-embeds the pool with")
    parser.add_argument("--pool", default="pool_quick")
    parser.add_argument("--packages", help="folder holding onnxruntime and onnx (pip install --target)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.packages:
        sys.path.insert(0, args.packages)
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed (see the module doc)", file=sys.stderr)
        return 1
    import torch

    torch.set_num_threads(args.threads)
    config = Config()
    embedder = Embedder(dataclasses.replace(config.model, threads=args.threads))
    model = embedder.model
    texts = passages(config, args.articles)
    tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"])
    report = {"model": resolve_model(config.model.name), "passages": len(texts), "tokens": tokens,
              "threads": args.threads, "onnxruntime": onnxruntime.__version__, "torch": torch.__version__}
    with tempfile.TemporaryDirectory(prefix="onnx-model-") as tmp:
        fp32 = export(model, Path(tmp))
        paths = {"onnx_fp32": fp32, "onnx_int8_tensor": quantise(fp32, per_channel=False),
                 "onnx_int8_channel": quantise(fp32, per_channel=True)}
        encoders = {name: OrtEncoder(path, model.tokenizer, model.max_seq_length, embedder.key, args.threads,
                                     config.model.batch_size)
                    for name, path in paths.items()}
        report["model_mb"] = {name: round(path.stat().st_size / 2**20, 1) for name, path in paths.items()}
        reference = embedder.encode(texts)
        report["tokens_per_s"] = {"torch": round(throughput(embedder.encode, texts, tokens), 1)}
        report["cosine_to_torch"] = {}
        for name, encoder in encoders.items():
            report["tokens_per_s"][name] = round(throughput(encoder.encode, texts, tokens), 1)
            cosine = np.einsum("ij,ij->i", encoder.encode(texts), reference)
            report["cosine_to_torch"][name] = {"mean": round(float(cosine.mean()), 5),
                                              "min": round(float(cosine.min()), 5)}
        print(json.dumps(report, indent=1), flush=True)
        if args.recall:
            cache = Path.home() / ".cache" / "newsbot" / "eval"
            report["recall"] = {"torch": recall(config, None, args.pool, cache)}
            for name in args.recall_models.split(","):
                report["recall"][name] = recall(config, encoders[name], args.pool, cache)
                print(name, json.dumps(report["recall"][name]), flush=True)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
