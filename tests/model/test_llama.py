"""The transformer's parts, each checked against an independent computation."""

import math

import numpy as np
import pytest
import torch

from model.config import ModelConfig
from model.llama import Llama, RMSNorm, apply_rope, rope_cos_sin

TINY = ModelConfig(dim=64, n_heads=4, n_layers=2, vocab_size=97, context=32, multiple_of=32)


def make(cfg: ModelConfig, seed: int = 0) -> Llama:
    model = Llama(cfg)
    model.init_weights(seed)
    return model.eval()


def test_rmsnorm_matches_float64_formula():
    x = torch.randn(3, 5, 16)
    norm = RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 16))
    x64, w64 = x.double().numpy(), norm.weight.detach().double().numpy()
    expected = x64 / np.sqrt((x64 ** 2).mean(-1, keepdims=True) + 1e-6) * w64
    np.testing.assert_allclose(norm(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_rmsnorm_computes_in_float32_for_bf16_input():
    # Summing 256 squares in bf16 (8 bits of mantissa) would lose precision: the mean is taken in fp32.
    x = (torch.randn(4, 256) * 300).to(torch.bfloat16)
    norm = RMSNorm(256)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 256))
    out = norm(x)
    assert out.dtype == torch.bfloat16
    x64 = x.double()
    expected = x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight.double()
    # Within bf16's rounding of the float64 result (half a unit in the last place, 2^-9 relative).
    assert ((out.double() - expected).abs() <= expected.abs() * 2**-8 + 1e-6).all()


