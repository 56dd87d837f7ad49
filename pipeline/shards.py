"""`python -m pipeline shards`: tokenize, mix and write the token shards (Beam).

    curated Parquet ─ tokenize (BOS ids EOS; model loaded once per worker) ─┬─ val (by id hash) ─────────────── WriteShards("val")
                                                                          └─ train ─ sizes per source (Combine)
                                                                                   ─ plan (mix.plan_mixture)
                                                                                   ─ copies (mix.copies, keyed) ─ WriteShards("train")

WriteShards follows DESIGN.md: the shard count is ceil(total tokens / target) from a
global Combine; a copy goes to shard `key % n_shards`, where key = hash(seed, id,
copy); each shard is one GroupByKey group, its documents ordered by key and written
with `shard_format.write_shard`. Nothing depends on bundle order or worker count,
so the bytes are the same on every runner, and no global sort is needed.
The counts the manifest reports come out of the same pipeline as JSON lines.
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.parquetio import ReadAllFromParquet
from apache_beam.metrics import Metrics

from pipeline.mix import MixtureSettings, ShardsSettings, copies, is_validation, plan_mixture, shard_key
from pipeline.settings import as_plain
from pipeline.sources import SOURCES
from pipeline.store import Store, read_all
from pipeline.stats import sum_pairs
from shard_format import (
    HEADER_SIZE, MANIFEST_NAME, TOKEN_DTYPE, ShardFormatError, manifest_bytes, read_manifest, shard_entry, write_shard,
)
from tokenizer_training import BOS_ID, EOS_ID

log = logging.getLogger(__name__)

VAL = "val"


class TokenizeDocs(beam.DoFn):
    """Row -> (source, id, BOS ids EOS as little-endian uint16 bytes); validation rows to the `val` output.

    The model travels inside the DoFn as its serialized bytes (no shared filesystem
    needed on remote workers) and is loaded once per worker in setup().
    """

    def __init__(self, model_proto: bytes, seed: int, val_fraction: float):
        self._proto, self._seed, self._val_fraction = model_proto, seed, val_fraction

    def setup(self):
        import sentencepiece as spm

        start = time.perf_counter()
        self._sp = spm.SentencePieceProcessor(model_proto=self._proto)
        log.info("shards: tokenizer loaded in %.2fs", time.perf_counter() - start)
        self._docs = Metrics.counter("shards", "documents_tokenized")
        self._tokens = Metrics.counter("shards", "tokens")

    def process(self, row):
        ids = self._sp.encode(row["text"], add_bos=True, add_eos=True)
        item = (row["source"], row["id"], np.asarray(ids, dtype=TOKEN_DTYPE).tobytes())
        self._docs.inc()
        self._tokens.inc(len(ids))
        if is_validation(self._seed, row["id"], self._val_fraction):
            yield beam.pvalue.TaggedOutput(VAL, item)
        else:
            yield item


def _n_tokens(item) -> int:
    return len(item[-1]) // TOKEN_DTYPE.itemsize


def _mix_copies(item, plan, seed: int):
    """(source, id, tokens) -> one (key, source, tokens) per copy the plan gives this document."""
    source, doc_id, tokens = item
    for c in range(copies(plan.rate(source), seed, doc_id)):
        yield shard_key(seed, doc_id, c), source, tokens


class _WriteShard(beam.DoFn):
    def __init__(self, directory: str, split: str, vocab_size: int, tokenizer_sha256: bytes):
        self._dir, self._split, self._vocab, self._sha = directory, split, vocab_size, tokenizer_sha256

    def process(self, group):
        index, values = group
        docs = sorted(v for v in values if v is not None)  # by key; equal keys (never in practice) by tokens
        name = f"{self._split}-{index:05d}.bin"
        target = Store(self._dir)
        if target.remote:  # written on the worker's disk, then uploaded whole
            with tempfile.TemporaryDirectory(prefix="llama-data-shard-") as local:
                entry = self._write(Path(local) / name, docs)
                target.upload(Path(local) / name, name)
        else:
            entry = self._write(Path(target.path(name)), docs)
        yield json.dumps(["shard", self._split, {**entry, "documents": len(docs)}])

    def _write(self, path: Path, docs) -> dict:
        write_shard(path, (np.frombuffer(tokens, dtype=TOKEN_DTYPE) for _, tokens in docs),
                    vocab_size=self._vocab, tokenizer_sha256=self._sha)
        return shard_entry(path)


class WriteShards(beam.PTransform):
    """(key, source, tokens) -> `<split>-NNNNN.bin` files; yields one JSON line per shard."""

    def __init__(self, directory: str, split: str, target_tokens: int, vocab_size: int, tokenizer_sha256: bytes):
        super().__init__()
        self._dir, self._split, self._target = directory, split, target_tokens
        self._vocab, self._sha = vocab_size, tokenizer_sha256

    def expand(self, items):
        target = self._target
        n_shards = (
            items
            | "Tokens" >> beam.Map(_n_tokens)
            | "Total" >> beam.CombineGlobally(sum)
            # ceil; 0 only when there is nothing to write (an empty validation split)
            | "NShards" >> beam.Map(lambda total: -(-total // target))
        )
        n = beam.pvalue.AsSingleton(n_shards)
        assigned = items | "Assign" >> beam.Map(lambda e, n: (e[0] % n, (e[0], e[2])), n=n)
        # Every index gets a group, so shard files are numbered without gaps even when one is empty.
        every = n_shards | "Indices" >> beam.FlatMap(lambda count: [(i, None) for i in range(count)])
        return (
            (assigned, every)
            | "Flatten" >> beam.Flatten()
            | "ByShard" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteShard(self._dir, self._split, self._vocab, self._sha))
        )


def _counts(items, kind: str, source_at: int):
    """Per-source (documents, tokens) as JSON lines ["count", kind, source, docs, tokens]."""
    label = kind.capitalize()
    return (
        items
        | f"{label}Pairs" >> beam.Map(lambda e: (e[source_at], (1, _n_tokens(e))))
        | f"{label}Sum" >> beam.CombinePerKey(sum_pairs)
        | f"{label}Json" >> beam.Map(lambda kv: json.dumps(["count", kind, kv[0], *kv[1]]))
    )


def build_shards(p: beam.Pipeline, files: list[str], shard_dir: Path, results_prefix: str, *,
                 model_proto: bytes, vocab_size: int, tokenizer_sha256: bytes, seed: int,
                 mixture: MixtureSettings, shards: ShardsSettings) -> None:
    """Add the shard stage to `p`: shards into `shard_dir`, counts to `<results_prefix>.jsonl`."""
    rows = (
        p
        | "Files" >> beam.Create(files)
        | "Read" >> ReadAllFromParquet(columns=["id", "source", "text"])
    )
    tokenized = rows | "Tokenize" >> beam.ParDo(
        TokenizeDocs(model_proto, seed, shards.val_fraction)).with_outputs(VAL, main="train")
    train, val = tokenized.train, tokenized[VAL]

    proportions, total, cap = dict(mixture.proportions), mixture.total_tokens, mixture.epoch_cap
    plan = (
        train
        | "SizePairs" >> beam.Map(lambda e: (e[0], _n_tokens(e)))
        | "SizePerSource" >> beam.CombinePerKey(sum)
        | "Sizes" >> beam.combiners.ToDict()
        | "Plan" >> beam.Map(lambda sizes: plan_mixture(sizes, proportions, total=total, epoch_cap=cap))
    )
    mixed = train | "Copies" >> beam.FlatMap(_mix_copies, plan=beam.pvalue.AsSingleton(plan), seed=seed)
    val_keyed = val | "ValKeys" >> beam.Map(lambda e: (shard_key(seed, e[1], 0), e[0], e[2]))

    target = shards.target_tokens_per_shard
    results = (
        mixed | "WriteTrain" >> WriteShards(str(shard_dir), "train", target, vocab_size, tokenizer_sha256),
        val_keyed | "WriteVal" >> WriteShards(str(shard_dir), VAL, target, vocab_size, tokenizer_sha256),
        _counts(train, "train", source_at=0),  # (source, id, tokens)
        _counts(val, "val", source_at=0),
        _counts(mixed, "mixed", source_at=1),  # (key, source, tokens)
        plan | "PlanJson" >> beam.Map(lambda pl: json.dumps(["plan", pl.to_dict()])),
    )
    (
        results
        | "Results" >> beam.Flatten()
        | "WriteResults" >> beam.io.WriteToText(results_prefix, file_name_suffix=".jsonl",
                                                shard_name_template="", num_shards=1)
    )


def _r(x: float) -> float:
    return round(x, 6)


def assemble_manifest(lines: list[list], *, tokenizer_sha256: str, vocab_size: int, seed: int,
                      mixture: MixtureSettings, shards: ShardsSettings) -> dict[str, Any]:
    """The manifest from the pipeline's result lines (see shard_format for the keys the trainer reads)."""
    entries = {"train": [], "val": []}
    counts: dict[str, dict[str, dict[str, int]]] = {"train": {}, "val": {}, "mixed": {}}
    plan = None
    for line in lines:
        if line[0] == "shard":
            entries[line[1]].append(line[2])
        elif line[0] == "count":
            _, kind, source, docs, tokens = line
            counts[kind][source] = {"documents": docs, "tokens": tokens}
        elif line[0] == "plan":
            plan = line[1]
    if plan is None:
        raise RuntimeError("the shard pipeline produced no mixture plan (no training documents?)")
    for split in entries:
        entries[split].sort(key=lambda e: e["file"])
    zero = {"documents": 0, "tokens": 0}
    achieved = sum(c["tokens"] for c in counts["mixed"].values())
    mix_sources = {}
    for source, planned in plan["sources"].items():
        got = counts["mixed"].get(source, zero)
        mix_sources[source] = {
            "documents": got["documents"],
            "tokens": got["tokens"],
            "available_documents": counts["train"].get(source, zero)["documents"],
            "available_tokens": planned["size"],
            "requested_proportion": planned["requested"],  # as configured
            "proportion": _r(planned["proportion"]),  # renormalised over the sources present
            "achieved_proportion": _r(got["tokens"] / achieved) if achieved else 0.0,
            "epochs": _r(planned["epochs"]),
            "achieved_epochs": _r(got["tokens"] / planned["size"]),
            "llama_proportion": SOURCES[source].llama.proportion,
            "llama_epochs": SOURCES[source].llama.epochs,
        }
    present = set(counts["train"]) | set(counts["val"])
    sources = {
        s: {"train": counts["train"].get(s, zero), "val": counts["val"].get(s, zero), "mixed": counts["mixed"].get(s, zero)}
        for s in SOURCES if s in present
    }
    return {
        "tokenizer_sha256": tokenizer_sha256,
        "vocab_size": vocab_size,
        "bos_id": BOS_ID,
        "eos_id": EOS_ID,
        "shards": entries,
        "sources": sources,
        "mixture": {
            "mode": plan["mode"],
            "epoch_cap": plan["epoch_cap"],
            "total_tokens_requested": mixture.total_tokens,
            "planned_tokens": round(plan["total"]),
            "achieved_tokens": achieved,
            "renormalised": plan["renormalised"],
            "missing": plan["missing"],
            "unused": plan["unused"],
            "note": plan["note"],
            "sources": mix_sources,
        },
        "seed": seed,
        "target_tokens_per_shard": shards.target_tokens_per_shard,
        "val_fraction": shards.val_fraction,
        "config": {"seed": seed, "mixture": as_plain(mixture), "shards": as_plain(shards)},
    }


