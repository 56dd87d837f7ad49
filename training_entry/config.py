"""The training run's settings, and their resolution against a preset and the data."""

from __future__ import annotations

import dataclasses

from model.config import PRESETS, ModelConfig, Preset

# Settings that define what is trained: a resumed run must use the same values.
RECIPE_FIELDS = (
    "preset", "steps", "batch_tokens", "context", "lr", "min_lr_ratio", "warmup_steps",
    "weight_decay", "beta1", "beta2", "eps", "grad_clip", "seed",
)


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
    """Everything `python -m training_entry train` takes; None means "from the preset"."""

    data: str  # the shard directory (OUT/shards) with manifest.json
    out: str  # the run directory: checkpoints, metrics, export
    preset: str = "tiny"
    tokenizer: str | None = None  # default: <data>/../tokenizer/tokenizer.model
    steps: int = 1000  # optimizer steps in the whole run (the schedule's length)
    batch_tokens: int | None = None  # global batch in tokens (LLaMA: 4M)
    micro_batch_size: int | None = None  # sequences per forward pass and process
    context: int | None = None  # sequence length; default the preset's
    # AdamW and schedule (LLaMA-1, section 2.2). eps 1e-5 as LLaMA-2 reports.
    lr: float | None = None  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decay ends at 10% of the peak
    warmup_steps: int | None = None  # LLaMA: 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-5
    grad_clip: float = 1.0
    seed: int = 0
    # Evaluation, logging, checkpoints.
    eval_every: int = 100
    eval_sequences: int = 64  # validation sequences per evaluation (all ranks together)
    log_every: int = 10
    ckpt_every: int = 100
    keep_checkpoints: int = 2
    stop_at_step: int | None = None  # leave early (after saving) at this step, e.g. a job's time slot
    # Execution.
    parallel: str = "ddp"  # "ddp" or "fsdp" when run under torchrun with several processes
    device: str = "auto"  # "auto", "cpu", "cuda"
    dtype: str = "auto"  # "auto" (bf16 autocast where supported), "bf16", "fp32"
    compile: bool = False
    activation_checkpointing: bool = False
    peak_tflops: float | None = None  # for MFU; default: known GPU table, or a measured matmul rate on CPU
    memory_check: bool = True
    record_samples: bool = False  # write the global sample ids each step reads (audits data order)
    verify: bool = True  # sha256 of every shard against the manifest before training (once per run directory)
    export: bool = True  # write the Hugging Face export at the end

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.parallel not in ("ddp", "fsdp"):
            raise ValueError(f"parallel must be 'ddp' or 'fsdp', got {self.parallel!r}")
        if self.dtype not in ("auto", "bf16", "fp32"):
            raise ValueError(f"dtype must be 'auto', 'bf16' or 'fp32', got {self.dtype!r}")
        for name in ("steps", "eval_every", "log_every", "ckpt_every", "keep_checkpoints", "eval_sequences"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    """The resolved run: model shape, batch arithmetic and schedule, for one world size."""

    model: ModelConfig
    steps: int
    batch_tokens: int
    sequences_per_step: int  # global batch in sequences (G)
    sequences_per_rank: int  # G / world size
    micro_batch_size: int
    accumulation: int  # micro-batches per rank and step
    lr: float
    warmup_steps: int
    recipe: dict  # the RECIPE_FIELDS, resolved


def plan(cfg: TrainConfig, *, vocab_size: int, world_size: int) -> Plan:
    preset: Preset = PRESETS[cfg.preset]
    context = cfg.context or preset.model.context
    model = preset.model.replace(vocab_size=vocab_size, context=context)
    batch_tokens = cfg.batch_tokens or preset.batch_tokens
    if batch_tokens % context:
        raise ValueError(f"batch of {batch_tokens} tokens is not a whole number of {context}-token sequences")
    seqs = batch_tokens // context
    if seqs % world_size:
        raise ValueError(f"a batch of {seqs} sequences cannot be split evenly over {world_size} processes")
    per_rank = seqs // world_size
    micro = cfg.micro_batch_size or max(d for d in range(1, min(per_rank, 8) + 1) if per_rank % d == 0)
    if per_rank % micro:
        raise ValueError(
            f"micro-batch size {micro} does not divide the {per_rank} sequences each of the {world_size} "
            f"processes gets per step (batch {batch_tokens} tokens = {seqs} sequences of {context})"
        )
    warmup = preset.warmup_steps if cfg.warmup_steps is None else cfg.warmup_steps
    if warmup >= cfg.steps:
        raise ValueError(f"warm-up ({warmup} steps) must be shorter than the run ({cfg.steps} steps); "
                         f"pass --warmup-steps")
    lr = cfg.lr if cfg.lr is not None else preset.peak_lr
    recipe = {name: getattr(cfg, name) for name in RECIPE_FIELDS}
    recipe.update(context=context, batch_tokens=batch_tokens, lr=lr, warmup_steps=warmup)
    return Plan(model=model, steps=cfg.steps, batch_tokens=batch_tokens, sequences_per_step=seqs,
                sequences_per_rank=per_rank, micro_batch_size=micro, accumulation=per_rank // micro,
                lr=lr, warmup_steps=warmup, recipe=recipe)

