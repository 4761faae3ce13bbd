"""A sentence encoder of the all-MiniLM shape (BERT → mean pooling → L2 normalisation) in plain torch.

Why: importing sentence-transformers (and transformers under it) takes ~5 s before the first
vector, which is most of a one-shot `newsbot ask`. The bundled model is a plain BERT whose weights,
tokenizer and pooling are all in its folder; reading them with safetensors and tokenizers and
running the forward pass here needs only torch (~1.5 s to import). Query vectors match
sentence-transformers' to float precision (`tests/test_embedding.py`), so cached passage vectors
and this path mix freely. Folders of any other shape (or a hub name) return None from `load` and
the caller uses sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SHAPE = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
         "sentence_transformers.models.Normalize"]


def _json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class BertSentenceEncoder:
    def __init__(self, folder: Path, config: dict, max_seq_length: int, threads: int = 0):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.w = load_file(str(folder / "model.safetensors"))
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=min(max_seq_length, int(config["max_position_embeddings"])))
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    @classmethod
    def load(cls, model_path: str, max_seq_length: int, threads: int = 0) -> "BertSentenceEncoder | None":
        folder = Path(model_path)
        modules = _json(folder / "modules.json")
        config = _json(folder / "config.json")
        pooling = _json(folder / "1_Pooling" / "config.json") if modules else None
        if not (isinstance(modules, list) and [m.get("type") for m in modules] == SHAPE
                and isinstance(config, dict) and config.get("model_type") == "bert"
                and config.get("hidden_act") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
                and isinstance(pooling, dict) and pooling.get("pooling_mode_mean_tokens")
                and not any(v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
                and (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()):
            return None
        return cls(folder, config, max_seq_length, threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        types = torch.tensor([e.type_ids for e in encodings])
        mask = torch.tensor([e.attention_mask for e in encodings])
        with torch.inference_mode():
            hidden = self._forward(ids, types, mask)
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32)

    def _norm(self, x, name: str):
        return self.torch.nn.functional.layer_norm(x, (self.hidden,), self.w[f"{name}.weight"], self.w[f"{name}.bias"],
                                                   self.eps)

    def _dense(self, x, name: str):
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _forward(self, ids, types, mask):
        torch, w = self.torch, self.w
        batch, length = ids.shape
        positions = torch.arange(length)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._norm(x, "embeddings.LayerNorm")
        blocked = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        size = self.hidden // self.heads

        def split(t):
            return t.view(batch, length, self.heads, size).transpose(1, 2)

        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (split(self._dense(x, f"{p}attention.self.{n}")) for n in ("query", "key", "value"))
            attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=blocked)
            attended = attended.transpose(1, 2).reshape(batch, length, self.hidden)
            x = self._norm(self._dense(attended, f"{p}attention.output.dense") + x, f"{p}attention.output.LayerNorm")
            inner = torch.nn.functional.gelu(self._dense(x, f"{p}intermediate.dense"))
            x = self._norm(self._dense(inner, f"{p}output.dense") + x, f"{p}output.LayerNorm")
        return x
