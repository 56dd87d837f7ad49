"""Presets against the published parameter counts, and the FLOP / memory arithmetic."""

import pytest
import torch

from model.config import PRESETS, ModelConfig, flops_per_token, param_count, total_params, training_memory_bytes
from model.llama import Llama

# Meta's released checkpoints, 32k vocabulary (counted from the weights; LLaMA-2 13B/7B share LLaMA-1's shapes).
PUBLISHED = {
    "llama1-7b": 6_738_415_616,
    "llama1-13b": 13_015_864_320,
    "llama1-33b": 32_528_943_616,
    "llama1-65b": 65_285_660_672,
    "llama2-7b": 6_738_415_616,
    "llama2-13b": 13_015_864_320,
    "llama2-70b": 68_976_648_192,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_matches_published(name):
    cfg = PRESETS[name].model
    assert cfg.vocab_size == 32000
    assert param_count(cfg) == PUBLISHED[name]  # counted on the meta device
    assert total_params(cfg) == PUBLISHED[name]  # the closed form used before allocating


def test_preset_shapes_and_recipe():
    shapes = {name: (p.model.dim, p.model.n_heads, p.model.n_layers, p.model.context) for name, p in PRESETS.items()}
    assert shapes["llama1-7b"] == (4096, 32, 32, 2048)
    assert shapes["llama1-13b"] == (5120, 40, 40, 2048)
    assert shapes["llama1-33b"] == (6656, 52, 60, 2048)
    assert shapes["llama1-65b"] == (8192, 64, 80, 2048)
    assert shapes["llama2-7b"][3] == shapes["llama2-13b"][3] == shapes["llama2-70b"][3] == 4096
    assert PRESETS["llama2-70b"].model.kv_heads == 8 and PRESETS["llama2-7b"].model.kv_heads == 32
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
    non_embedding = PUBLISHED["llama1-7b"] - 32000 * 4096 - (2 * 32 + 1) * 4096  # minus input table and norms
    attention = 12 * 32 * 4096 * 2048
    assert flops_per_token(cfg) == 6 * non_embedding + attention
    assert flops_per_token(cfg) == pytest.approx(6.6 * PUBLISHED["llama1-7b"], rel=0.05)  # ~6N plus attention


def test_memory_estimate_scales_with_sharding():
    cfg = PRESETS["llama1-7b"].model
    one = training_memory_bytes(cfg, micro_batch_size=1)
    eight = training_memory_bytes(cfg, micro_batch_size=1, shards=8)
    assert one > 16 * PUBLISHED["llama1-7b"]  # weights, grads, two AdamW moments in fp32, plus activations
    assert eight < one / 4


def test_config_validation():
    with pytest.raises(ValueError, match="not divisible"):
        ModelConfig(dim=65, n_heads=4, n_layers=1)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelConfig(dim=64, n_heads=4, n_kv_heads=3, n_layers=1)
