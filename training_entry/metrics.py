"""What a trainer user watches: a log line every N steps, metrics.jsonl, and the loss curve."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

from shard_format import faults

log = logging.getLogger("training_entry")


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    return f"{h:d}:{rem // 60:02d}:{rem % 60:02d}"


class Metrics:
    """Appends one JSON object a line to ``RUN/metrics.jsonl`` and logs every ``log_every`` steps.

    Only the main process writes; the others keep no file. A file already there (a resumed
    run, cut back to its checkpoint) is appended to.
    """

    def __init__(self, path: Path | None, *, log_every: int, total_steps: int, tokens_per_step: int,
                 flops_per_token: float, peak_flops: float):
        self.path, self.log_every, self.total_steps = path, log_every, total_steps
        self.tokens_per_step, self.flops_per_token, self.peak_flops = tokens_per_step, flops_per_token, peak_flops
        self._window: list[float] = []  # recent step times, for tokens/s and ETA
        # Validation steps already on file: rerunning a finished run evaluates again but records once.
        self._val_steps = {r["step"] for r in read_metrics(path) if r["kind"] == "val"} \
            if path is not None and path.is_file() else set()

    def _write(self, record: dict) -> None:
        if self.path is None:
            return
        line = (json.dumps(record) + "\n").encode()
        with open(self.path, "ab", buffering=0) as f:  # unbuffered: what was written is on file if we die
            if faults.reached("metrics:mid_line"):  # a torn line, as a kill mid-write leaves
                f.write(line[: len(line) // 2])
                faults.die()
            f.write(line)

    def train_step(self, *, step: int, loss: float, lr: float, grad_norm: float, step_s: float,
                   data_s: float) -> None:
        """``step`` counts optimizer steps done, this one included (the first step is 1)."""
        self._window = (self._window + [step_s])[-20:]
        tokens_per_s = self.tokens_per_step / step_s
        mfu = tokens_per_s * self.flops_per_token / self.peak_flops
        self._write({"kind": "train", "step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                     "tokens_per_s": tokens_per_s, "mfu": mfu, "step_s": step_s, "data_s": data_s,
                     "time": time.time()})
        if step % self.log_every == 0 or step == self.total_steps or step == 1:
            avg = sum(self._window) / len(self._window)
            log.info(
                "step %d/%d | loss %.4f | lr %.2e | grad norm %.3f | %s tok/s | MFU %.1f%% | data %.1f ms | ETA %s",
                step, self.total_steps, loss, lr, grad_norm, f"{self.tokens_per_step / avg:,.0f}",
                100 * self.tokens_per_step / avg * self.flops_per_token / self.peak_flops, 1000 * data_s,
                format_duration(avg * (self.total_steps - step)),
            )

    def val(self, *, step: int, loss: float, tokens: int) -> None:
        if step not in self._val_steps:
            self._write({"kind": "val", "step": step, "val_loss": loss, "tokens": tokens, "time": time.time()})
            self._val_steps.add(step)
        log.info("step %d/%d | validation loss %.4f (%d tokens)", step, self.total_steps, loss, tokens)


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_loss(metrics_path: Path, png_path: Path, *, reference: float | None = None) -> Path:
    """Training and validation loss against the step, with an optional horizontal reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if r["kind"] == "train"]
    val = [(r["step"], r["val_loss"]) for r in records if r["kind"] == "val"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", markersize=3)
    if reference is not None:
        ax.axhline(reference, color="gray", linestyle="--", linewidth=1, label="unigram entropy (val)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
