"""Presets against the published configurations, and the FLOP / memory arithmetic."""

from typing import NamedTuple

import pytest
import torch

from model.config import PRESETS, ModelConfig, flops_per_token, param_count, total_params, training_memory_bytes
from model.llama import Llama
from training_entry.export_hf import hf_config


class Published(NamedTuple):
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int  # intermediate_size
    eps: float  # rms_norm_eps
    context: int  # max_position_embeddings
    params: int  # with the 32k vocabulary


# Meta's released checkpoints: params.json and the Hugging Face config.json (huggyllama/llama-{7,13,30,65}b,
# meta-llama/Llama-2-{7,13,70}b-hf); parameter counts counted from the weights. Written out, not computed.
PUBLISHED = {
    "llama1-7b": Published(4096, 32, 32, 32, 11008, 1e-6, 2048, 6_738_415_616),
    "llama1-13b": Published(5120, 40, 40, 40, 13824, 1e-6, 2048, 13_015_864_320),
    "llama1-33b": Published(6656, 60, 52, 52, 17920, 1e-6, 2048, 32_528_943_616),  # the paper's 33B, HF's "30b"
    "llama1-65b": Published(8192, 80, 64, 64, 22016, 1e-5, 2048, 65_285_660_672),  # the one LLaMA-1 with 1e-5
    "llama2-7b": Published(4096, 32, 32, 32, 11008, 1e-5, 4096, 6_738_415_616),
    "llama2-13b": Published(5120, 40, 40, 40, 13824, 1e-5, 4096, 13_015_864_320),
    "llama2-70b": Published(8192, 80, 64, 8, 28672, 1e-5, 4096, 68_976_648_192),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_is_the_published_model(name):
    cfg, published = PRESETS[name].model, PUBLISHED[name]
    assert cfg.vocab_size == 32000
    assert (cfg.dim, cfg.n_layers, cfg.n_heads, cfg.kv_heads, cfg.ffn_hidden_dim, cfg.norm_eps, cfg.context) == \
        published[:7]
    assert param_count(cfg) == published.params  # counted on the meta device
    assert total_params(cfg) == published.params  # the closed form used before allocating


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_export_config_is_the_published_config_json(name):
    hf = hf_config(PRESETS[name].model, bos_id=1, eos_id=2)
    names = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
             "rms_norm_eps", "max_position_embeddings")
    assert tuple(hf[n] for n in names) == PUBLISHED[name][:7]


def test_llama2_7b_is_the_checkpoint_llama_cpp_describes():
    """llama.cpp's LLaMA vocabulary file carries the shape of the LLaMA-2 7B checkpoint it came from."""
    gguf = pytest.importorskip("gguf")  # a test-only dependency
    from samples.fixtures import llama_spm_vocab

    fields = gguf.GGUFReader(llama_spm_vocab()).fields
    meta = {key.removeprefix("llama."): fields[key].contents() for key in fields if key.startswith("llama.")}
    cfg = PRESETS["llama2-7b"].model
    assert (meta["embedding_length"], meta["block_count"], meta["attention.head_count"],
            meta["attention.head_count_kv"], meta["feed_forward_length"], meta["context_length"],
            meta["vocab_size"]) == (cfg.dim, cfg.n_layers, cfg.n_heads, cfg.kv_heads, cfg.ffn_hidden_dim,
                                    cfg.context, cfg.vocab_size)
    assert meta["attention.layer_norm_rms_epsilon"] == float(torch.tensor(cfg.norm_eps, dtype=torch.float32))


def test_preset_recipe():
    assert [PRESETS[n].peak_lr for n in ("llama1-7b", "llama1-13b", "llama1-33b", "llama1-65b")] == \
        [3e-4, 3e-4, 1.5e-4, 1.5e-4]
    assert all(PRESETS[n].batch_tokens == 4 * 2**20 and PRESETS[n].warmup_steps == 2000 for n in PUBLISHED)
    assert 95e6 < total_params(PRESETS["small-100m"].model) < 115e6


def test_meta_device_allocates_nothing():
    with torch.device("meta"):
        model = Llama(PRESETS["llama1-65b"].model)
    assert all(p.is_meta for p in model.parameters())


def test_flops_per_token_7b():
    cfg = PRESETS["llama1-7b"].model
    non_embedding = PUBLISHED["llama1-7b"].params - 32000 * 4096 - (2 * 32 + 1) * 4096  # minus input table and norms
    attention = 12 * 32 * 4096 * 2048
    assert flops_per_token(cfg) == 6 * non_embedding + attention
    assert flops_per_token(cfg) == pytest.approx(6.6 * PUBLISHED["llama1-7b"].params, rel=0.05)  # ~6N plus attention


def test_memory_estimate_scales_with_sharding():
    cfg = PRESETS["llama1-7b"].model
    one = training_memory_bytes(cfg, micro_batch_size=1)
    eight = training_memory_bytes(cfg, micro_batch_size=1, shards=8)
    assert one > 16 * PUBLISHED["llama1-7b"].params  # weights, grads, two AdamW moments in fp32, plus activations
    assert eight < one / 4


def test_config_validation():
    with pytest.raises(ValueError, match="not divisible"):
        ModelConfig(dim=65, n_heads=4, n_layers=1)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelConfig(dim=64, n_heads=4, n_kv_heads=3, n_layers=1)
