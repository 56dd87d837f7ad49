"""The LLaMA decoder-only transformer (Touvron et al. 2023), in one file.

Pre-normalisation with RMSNorm, SwiGLU feed-forward, rotary position embeddings,
no biases, untied input and output embeddings, causal attention through
``scaled_dot_product_attention``, optional grouped-query attention.

Parameter names follow Meta's released checkpoints (``tok_embeddings``,
``layers.N.attention.wq`` ...). Rotary embeddings rotate *adjacent* pairs of
features (x0, x1), (x2, x3) ... as Meta's code does; Hugging Face's rotates the
two halves of each head, so ``training_entry.export_hf`` permutes wq and wk.

Shapes: B batch, T sequence length, D model dim, H heads, KV key/value heads,
Hd head dim, F feed-forward hidden size, V vocabulary.

Build on the meta device and then call ``init_weights`` on the real one, so that
parallelism can be applied before any memory is allocated:

    with torch.device("meta"):
        model = Llama(cfg)
    model.to_empty(device="cpu")
    model.init_weights(seed=0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from model.config import ModelConfig


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight, computed in float32, returned in x's dtype."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., D) -> (..., D)
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * self.weight.float()).type_as(x)

    def init_weights(self) -> None:
        nn.init.ones_(self.weight)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device: torch.device | str | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position * frequency, each (T, Hd/2), in float32."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)  # (T, Hd/2)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each adjacent feature pair of x (B, T, H, Hd) by its position's angle."""
    B, T, H, Hd = x.shape
    pairs = x.float().view(B, T, H, Hd // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]  # (B, T, H, Hd/2) each
    cos, sin = cos.view(1, T, 1, Hd // 2), sin.view(1, T, 1, Hd // 2)
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)  # (B, T, H, Hd/2, 2)
    return rotated.flatten(3).type_as(x)  # (B, T, H, Hd)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape  # (B, T, D)
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim)  # (B, T, H, Hd)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim)  # (B, T, KV, Hd)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim)  # (B, T, KV, Hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H or KV, T, Hd)
        # Each group of H/KV query heads shares one key/value head (GQA; MHA when KV == H).
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           enable_gqa=self.n_kv_heads != self.n_heads)  # (B, H, T, Hd)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, D)
        return self.wo(y)  # (B, T, D)


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden = cfg.ffn_hidden_dim
        self.w1 = nn.Linear(cfg.dim, hidden, bias=False)  # gate
        self.w3 = nn.Linear(cfg.dim, hidden, bias=False)  # up
        self.w2 = nn.Linear(hidden, cfg.dim, bias=False)  # down

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # (B, T, F) -> (B, T, D)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin)  # (B, T, D)
        return h + self.feed_forward(self.ffn_norm(h))  # (B, T, D)


class Llama(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        B, T = tokens.shape  # (B, T) token ids
        if T > self.cfg.context:
            raise ValueError(f"sequence of {T} tokens is longer than the model's context {self.cfg.context}")
        cos, sin = rope_cos_sin(T, self.cfg.head_dim, self.cfg.rope_theta, tokens.device)  # (T, Hd/2)
        h = self.tok_embeddings(tokens)  # (B, T, D)
        for layer in self.layers:
            h = layer(h, cos, sin)  # (B, T, D)
        return self.output(self.norm(h))  # (B, T, V) logits

    def initial_weights(self, seed: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
        """(name, full float32 CPU tensor) for every parameter, one at a time, in order.

        Normal(0, 0.02); residual output projections (wo, w2) scaled by 1/sqrt(2 * n_layers);
        norms start at one. LLaMA does not publish its initialisation: this is GPT-2's,
        common in open reproductions. It uses its own seeded generator, so the weights do
        not depend on the global RNG, the device, or how the model is later sharded.
        """
        gen = torch.Generator(device="cpu").manual_seed(seed)
        residual_std = 0.02 / math.sqrt(2 * self.cfg.n_layers)
        for name, p in self.named_parameters():
            if p.ndim == 1:  # RMSNorm weights
                yield name, torch.ones(p.shape)
            else:
                std = residual_std if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")) else 0.02
                yield name, torch.randn(p.shape, generator=gen).mul_(std)

    @torch.no_grad()
    def init_weights(self, seed: int = 0) -> None:
        """Fill the (unsharded) parameters with ``initial_weights(seed)``."""
        params = dict(self.named_parameters())
        for name, value in self.initial_weights(seed):
            params[name].copy_(value)
