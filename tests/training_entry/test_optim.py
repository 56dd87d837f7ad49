import math

import pytest
import torch

from model.config import ModelConfig
from model.llama import Llama
from training_entry.optim import build_optimizer, lr_at


def test_schedule_at_start_end_of_warmup_and_end():
    peak, total = 3e-4, 100_000
    lr = lambda s: lr_at(s, peak=peak, warmup=2000, total=total, min_ratio=0.1)  # noqa: E731
    assert lr(0) == pytest.approx(peak / 2000)  # first step of the linear warm-up
    assert lr(999) == pytest.approx(peak / 2)
    assert lr(1999) == pytest.approx(peak)
    assert lr(2000) == pytest.approx(peak)  # the cosine starts at the peak
    assert lr(2000 + (total - 2000) // 2) == pytest.approx(peak * (0.1 + 0.9 * 0.5))  # half way down the cosine
    assert lr(total) == pytest.approx(0.1 * peak)  # 10% of the peak at the end
    assert lr(total + 500) == pytest.approx(0.1 * peak)
    decay = [lr(s) for s in range(2000, total + 1, 997)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    # One point against the cosine written out independently.
    s = 30_000
    assert lr(s) == pytest.approx(0.1 * peak + 0.45 * peak * (1 + math.cos(math.pi * (s - 2000) / 98_000)))


def test_adamw_settings_and_no_decay_on_norms():
    model = Llama(ModelConfig(dim=32, n_heads=2, n_layers=2, vocab_size=50, multiple_of=32))
    opt = build_optimizer(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-5)
    decayed, plain = opt.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert decayed["betas"] == (0.9, 0.95)
    assert sorted(names[id(p)] for p in plain["params"]) == sorted(
        ["layers.0.attention_norm.weight", "layers.0.ffn_norm.weight", "layers.1.attention_norm.weight",
         "layers.1.ffn_norm.weight", "norm.weight"])
    assert {names[id(p)] for p in decayed["params"]} >= {"tok_embeddings.weight", "output.weight"}
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    assert isinstance(opt, torch.optim.AdamW)