def test_rope_matches_metas_complex_formulation():
    # Meta's reference: view adjacent pairs as complex numbers and multiply by e^{i * pos * freq}.
    B, T, H, Hd, theta = 2, 7, 3, 8, 10000.0
    x = torch.randn(B, T, H, Hd)
    freqs = 1.0 / theta ** (torch.arange(0, Hd, 2).double() / Hd)
    angles = torch.outer(torch.arange(T).double(), freqs)
    x_complex = torch.view_as_complex(x.double().reshape(B, T, H, Hd // 2, 2))
    expected = torch.view_as_real(x_complex * torch.polar(torch.ones_like(angles), angles)[None, :, None, :])
    cos, sin = rope_cos_sin(T, Hd, theta)
    np.testing.assert_allclose(apply_rope(x, cos, sin).numpy(), expected.reshape(B, T, H, Hd).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_rope_scores_depend_only_on_relative_position():
    T, Hd = 16, 8
    q, k = torch.randn(Hd), torch.randn(Hd)
    cos, sin = rope_cos_sin(T, Hd, 10000.0)
    # The same q and k vectors placed at every position.
    q_rot = apply_rope(q.expand(1, T, 1, Hd).contiguous(), cos, sin)[0, :, 0]  # (T, Hd)
    k_rot = apply_rope(k.expand(1, T, 1, Hd).contiguous(), cos, sin)[0, :, 0]
    scores = q_rot @ k_rot.T  # scores[i, j] = <q at i, k at j>
    for i in range(T):
        for j in range(T):
            assert scores[i, j] == pytest.approx(scores[i - min(i, j), j - min(i, j)].item(), abs=1e-4)
    # ... and really vary with the distance (not a trivially constant score).
    assert scores.diagonal(0).std() < 1e-4 < (scores[0, 0] - scores[3, 0]).abs()


def test_swiglu_hidden_sizes_and_shapes():
    # 2/3 * 4d rounded up to a multiple of 256 (LLaMA-1), and 70B's 1.3 multiplier rounded to 4096.
    assert ModelConfig(dim=4096, n_heads=32, n_layers=1).ffn_hidden_dim == 11008
    assert ModelConfig(dim=5120, n_heads=40, n_layers=1).ffn_hidden_dim == 13824
    assert ModelConfig(dim=6656, n_heads=52, n_layers=1).ffn_hidden_dim == 17920
    assert ModelConfig(dim=8192, n_heads=64, n_layers=1).ffn_hidden_dim == 22016
    assert ModelConfig(dim=8192, n_heads=64, n_layers=1, ffn_dim_multiplier=1.3,
                       multiple_of=4096).ffn_hidden_dim == 28672
    with torch.device("meta"):
        ff = Llama(ModelConfig(dim=4096, n_heads=32, n_layers=1)).layers[0].feed_forward
    assert ff.w1.weight.shape == ff.w3.weight.shape == (11008, 4096)
    assert ff.w2.weight.shape == (4096, 11008)


def test_swiglu_computes_silu_gate_times_up():
    model = make(TINY)
    ff = model.layers[0].feed_forward
    x = torch.randn(2, 3, TINY.dim)
    w1, w2, w3 = ff.w1.weight.detach(), ff.w2.weight.detach(), ff.w3.weight.detach()
    gate = x @ w1.T
    expected = ((gate / (1 + torch.exp(-gate))) * (x @ w3.T)) @ w2.T
    torch.testing.assert_close(ff(x), expected, rtol=1e-5, atol=1e-6)


def test_no_biases_and_untied_embeddings():
    model = make(TINY)
    assert not [n for n, _ in model.named_parameters() if n.endswith("bias")]
    assert model.tok_embeddings.weight.data_ptr() != model.output.weight.data_ptr()


@pytest.mark.parametrize("cfg", [TINY, TINY.replace(n_kv_heads=2)], ids=["mha", "gqa"])
def test_causal_future_tokens_do_not_change_past_logits(cfg):
    model = make(cfg)
    tokens = torch.randint(0, cfg.vocab_size, (2, 20), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[:, 12:] = (changed[:, 12:] + 1) % cfg.vocab_size
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :12], b[:, :12], rtol=0, atol=1e-6)
    assert (a[:, 12:] - b[:, 12:]).abs().max() > 1e-3


def test_gqa_equals_mha_with_repeated_kv_heads():
    gqa_cfg = TINY.replace(n_kv_heads=2)  # 4 query heads share 2 key/value heads in pairs
    gqa = make(gqa_cfg, seed=3)
    mha = Llama(TINY).eval()
    state = gqa.state_dict()
    hd = TINY.head_dim
    for i in range(TINY.n_layers):
        for w in ("wk", "wv"):
            name = f"layers.{i}.attention.{w}.weight"
            heads = state[name].view(2, hd, TINY.dim)  # (KV, Hd, D)
            state[name] = heads.repeat_interleave(2, dim=0).reshape(4 * hd, TINY.dim)  # query head h uses KV h // 2
    mha.load_state_dict(state)
    tokens = torch.randint(0, TINY.vocab_size, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(gqa(tokens), mha(tokens), rtol=1e-5, atol=1e-5)


def test_attention_matches_explicit_softmax():
    # Independent attention: explicit scores, causal mask and softmax, for layer 0.
    model = make(TINY)
    attn = model.layers[0].attention
    B, T, H, Hd = 2, 9, TINY.n_heads, TINY.head_dim
    x = torch.randn(B, T, TINY.dim)
    cos, sin = rope_cos_sin(T, Hd, TINY.rope_theta)
    q = apply_rope((x @ attn.wq.weight.T).view(B, T, H, Hd), cos, sin).transpose(1, 2)
    k = apply_rope((x @ attn.wk.weight.T).view(B, T, H, Hd), cos, sin).transpose(1, 2)
    v = (x @ attn.wv.weight.T).view(B, T, H, Hd).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(Hd)
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    expected = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1) @ attn.wo.weight.T
    with torch.no_grad():
        torch.testing.assert_close(attn(x, cos, sin), expected, rtol=1e-4, atol=1e-5)


def test_initial_weights_are_seeded_and_scaled():
    a, b, c = make(TINY, seed=0), make(TINY, seed=0), make(TINY, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.output.weight, c.output.weight)
    assert a.tok_embeddings.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert a.layers[0].attention.wo.weight.std().item() == pytest.approx(0.02 / math.sqrt(4), rel=0.1)
    assert torch.equal(a.norm.weight, torch.ones(TINY.dim))


def test_longer_than_context_is_an_error():
    with pytest.raises(ValueError, match="longer than the model's context"):
        make(TINY)(torch.zeros(1, TINY.context + 1, dtype=torch.long))
