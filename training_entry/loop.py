"""The training step and the training loop.

``train_step`` is the whole of what one optimizer step does. ``train`` sets up a run
(data, model, parallelism, optimizer, resume), loops over steps, evaluates, saves
checkpoints, and at the end exports the model and reports the final validation loss
next to the unigram entropy of the validation tokens.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.config import flops_per_token, total_params
from model.llama import Llama
from shard_format import atomic_write, read_manifest
from shard_format.publish import OutputRefusedError, check_target
from training_entry import checkpoint, distributed, export_hf, resources, tokenizer, verify
from training_entry.config import TrainConfig, plan
from training_entry.data import TokenStream, TrainData, ValData, unigram_entropy
from training_entry.metrics import Metrics, plot_loss
from training_entry.optim import build_optimizer, lr_at

log = logging.getLogger("training_entry")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               micro_batches: list[tuple[torch.Tensor, torch.Tensor]], *, lr: float, grad_clip: float,
               autocast: contextlib.AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step over this process's micro-batches; returns (mean loss, gradient norm)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    total_loss = torch.zeros((), device=micro_batches[0][0].device)
    for i, (inputs, targets) in enumerate(micro_batches):  # each (B, T)
        with distributed.gradient_sync(model, enabled=i == len(micro_batches) - 1):
            with autocast:
                logits = model(inputs)  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
            (loss / len(micro_batches)).backward()
        total_loss += loss.detach()
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total_loss / len(micro_batches), distributed.full_tensor(grad_norm)


@torch.no_grad()
def evaluate(model: nn.Module, val: ValData, ids: list[int], *, micro_batch_size: int, device: torch.device,
             autocast: contextlib.AbstractContextManager) -> tuple[float, int]:
    """Mean loss over the validation sequences of all ranks, and the number of tokens it covers."""
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, token count
    for start in range(0, len(ids), micro_batch_size):
        inputs, targets = (t.to(device) for t in val.batch(ids[start: start + micro_batch_size]))
        with autocast:
            logits = model(inputs)  # (B, T, V)
        sums[0] += F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum").double()
        sums[1] += targets.numel()
    model.train()
    sums = distributed.sum_over_ranks(sums)
    return (sums[0] / sums[1]).item(), int(sums[1].item())


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training as ``cfg`` says; returns the run's summary (also in RUN/summary.json)."""
    d = distributed.setup(cfg.device)
    try:
        return _train(cfg, d)
    finally:
        distributed.teardown()