def run_shards_stage(config, files: dict[str, list[str]], model_path: str, tmp: Store, options) -> dict[str, Any]:
    """Tokenize and mix the curate stage's files with the tokenizer into `shards/` of `tmp`; returns the manifest."""
    mixture, shards, seed = config.mixture, config.shards, config.seed
    inputs = [str(f) for paths in files.values() for f in paths]
    import sentencepiece as spm

    model_proto = read_all(model_path)
    vocab_size = spm.SentencePieceProcessor(model_proto=model_proto).get_piece_size()
    sha = hashlib.sha256(model_proto).hexdigest()

    if not tmp.remote:
        Path(tmp.path("shards")).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        build_shards(p, inputs, tmp.path("shards"), tmp.path("results"), model_proto=model_proto,
                     vocab_size=vocab_size, tokenizer_sha256=bytes.fromhex(sha), seed=seed, mixture=mixture,
                     shards=shards)
    lines = [json.loads(line) for line in tmp.read_text("results.jsonl").splitlines() if line.strip()]
    tmp.delete("results.jsonl")
    manifest = assemble_manifest(lines, tokenizer_sha256=sha, vocab_size=vocab_size, seed=seed,
                                 mixture=mixture, shards=shards)
    tmp.write_bytes(f"shards/{MANIFEST_NAME}", manifest_bytes(manifest))
    check_written(tmp, manifest)
    if manifest["mixture"]["note"]:
        log.warning("mixture: %s", manifest["mixture"]["note"])
    log.info("shards: %d shards written in %.1fs", sum(len(v) for v in manifest["shards"].values()),
             time.perf_counter() - start)
    return manifest


def check_written(tmp: Store, manifest: dict) -> None:
    """The trainer's own check of what was written: locally every shard's header against the
    manifest (read_manifest); on an object store, every listed shard's size."""
    if not tmp.remote:
        read_manifest(tmp.path("shards"))
        return
    sizes = {Path(f).name: size for f, size in tmp.sizes("shards").items()}
    for entries in manifest["shards"].values():
        for entry in entries:
            want = HEADER_SIZE + TOKEN_DTYPE.itemsize * entry["tokens"]
            if sizes.get(entry["file"]) != want:
                raise ShardFormatError(f"{tmp.path('shards/' + entry['file'])}: {sizes.get(entry['file'])} bytes, "
                                       f"expected {want} from the manifest")
