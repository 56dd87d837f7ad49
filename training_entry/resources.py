"""What the machine offers: memory (checked before allocating a model) and peak FLOP/s (for MFU)."""

from __future__ import annotations

import time

import torch

from model.config import ModelConfig, total_params, training_memory_bytes

# Dense bf16 tensor-core peaks from the vendors' data sheets (FLOP/s), by device-name substring.
_GPU_PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "A10G": 125e12, "L4": 121e12, "V100": 125e12}


class InsufficientMemoryError(RuntimeError):
    pass


def available_memory(device: torch.device) -> int:
    """Free bytes on the GPU, or the host's available memory (MemAvailable) for the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("cannot read MemAvailable from /proc/meminfo")


def check_memory(cfg: ModelConfig, *, preset: str, device: torch.device, micro_batch_size: int,
                 world_size: int, local_world_size: int, fsdp: bool, activation_checkpointing: bool) -> int:
    """Raise a clear error when the estimated need exceeds what is free; returns the estimate per process."""
    need = training_memory_bytes(cfg, micro_batch_size=micro_batch_size, shards=world_size if fsdp else 1,
                                 activation_checkpointing=activation_checkpointing)
    # Processes on one host share its memory; each GPU has its own.
    sharing = 1 if device.type == "cuda" else local_world_size
    have = available_memory(device)
    if need * sharing > have:
        where = f"GPU {device}" if device.type == "cuda" else "this machine"
        raise InsufficientMemoryError(
            f"preset {preset!r} ({total_params(cfg) / 1e9:.2f}B parameters) needs about {need / 2**30:.1f} GiB "
            f"per process to train (fp32 weights, gradients and AdamW moments at 16 bytes a parameter"
            f"{', sharded over ' + str(world_size) + ' processes' if fsdp and world_size > 1 else ''}, plus "
            f"activations for micro-batches of {micro_batch_size}), {need * sharing / 2**30:.1f} GiB in all for "
            f"{sharing} process(es), but {where} has {have / 2**30:.1f} GiB available. Choose a smaller --preset, "
            f"a smaller --micro-batch-size, --activation-checkpointing, or more processes with --parallel fsdp "
            f"(or --no-memory-check to try anyway)."
        )
    return need


def peak_flops(device: torch.device, *, bf16: bool) -> tuple[float, str]:
    """(peak FLOP/s, where the number comes from), for MFU."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in _GPU_PEAK_BF16.items():
            if key in name:
                return (peak if bf16 else peak / 2), f"{name} data sheet, {'bf16' if bf16 else 'tf32'} dense"
        return float("nan"), f"unknown GPU {name}: pass --peak-tflops"
    return measured_matmul_flops(), "measured fp32 matmul rate of this CPU"


def measured_matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    """The best of a few fp32 n x n matrix products on the CPU, in FLOP/s (about 0.1 s)."""
    gen = torch.Generator().manual_seed(0)  # leaves the global RNG alone
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best
