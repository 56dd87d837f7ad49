"""Export final weights in the Hugging Face Llama layout.

    DIR/config.json, DIR/model.safetensors, DIR/tokenizer.model, DIR/tokenizer.json, DIR/tokenizer_config.json

so that ``transformers.LlamaForCausalLM.from_pretrained(DIR)`` gives the same logits
as our model, and ``transformers.AutoTokenizer.from_pretrained(DIR)`` the same token ids
as our SentencePiece model (a fast tokenizer from tokenizer.json, converted by
tokenizer_training.hf_tokenizer; tokenizer.model stays for SentencePiece users).

Our rotary embeddings rotate adjacent feature pairs (Meta's layout);
Hugging Face's rotate the two halves of each head, so the rows of wq and wk are
permuted within each head (the permutation of transformers' own
``convert_llama_weights_to_hf.py``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from model.config import ModelConfig
from shard_format.publish import publish_directory
from tokenizer_training.hf_tokenizer import write_hf_tokenizer

WRITTEN_BY = "python -m training_entry export"  # also the trainer's own RUN/hf export: either may replace it

_LAYER_NAMES = {
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}


def interleaved_to_halves(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder each head's output rows from pairs (0,1),(2,3).. to halves (0,2,4..),(1,3,5..)."""
    rows, cols = w.shape  # (n_heads * Hd, D)
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def hf_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    out = {
        "model.embed_tokens.weight": state["tok_embeddings.weight"],
        "model.norm.weight": state["norm.weight"],
        "lm_head.weight": state["output.weight"],
    }
    for i in range(cfg.n_layers):
        for ours, theirs in _LAYER_NAMES.items():
            w = state[f"layers.{i}.{ours}"]
            if ours == "attention.wq.weight":
                w = interleaved_to_halves(w, cfg.n_heads)
            elif ours == "attention.wk.weight":
                w = interleaved_to_halves(w, cfg.kv_heads)
            out[f"model.layers.{i}.{theirs}"] = w
    if len(out) != len(state):
        raise ValueError(f"unexpected parameters in the state dict: {sorted(set(state) - _our_names(cfg))}")
    return {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}


def _our_names(cfg: ModelConfig) -> set[str]:
    names = {"tok_embeddings.weight", "norm.weight", "output.weight"}
    return names | {f"layers.{i}.{n}" for i in range(cfg.n_layers) for n in _LAYER_NAMES}


def hf_config(cfg: ModelConfig, *, bos_id: int, eos_id: int) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_hidden_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.context,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
    }


def export(state: dict[str, torch.Tensor], cfg: ModelConfig, out_dir: str | Path, *,
           tokenizer_path: str | Path, bos_id: int, eos_id: int) -> Path:
    """Write the Hugging Face directory whole; returns it. An existing one is replaced only if it is empty or
    an earlier export (see shard_format.publish); anything else raises OutputRefusedError."""
    with publish_directory(out_dir, written_by=WRITTEN_BY) as tmp:
        _write(tmp, state, cfg, tokenizer_path=tokenizer_path, bos_id=bos_id, eos_id=eos_id)
    return Path(out_dir)


def _write(tmp: Path, state: dict[str, torch.Tensor], cfg: ModelConfig, *,
           tokenizer_path: str | Path, bos_id: int, eos_id: int) -> None:
    save_file(hf_state_dict(state, cfg), tmp / "model.safetensors", metadata={"format": "pt"})
    (tmp / "config.json").write_text(json.dumps(hf_config(cfg, bos_id=bos_id, eos_id=eos_id), indent=2) + "\n")
    shutil.copyfile(tokenizer_path, tmp / "tokenizer.model")
    write_hf_tokenizer(tokenizer_path, tmp, model_max_length=cfg.context)  # tokenizer.json, tokenizer_config.json
