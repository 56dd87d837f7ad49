"""Checkpoints: save and resume everything a run needs, written atomically, loaded safely.

    RUN/checkpoints/step-00000100/
        model.safetensors   full (unsharded) weights, our parameter names, float32
        optimizer.pt        full AdamW state keyed by parameter name (tensors and numbers only)
        rng.pt              torch RNG states
        state.json          step, samples seen, schedule, recipe, model config, world size at save
    RUN/checkpoints/latest  the name of the newest complete checkpoint

state.json is written last and records the size of every other file, so a checkpoint
damaged from outside (an interrupted copy, a full disk) is recognised as incomplete;
resuming then falls back to the newest earlier complete checkpoint, with a warning.

Every process takes part in gathering the full state (FSDP shards are collected);
rank 0 writes it under a temporary name and renames it when complete. Loading reads
the same full state in every process and lets ``set_*_state_dict`` keep each process's
shard, so a run saved with N processes resumes with any other number. Nothing is
unpickled: safetensors for weights, ``torch.load(weights_only=True)`` for the rest.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from shard_format import atomic_write
from shard_format import faults
from training_entry import distributed

log = logging.getLogger("training_entry")
FILES = ("model.safetensors", "optimizer.pt", "rng.pt")  # besides state.json


class IncompatibleCheckpointError(ValueError):
    """A run directory holds checkpoints of a different recipe, model or data."""


class IncompleteCheckpointError(ValueError):
    """A checkpoint's files are missing or truncated, and no complete one can stand in."""


_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)  # full tensors, on rank 0 only when sharded
_LOAD = StateDictOptions(full_state_dict=True)


def checkpoints_dir(run: str | os.PathLike) -> Path:
    return Path(run) / "checkpoints"


def latest(run: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run directory, or None if it has none.

    ``latest`` names the newest one saved; if that is damaged, the newest earlier complete
    checkpoint is used, with a warning. A run whose checkpoints are all damaged is an error,
    not a fresh start (which would write over them).
    """
    directory = checkpoints_dir(run)
    found = sorted((p for p in directory.glob("step-*") if p.is_dir() and re.fullmatch(r"step-\d{8}", p.name)),
                   reverse=True)
    pointer = directory / "latest"
    if pointer.is_file():
        named = pointer.read_text().strip()
        if re.fullmatch(r"step-\d{8}", named):
            found = [p for p in found if p.name <= named]  # nothing newer was ever complete
            if not (directory / named).is_dir():
                log.warning("%s names %s, which is missing; looking for an earlier checkpoint", pointer, named)
        else:
            log.warning("%s is damaged (%r); looking for the newest complete checkpoint", pointer, named[:40])
    for path in found:
        problem = incomplete(path)
        if problem is None:
            return path
        log.warning("checkpoint %s is incomplete (%s); falling back to an earlier one", path, problem)
    if found:
        raise IncompleteCheckpointError(f"{directory}: no complete checkpoint ({', '.join(p.name for p in found)} "
                                        f"damaged); restore one, or remove the run directory to start over")
    return None


def incomplete(path: str | os.PathLike) -> str | None:
    """Why a checkpoint directory cannot be loaded (a file missing or of the wrong size), or None."""
    path = Path(path)
    try:
        state = read_state(path)
    except (OSError, ValueError) as e:
        return f"state.json unreadable: {e}"
    sizes = state.get("files") or dict.fromkeys(FILES)  # checkpoints from before sizes were recorded
    for name, size in sizes.items():
        if not (path / name).is_file():
            return f"{name} is missing"
        if size is not None and (actual := (path / name).stat().st_size) != size:
            return f"{name} has {actual} bytes, {size} were written"
    return None


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint directory from either a run directory (its latest) or a checkpoint directory."""
    path = Path(path)
    if (path / "state.json").is_file():
        if problem := incomplete(path):
            raise IncompleteCheckpointError(f"checkpoint {path} is incomplete: {problem}")
        return path
    found = latest(path)
    if found is None:
        raise FileNotFoundError(f"{path}: neither a checkpoint (no state.json) nor a run directory with checkpoints")
    return found


def gather_model(model: nn.Module) -> dict[str, torch.Tensor]:
    """The full model state dict on rank 0 (all ranks must call); FQNs free of wrapper prefixes."""
    return {k: v.contiguous() for k, v in get_model_state_dict(model, options=_GATHER).items()}


def save(run: str | os.PathLike, *, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict,
         is_main: bool, keep: int) -> Path:
    """Write ``checkpoints/step-NNNNNNNN`` (collective: every rank calls it)."""
    weights = gather_model(model)
    optim_state = get_optimizer_state_dict(model, optimizer, options=_GATHER)
    final = checkpoints_dir(run) / f"step-{state['step']:08d}"
    if is_main:
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(weights, tmp / "model.safetensors")
        faults.point("checkpoint:after_weights")
        torch.save(optim_state, tmp / "optimizer.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        state = {**state, "files": {name: (tmp / name).stat().st_size for name in FILES}}
        (tmp / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        for f in tmp.iterdir():
            _fsync(f)
        faults.point("checkpoint:before_rename")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        faults.point("checkpoint:before_latest")
        with atomic_write(checkpoints_dir(run) / "latest", "w") as f:
            f.write(final.name + "\n")
        _prune(checkpoints_dir(run), keep)
    distributed.barrier()
    return final


def load(path: str | os.PathLike, *, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict:
    """Restore weights, optimizer and RNG into an already parallelised model; returns state.json."""
    path = Path(path)
    state = read_state(path)
    set_model_state_dict(model, load_weights(path), options=_LOAD)
    if optimizer is not None:
        optim_state = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        set_optimizer_state_dict(model, optimizer, optim_state, options=_LOAD)
    rng = torch.load(path / "rng.pt", map_location="cpu", weights_only=True)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return state


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    return load_file(Path(path) / "model.safetensors")


def read_state(path: str | os.PathLike) -> dict:
    return json.loads((Path(path) / "state.json").read_text())


def _rng_state() -> dict[str, torch.Tensor]:
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state()
    return rng


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _prune(directory: Path, keep: int) -> None:
    done = sorted(p for p in directory.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in done[:-keep]:
        shutil.rmtree(old)