def _train(cfg: TrainConfig, d: distributed.Dist) -> dict:
    run, data_dir = Path(cfg.out), Path(cfg.data)
    _check_run_dir(run)
    if cfg.export:  # a RUN/hf holding files an export did not write: refuse now, not after the training
        try:
            check_target(run / "hf", written_by=export_hf.WRITTEN_BY)
        except OutputRefusedError as e:
            raise OutputRefusedError(f"{e} (the run exports there at the end; or pass --no-export)") from None

    # Data and tokenizer must belong together.
    manifest = read_manifest(data_dir)
    tok_path = tokenizer.locate(data_dir, cfg.tokenizer)
    sp = tokenizer.load(tok_path)
    tokenizer.check_matches(manifest, tok_path, sp)
    p = plan(cfg, vocab_size=manifest["vocab_size"], world_size=d.world_size)
    data_identity = {"tokenizer_sha256": manifest["tokenizer_sha256"],
                     "train_shards": [e["sha256"] for e in manifest["shards"].get("train", [])]}

    resume_from = checkpoint.latest(run)
    if resume_from is not None:
        _check_resumable(checkpoint.read_state(resume_from), p.recipe, p.model.to_dict(), data_identity, run)

    if cfg.memory_check:
        resources.check_memory(p.model, preset=cfg.preset, device=d.device, micro_batch_size=p.micro_batch_size,
                               world_size=d.world_size, local_world_size=d.local_world_size,
                               fsdp=cfg.parallel == "fsdp", activation_checkpointing=cfg.activation_checkpointing)
    verified = verify.verify_shards(data_dir, manifest, run, d) if cfg.verify else None
    if d.is_main:
        run.mkdir(parents=True, exist_ok=True)
        if resume_from is None:
            (run / "metrics.jsonl").unlink(missing_ok=True)
            shutil.rmtree(run / "samples", ignore_errors=True)
            _write_json(run / "train_config.json", {"config": cfg.to_dict(), "recipe": p.recipe,
                                                     "model": p.model.to_dict(), "data": data_identity,
                                                     "versions": _versions()})
        else:  # forget what was logged after the checkpoint: those steps run again
            saved_step = checkpoint.read_state(resume_from)["step"]
            for path in [run / "metrics.jsonl", *(run / "samples").glob("rank-*.jsonl")]:
                _truncate_jsonl(path, saved_step)
        shutil.copyfile(tok_path, run / "tokenizer.model")
        if verified is not None:
            verify.record(run, verified)
    distributed.barrier()

    train_files = [data_dir / e["file"] for e in manifest["shards"].get("train", [])]
    if not train_files:
        raise ValueError(f"{data_dir}/manifest.json lists no train shards")
    train_data = TrainData(TokenStream(train_files), context=p.model.context, seed=cfg.seed)
    val_files = [data_dir / e["file"] for e in manifest["shards"].get("val", [])]
    val_data = ValData(TokenStream(val_files), context=p.model.context, max_sequences=cfg.eval_sequences,
                       multiple_of=d.world_size) if val_files else None
    if val_data is None or val_data.n_sequences == 0:
        log.warning("no validation sequences (no val shards, or too short): validation loss is skipped")
        val_data = None

    bf16 = cfg.dtype == "bf16" or (cfg.dtype == "auto" and d.device.type == "cuda" and torch.cuda.is_bf16_supported())
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=bf16)
    if d.device.type == "cuda" and not bf16:
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 runs use TF32 tensor cores (nanoGPT does too)

    # The model: built without memory, parallelised, then allocated and initialised (or loaded).
    with torch.device("meta"):
        model = Llama(p.model)
    model = distributed.parallelize(model, d, mode=cfg.parallel, compile=cfg.compile, bf16=bf16,
                                    activation_checkpointing=cfg.activation_checkpointing)
    distributed.materialize(model, d.device, seed=None if resume_from else cfg.seed)
    model = distributed.wrap_ddp(model, d, mode=cfg.parallel)
    optimizer = build_optimizer(model, lr=p.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2),
                                eps=cfg.eps)
    start = 0
    if resume_from is not None:
        start = checkpoint.load(resume_from, model=model, optimizer=optimizer)["step"]
        log.info("resumed from %s at step %d (%d samples seen)", resume_from, start, start * p.sequences_per_step)

    if cfg.peak_tflops:
        peak, peak_source = cfg.peak_tflops * 1e12, "--peak-tflops"
    else:
        peak, peak_source = resources.peak_flops(d.device, bf16=bf16)
    metrics = Metrics(run / "metrics.jsonl" if d.is_main else None, log_every=cfg.log_every, total_steps=p.steps,
                      tokens_per_step=p.batch_tokens, flops_per_token=flops_per_token(p.model),
                      peak_flops=peak * d.world_size)
    log.info("%s: %.2fM parameters, %s on %s, %s; batch %d tokens = %d sequences of %d in micro-batches of %d "
             "x %d accumulation x %d process(es); peak %.3g TFLOP/s per process (%s)",
             cfg.preset, total_params(p.model) / 1e6,
             f"{d.world_size} processes ({cfg.parallel})" if d.world_size > 1 else "1 process", d.device,
             "bf16 autocast" if bf16 else "fp32", p.batch_tokens, p.sequences_per_step, p.model.context,
             p.micro_batch_size, p.accumulation, d.world_size, peak / 1e12, peak_source)

    def save(step: int) -> Path:
        state = {"step": step, "samples_seen": step * p.sequences_per_step, "tokens_seen": step * p.batch_tokens,
                 "schedule": {"peak_lr": p.lr, "warmup_steps": p.warmup_steps, "total_steps": p.steps,
                              "min_lr_ratio": cfg.min_lr_ratio},
                 "recipe": p.recipe, "model": p.model.to_dict(), "data": data_identity,
                 "world_size": d.world_size, "parallel": cfg.parallel}
        return checkpoint.save(run, model=model, optimizer=optimizer, state=state, is_main=d.is_main,
                               keep=cfg.keep_checkpoints)

    end = min(p.steps, cfg.stop_at_step or p.steps)
    val_loss, saved_at, evaluated_at = None, start, None
    val_ids = val_data.rank_ids(d.rank, d.world_size) if val_data else []
    for step in range(start, end):
        t0 = time.perf_counter()
        sample_ids = train_data.sample_ids(step, sequences_per_step=p.sequences_per_step, rank=d.rank,
                                           world_size=d.world_size)
        micro_batches = [tuple(t.to(d.device) for t in train_data.batch(sample_ids[i: i + p.micro_batch_size]))
                         for i in range(0, len(sample_ids), p.micro_batch_size)]
        data_s = time.perf_counter() - t0
        lr = lr_at(step, peak=p.lr, warmup=p.warmup_steps, total=p.steps, min_ratio=cfg.min_lr_ratio)
        loss, grad_norm = train_step(model, optimizer, micro_batches, lr=lr, grad_clip=cfg.grad_clip,
                                     autocast=autocast)
        loss = distributed.mean_over_ranks(loss).item()
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at step {step + 1}; stopping (last checkpoint: step {saved_at})")
        done = step + 1
        metrics.train_step(step=done, loss=loss, lr=lr, grad_norm=grad_norm.item(),
                           step_s=time.perf_counter() - t0, data_s=data_s)
        if cfg.record_samples:
            _record_samples(run, d, done, sample_ids)
        if val_data is not None and done % cfg.eval_every == 0:
            val_loss, tokens = evaluate(model, val_data, val_ids, micro_batch_size=p.micro_batch_size,
                                        device=d.device, autocast=autocast)
            metrics.val(step=done, loss=val_loss, tokens=tokens)
            evaluated_at = done
        if done % cfg.ckpt_every == 0 or done == end:
            save(done)
            saved_at = done

    if end < p.steps:
        log.info("stopped at step %d of %d (--stop-at-step); run the same command again to resume", end, p.steps)
        return {"stopped_at_step": end, "steps": p.steps}
    if val_data is not None and evaluated_at != p.steps:
        val_loss, tokens = evaluate(model, val_data, val_ids, micro_batch_size=p.micro_batch_size,
                                    device=d.device, autocast=autocast)
        metrics.val(step=p.steps, loss=val_loss, tokens=tokens)
    summary = {}
    if d.is_main:
        summary = _finish(cfg, run, p, sp, val_data, val_loss, tok_path)
    distributed.barrier()
    return summary


