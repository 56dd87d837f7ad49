"""Model shapes, the LLaMA presets, and parameter / FLOP / memory arithmetic."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int | None = None  # None: as many as n_heads (no grouped-query attention)
    vocab_size: int = 32000
    context: int = 2048
    multiple_of: int = 256  # feed-forward hidden size is rounded up to a multiple of this
    ffn_dim_multiplier: float | None = None  # LLaMA-2 70B: 1.3
    norm_eps: float = 1e-6  # RMSNorm epsilon: LLaMA-1 1e-6 (but 65B 1e-5), LLaMA-2 1e-5 (Meta's params.json)
    rope_theta: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("dim", "n_layers", "n_heads", "vocab_size", "context", "multiple_of"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for rotary embeddings")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.kv_heads}")

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def ffn_hidden_dim(self) -> int:
        """SwiGLU hidden size: 2/3 of 4d (times the multiplier), rounded up (as Meta's code)."""
        hidden = int(2 * (4 * self.dim) / 3)
        if self.ffn_dim_multiplier is not None:
            hidden = int(self.ffn_dim_multiplier * hidden)
        return self.multiple_of * math.ceil(hidden / self.multiple_of)

    def replace(self, **changes) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**d)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """A model shape with the paper's training settings for it (LLaMA Table 2)."""

    model: ModelConfig
    peak_lr: float
    batch_tokens: int  # global batch in tokens
    warmup_steps: int = 2000


_M = 4 * 1024 * 1024  # LLaMA's 4M-token batch

PRESETS: dict[str, Preset] = {
    # LLaMA-1 (Touvron et al. 2023a, Table 2): context 2048.
    "llama1-7b": Preset(model=ModelConfig(dim=4096, n_heads=32, n_layers=32), peak_lr=3.0e-4,
                        batch_tokens=_M),
    "llama1-13b": Preset(model=ModelConfig(dim=5120, n_heads=40, n_layers=40), peak_lr=3.0e-4,
                         batch_tokens=_M),
    "llama1-33b": Preset(model=ModelConfig(dim=6656, n_heads=52, n_layers=60), peak_lr=1.5e-4,
                         batch_tokens=_M),
    # 65B alone was released with RMSNorm eps 1e-5 (its params.json; HF config rms_norm_eps 1e-05).
    "llama1-65b": Preset(model=ModelConfig(dim=8192, n_heads=64, n_layers=80, norm_eps=1e-5), peak_lr=1.5e-4,
                         batch_tokens=_M),
    # LLaMA-2 (Touvron et al. 2023b): context 4096, RMSNorm eps 1e-5; GQA with 8 KV heads on 70B (34B unreleased).
    "llama2-7b": Preset(model=ModelConfig(dim=4096, n_heads=32, n_layers=32, context=4096, norm_eps=1e-5),
                        peak_lr=3.0e-4, batch_tokens=_M),
    "llama2-13b": Preset(model=ModelConfig(dim=5120, n_heads=40, n_layers=40, context=4096, norm_eps=1e-5),
                         peak_lr=3.0e-4, batch_tokens=_M),
    "llama2-70b": Preset(model=ModelConfig(dim=8192, n_heads=64, n_layers=80, n_kv_heads=8, context=4096,
                                           ffn_dim_multiplier=1.3, multiple_of=4096, norm_eps=1e-5),
                         peak_lr=1.5e-4, batch_tokens=_M),
    # Small shapes for tests, the demo and CPU benchmarks (our choice, not from the papers).
    "tiny": Preset(model=ModelConfig(dim=64, n_heads=4, n_layers=2, context=128, multiple_of=32),
                   peak_lr=3e-3, batch_tokens=16 * 128, warmup_steps=20),
    "tiny-gqa": Preset(model=ModelConfig(dim=64, n_heads=4, n_kv_heads=2, n_layers=2, context=128, multiple_of=32),
                       peak_lr=3e-3, batch_tokens=16 * 128, warmup_steps=20),
    # About 100M parameters with the 32k vocabulary (106M): the CPU benchmark's "real" model.
    "small-100m": Preset(model=ModelConfig(dim=768, n_heads=12, n_layers=8, context=512),
                         peak_lr=6e-4, batch_tokens=64 * 512, warmup_steps=200),
}


def param_count(cfg: ModelConfig) -> int:
    """Number of parameters, counted on the meta device (no memory is allocated)."""
    import torch

    from model.llama import Llama

    with torch.device("meta"):
        model = Llama(cfg)
    return sum(p.numel() for p in model.parameters())


def total_params(cfg: ModelConfig) -> int:
    """Closed-form parameter count (the same number as ``param_count``, without torch)."""
    d, kv = cfg.dim, cfg.kv_heads * cfg.head_dim
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * cfg.ffn_hidden_dim + 2 * d  # attention, SwiGLU, two norms
    return cfg.n_layers * per_layer + 2 * cfg.vocab_size * d + d  # untied embeddings, final norm


def matmul_params(cfg: ModelConfig) -> int:
    """Parameters that take part in matrix products: all but the input embedding table and norms."""
    d, h, kv = cfg.dim, cfg.ffn_hidden_dim, cfg.kv_heads * cfg.head_dim
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * h
    return cfg.n_layers * per_layer + d * cfg.vocab_size


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None) -> float:
    """Training FLOPs per token (forward + backward), as in the PaLM paper's MFU (appendix B).

    6 FLOPs per matmul parameter, plus 12 * layers * dim * seq_len for the attention
    scores and their weighted sum (counted over the full square, as PaLM does).
    """
    seq_len = seq_len or cfg.context
    return 6.0 * matmul_params(cfg) + 12.0 * cfg.n_layers * cfg.dim * seq_len


def training_memory_bytes(cfg: ModelConfig, *, micro_batch_size: int, shards: int = 1,
                          activation_checkpointing: bool = False) -> int:
    """A lower-bound estimate of one process's memory for training, before anything is allocated.

    fp32 weights, gradients and AdamW's two moments (16 bytes a parameter), divided by
    the number of shards under FSDP; activations kept for the backward pass, 34 bytes
    per token and model dimension in each layer (Korthikanti et al. 2022, 16-bit
    activations, without the attention scores that fused attention never stores), or
    only each block's input with per-block checkpointing; and the fp32 logits with
    their gradient.
    """
    states = 16 * total_params(cfg) // shards
    bt = micro_batch_size * cfg.context
    per_layer = (4 if activation_checkpointing else 34) * bt * cfg.dim
    logits = 2 * 4 * bt * cfg.vocab_size
    return states + cfg.n_layers * per_layer + logits
