"""What the report shows, read from the small files the stages wrote (never curated/ or rejected/).

Each stage's files are found through its completion record (`OUT/.stages/<stage>.json`),
so a stage that has not finished contributes nothing and the page says so. Everything
goes through `Store`, so OUT (and the train run) may be a URI.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from pipeline.state import OWNER, STATE_DIR, stage_record
from pipeline.store import Store

STAGES = ("models", "curate", "tokenizer", "shards")
CURVE_POINTS = 600  # train-loss points drawn at most (bucket means beyond that)
GENERATIONS = "generations.json"  # written by `python -m training_entry generate --save`


@dataclass
class TrainRun:
    path: str
    summary: dict | None = None
    config: dict | None = None
    train: list[tuple[int, float]] = field(default_factory=list)  # (step, loss), at most CURVE_POINTS
    val: list[tuple[int, float]] = field(default_factory=list)  # (step, val_loss)
    steps: int = 0
    tokens_per_s: float | None = None  # medians over the train steps, the first (warm-up) left out
    mfu: float | None = None
    generations: list[dict] = field(default_factory=list)
    data: str | None = None  # the shard directory it trained on
    shard_sha256: set[str] = field(default_factory=set)  # of the shards it checked before training


@dataclass
class RunData:
    out: str
    records: dict[str, dict] = field(default_factory=dict)  # finished stages' completion records
    owner: dict | None = None  # .stages/pipeline-output.json: the command that made OUT
    stats: dict | None = None
    examples: dict | None = None
    cards: dict | None = None
    tokenizer: dict | None = None
    manifest: dict | None = None
    run: dict | None = None
    train: TrainRun | None = None
    notes: list[str] = field(default_factory=list)  # what could not be read, stale upstreams

    @property
    def config(self) -> dict:
        return (self.run or {}).get("config") or {}


def _read(store: Store, rel: str, notes: list[str], what: str) -> Any:
    try:
        return store.read_json(rel)
    except (OSError, ValueError) as e:  # listed but missing or damaged: say so, render the rest
        notes.append(f"{what}: cannot read {store.path(rel)} ({type(e).__name__}: {e})")
        return None


def gather(out: Store, train: str | None = None) -> RunData:
    data = RunData(out=out.root)
    for stage in STAGES:
        record = stage_record(out, stage)
        if record:
            data.records[stage] = record
    data.owner = out.read_json(OWNER) if out.is_file(OWNER) else None
    outputs = {stage: record.get("outputs", {}) for stage, record in data.records.items()}
    if "models" in outputs:
        data.cards = _read(out, outputs["models"].get("cards", "models/cards.json"), data.notes, "models")
    if "curate" in outputs:
        data.stats = _read(out, outputs["curate"].get("stats", "stats.json"), data.notes, "curate")
        if "examples" in outputs["curate"]:
            data.examples = _read(out, outputs["curate"]["examples"], data.notes, "curate")
        else:
            data.notes.append("curate: finished by a version that recorded no reject examples; "
                              "rerun it (--force) to see them")
    if "tokenizer" in outputs:
        card = next((f for f in outputs["tokenizer"].get("tokenizer", []) if f.endswith(".json")), None)
        data.tokenizer = _read(out, card, data.notes, "tokenizer") if card else None
    if "shards" in outputs:
        data.manifest = _read(out, outputs["shards"].get("manifest", "shards/manifest.json"), data.notes, "shards")
    if out.is_file("run.json"):
        data.run = _read(out, "run.json", data.notes, "run.json")
    for stage, record in data.records.items():
        for upstream, key in (record.get("upstream") or {}).items():
            now = data.records.get(upstream, {}).get("key")
            if now != key:
                data.notes.append(f"{stage} was built from an earlier {upstream} output (its record has changed "
                                  f"since); rerun `python -m pipeline {stage}` so they match")
    if train:
        data.train = gather_train(Store(train), data.notes)
    if data.train and data.train.shard_sha256 and data.manifest:
        ours = {e["sha256"] for split in data.manifest["shards"].values() for e in split}
        if not data.train.shard_sha256 <= ours:
            data.notes.append(f"the train run {data.train.path} trained on other shards than this OUT's "
                              f"shards/manifest.json lists (their sha256 differ)")
    return data


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def downsample(points: list[tuple[int, float]], most: int = CURVE_POINTS) -> list[tuple[int, float]]:
    """At most `most` points: consecutive points averaged in equal buckets (the last point kept)."""
    if len(points) <= most:
        return points
    size = len(points) / most
    out = []
    for i in range(most):
        chunk = points[int(i * size): int((i + 1) * size)]
        if chunk:
            out.append((chunk[-1][0], sum(v for _, v in chunk) / len(chunk)))
    return out


def gather_train(run: Store, notes: list[str]) -> TrainRun | None:
    if not run.is_file("metrics.jsonl"):
        notes.append(f"train run {run.root}: no metrics.jsonl, not shown")
        return None
    result = TrainRun(path=run.root)
    train, rates, mfus = [], [], []
    for n, line in enumerate(run.read_text("metrics.jsonl").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # a torn last line of a killed run: the trainer drops it on resume
            notes.append(f"train run: metrics.jsonl line {n} is not JSON, skipped")
            continue
        if record.get("kind") == "train":
            train.append((record["step"], record["loss"]))
            if record["step"] > 1:
                rates.append(record.get("tokens_per_s") or 0.0)
                mfus.append(record.get("mfu") or 0.0)
        elif record.get("kind") == "val":
            result.val.append((record["step"], record["val_loss"]))
    result.steps = train[-1][0] if train else 0
    result.train = downsample(train)
    result.tokens_per_s, result.mfu = _median(rates), _median(mfus)
    if run.is_file("summary.json"):
        result.summary = _read(run, "summary.json", notes, "train run")
    if run.is_file("train_config.json"):
        result.config = _read(run, "train_config.json", notes, "train run")
        result.data = ((result.config or {}).get("config") or {}).get("data")
    if run.is_file("verified_shards.json"):
        checked = _read(run, "verified_shards.json", notes, "train run") or {}
        result.shard_sha256 = {s["sha256"] for s in checked.get("shards", []) if "sha256" in s}
    if run.is_file(GENERATIONS):
        result.generations = (_read(run, GENERATIONS, notes, "train run") or {}).get("samples", [])
    return result


def has_state(out: Store) -> bool:
    """Whether OUT holds any pipeline state at all (else there is nothing to report)."""
    return out.is_file(OWNER) or bool(out.list(STATE_DIR))