def _finish(cfg, run: Path, p, sp, val_data: ValData | None, val_loss: float | None, tok_path: Path) -> dict:
    """Main process only: export, loss curve, and the final report."""
    final = checkpoint.latest(run)
    summary = {"steps": p.steps, "tokens_seen": p.steps * p.batch_tokens, "checkpoint": str(final),
               "metrics": str(run / "metrics.jsonl"), "final_val_loss": val_loss}
    if cfg.export:
        hf_dir = export_hf.export(checkpoint.load_weights(final), p.model, run / "hf", tokenizer_path=tok_path,
                                  bos_id=sp.bos_id(), eos_id=sp.eos_id())
        summary["hf_export"] = str(hf_dir)
    entropy = None
    if val_data is not None:
        entropy = unigram_entropy(val_data.target_tokens())
        summary["val_unigram_entropy"] = entropy
        summary["val_tokens"] = val_data.n_sequences * val_data.context
    summary["loss_png"] = str(plot_loss(run / "metrics.jsonl", run / "loss.png", reference=entropy))
    train_rates = [r["tokens_per_s"] for r in _train_records(run)][1:]  # the first step includes warm-up
    summary["tokens_per_s"] = float(np.median(train_rates)) if train_rates else None
    _write_json(run / "summary.json", summary)
    if val_loss is not None:
        log.info("final validation loss %.4f nats/token; unigram entropy of the validation tokens %.4f nats/token "
                 "(the best context-free model): %s", val_loss, entropy,
                 f"{entropy - val_loss:.3f} below it" if val_loss < entropy else "NOT below it")
    log.info("run directory %s: checkpoint %s, metrics.jsonl, loss.png%s", run, Path(final).name,
             ", hf/ (Hugging Face Llama layout)" if cfg.export else "")
    return summary


def _check_run_dir(run: Path) -> None:
    """--out must be new, empty or a run directory: a run never writes over someone else's files."""
    if run.exists() and not run.is_dir():
        raise ValueError(f"--out {run} is a file, not a directory; choose a directory for the run")
    if run.is_dir() and any(run.iterdir()) and not (run / "train_config.json").is_file():
        raise ValueError(f"--out {run} is not empty and is not a run directory (no train_config.json); "
                         f"choose a new or empty directory")


def _check_resumable(saved: dict, recipe: dict, model: dict, data: dict, run: Path) -> None:
    for what, old, new in (("setting", saved["recipe"], recipe), ("model", saved["model"], model),
                           ("data", saved["data"], data)):
        diffs = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        if diffs:
            raise checkpoint.IncompatibleCheckpointError(
                f"{run} holds a run with different {what}s ({'; '.join(diffs)}); resume with the original "
                f"settings or choose a new --out"
            )


def _record_samples(run: Path, d: distributed.Dist, step: int, sample_ids: list[int]) -> None:
    folder = run / "samples"
    folder.mkdir(exist_ok=True)
    with open(folder / f"rank-{d.rank}.jsonl", "a") as f:
        f.write(json.dumps({"step": step, "rank": d.rank, "world_size": d.world_size, "samples": sample_ids}) + "\n")


def _truncate_jsonl(path: Path, step: int) -> None:
    """Keep the records of steps up to ``step``, rewriting the file atomically.

    A torn last line (the process killed mid-write, a full disk) is dropped with a warning;
    a bad line anywhere else is an error that names the file.
    """
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    keep = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (ValueError, KeyError, TypeError) as e:
            if number < len(lines):
                raise ValueError(f"{path}, line {number}: not a JSON record ({e}); fix or remove the line") from None
            log.warning("%s: dropping its torn last line (%d bytes; the run was interrupted while writing it)",
                        path, len(line))
    with atomic_write(path, "w") as f:
        f.write("".join(line + "\n" for line in keep))


def _train_records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "train"]


def _write_json(path: Path, obj: dict) -> None:
    with atomic_write(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _versions() -> dict:
    import numpy
    import safetensors
    import sentencepiece

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__, "sentencepiece": sentencepiece.__version__}
