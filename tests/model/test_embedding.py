"""The encoder's size is known from its folder, so opening a saved index or a BM25-only answer
never waits seconds for the model to load."""

from __future__ import annotations

import json

import pytest

from index.config import ModelConfig
from index.embedding import Embedder, declared_dimension


@pytest.mark.slow
def test_the_bundled_models_dimension_is_known_before_it_is_loaded_and_is_the_loaded_ones(embedder):
    fresh = Embedder(ModelConfig())
    assert fresh.dimension == 384 and fresh._model is None
    assert embedder.model.get_embedding_dimension() == fresh.dimension


def test_a_dense_layer_after_pooling_sets_the_dimension(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "2_Dense").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 768}))
    (tmp_path / "2_Dense" / "config.json").write_text(json.dumps({"out_features": 256}))
    assert declared_dimension(str(tmp_path)) == 256
    assert declared_dimension("sentence-transformers/some-hub-name") is None


@pytest.mark.slow
def test_the_plain_torch_query_encoder_gives_sentence_transformers_vectors(embedder):
    import numpy as np

    from index.bert_encoder import BertSentenceEncoder
    from index.embedding import resolve_model

    texts = ["When did Kestrel Mobile sign the 5G deal?", "Zürich — “quoted” 42 %", "word " * 400]
    fast = BertSentenceEncoder.load(resolve_model(embedder.name), embedder.config.max_seq_length)
    np.testing.assert_allclose(fast.encode(texts), embedder.encode(texts), atol=1e-5)
    fresh = Embedder(ModelConfig())
    np.testing.assert_allclose(fresh.encode_query(texts[0]), embedder.encode([texts[0]])[0], atol=1e-5)
    assert fresh._model is None  # answered without loading sentence-transformers


def test_a_model_folder_of_another_shape_is_left_to_sentence_transformers(tmp_path):
    from index.bert_encoder import BertSentenceEncoder

    (tmp_path / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"}]))
    assert BertSentenceEncoder.load(str(tmp_path), 256) is None
    assert BertSentenceEncoder.load("sentence-transformers/some-hub-name", 256) is None
