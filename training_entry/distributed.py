"""Process groups, and the parallelism applied to the model from outside it.

Alone, ``python -m training_entry train`` runs one process. Under
``torchrun --nproc_per_node N`` it joins the process group torchrun describes
(NCCL on GPUs, gloo on the CPU) and wraps the model in DDP or FSDP2
(``fully_shard`` on every block, then on the whole model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.nn.parallel import DistributedDataParallel

from model.llama import Llama


@dataclasses.dataclass(frozen=True)
class Dist:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> Dist:
    """Join torchrun's process group when there is one; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank=rank, world_size=world, local_rank=local_rank, local_world_size=local_world, device=dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.barrier()  # gloo aborts if a rank leaves while another still talks to it
        dist.destroy_process_group()


def parallelize(model: Llama, d: Dist, *, mode: str, activation_checkpointing: bool, compile: bool,
                bf16: bool) -> nn.Module:
    """Activation checkpointing, compilation and sharding, in torchtitan's order, on a meta-device model.

    Under FSDP with bf16, parameters are gathered in bf16 and gradients reduced in fp32
    (torchtitan's default). DDP is applied later, by ``wrap_ddp``, once the weights exist.
    """
    if activation_checkpointing:  # recompute each block's activations in the backward pass
        for i, block in enumerate(model.layers):
            model.layers[i] = checkpoint_wrapper(block)  # state-dict names are unchanged
    if compile:
        for block in model.layers:
            block.compile(fullgraph=True)  # in place: parameter names are unchanged
    if mode == "fsdp" and d.world_size > 1:
        mesh = init_device_mesh(d.device.type, (d.world_size,))
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if bf16 else None, reduce_dtype=torch.float32)
        for block in model.layers:
            fully_shard(block, mesh=mesh, mp_policy=mp)
        fully_shard(model, mesh=mesh, mp_policy=mp)
    return model


@torch.no_grad()
def materialize(model: Llama, device: torch.device, *, seed: int | None) -> None:
    """Allocate a meta-device (possibly sharded) model on ``device``; with a seed, initialise it.

    Every process computes the same full initial value of each parameter and keeps
    its own shard, so the weights do not depend on the number of processes.
    """
    model.to_empty(device=device)
    if seed is None:  # weights come from a checkpoint
        return
    params = dict(model.named_parameters())
    for name, value in model.initial_weights(seed):
        p = params[name]
        value = value.to(device=device, dtype=p.dtype)
        if isinstance(p, DTensor):
            value = distribute_tensor(value, p.device_mesh, p.placements, src_data_rank=None)
        p.copy_(value)


def wrap_ddp(model: nn.Module, d: Dist, *, mode: str) -> nn.Module:
    if mode == "ddp" and d.world_size > 1:
        return DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    return model


@contextlib.contextmanager
def gradient_sync(model: nn.Module, enabled: bool) -> Iterator[None]:
    """DDP: skip the all-reduce on all but the last micro-batch of a step.

    FSDP reduce-scatters after every micro-batch (keeping gradients sharded costs less
    memory than accumulating them unsharded).
    """
    if isinstance(model, DistributedDataParallel) and not enabled:
        with model.no_sync():
            yield
    else:
        yield


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)  # gloo has no AVG
        value /= dist.get_world_size()
    return value


def sum_over_ranks(value: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)
    return value


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """A plain tensor from a DTensor (e.g. FSDP's gradient norm), or the tensor itself."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()

