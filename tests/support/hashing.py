"""A deterministic embedder for tests that need vectors, not meaning.

Stores, index generations, catch-up, crashes and damage only need vectors that are the same for
the same text and close for texts sharing words; loading the real model (seconds) and running it
(~5k tokens/s on two cores) buys nothing there. Signed feature hashing of the text's tokens, as
Haystack's test utilities do with their fake embedders, L2-normalised like the model's output.
"""

from __future__ import annotations

import hashlib

import numpy as np

from index.config import ModelConfig
from index.embedding import Embedder
from index.tokenize import tokenize

DIMENSION = 384  # the bundled model's, so index code sees the shape it serves


class HashingEmbedder(Embedder):
    def __init__(self, config: ModelConfig | None = None, dimension: int = DIMENSION):
        """`config` is ignored: it is there so an answer worker can make one as it makes the
        embedder it was given the type of (index.answer_pool)."""
        super().__init__(ModelConfig(name="tests:hashing"))
        self.key = f"tests:hashing|{dimension}"  # its vectors never mix with a real model's in a cache
        self._dimension = dimension

    @property
    def model(self):
        raise AssertionError("the hashing embedder has no model to load")

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
                out[row, h % self._dimension] += 1.0 if h >> 63 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
