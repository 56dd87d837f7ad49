"""`python -m pipeline tokenizer`: sample the curated corpus by the mixture and train.

The sample is drawn on Beam (it reads the whole curated corpus); SentencePiece then
trains on the launcher, in one process (it cannot be split), on at most
`tokenizer.sample_bytes` of text streamed from disk. Three passes:

1. measure (Beam): UTF-8 bytes per source over the training split (validation
   documents, chosen by `mix.is_validation`, are held out of the tokenizer too),
   summed by a Combine;
2. select (Beam, the same job): `mix.plan_mixture` in bytes (total
   `tokenizer.sample_bytes`, or all the epoch cap allows when the corpus is smaller)
   gives each source a rate, a side input; each document gets `mix.copies` copies,
   each copy a hash key, and goes to one of a few buckets by key (buckets cover key
   ranges in order; ~`BUCKET_BYTES` of text each); each bucket is one GroupByKey
   group, written sorted by key as one file under the stage's staging place;
3. train (launcher): the buckets are read back in order, one at a time, and streamed
   to SentencePiece. The order depends only on the documents and the seed, not on
   how curation split them into files or on the runner, so the model is
   reproducible across runners.

Afterwards bytes per token is measured on held-out (validation) text of each source,
on the launcher: the first `held_out_bytes` of validation documents in file order
(it reads about held_out_bytes / shards.val_fraction of each source, then stops).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import apache_beam as beam
import pyarrow.parquet as pq

from pipeline.mix import MixturePlan, copies, hash64, is_validation, plan_mixture
from pipeline.settings import at_least
from pipeline.stats import sum_pairs
from pipeline.store import Store, open_anywhere
from tokenizer_training import MODEL_FILE, TokenizerSpec, bytes_per_token, load, problems, train_tokenizer, write_card

log = logging.getLogger(__name__)

BUCKET_BYTES = 64 << 20  # text per spill bucket: the most the sampler holds in memory at once
_RECORD = struct.Struct("<QI")  # key, text length


@dataclass(frozen=True, kw_only=True)
class TokenizerSettings(TokenizerSpec):
    """Config `tokenizer`: LLaMA's SentencePiece settings (TokenizerSpec) and how much text it sees."""

    sample_bytes: int = at_least(1_000_000_000, 1, strict=True)  # curated text sampled by the mixture
    held_out_bytes: int = at_least(2_000_000, 0)  # validation text per source for bytes/token

    def spec(self) -> TokenizerSpec:
        return TokenizerSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TokenizerSpec)})


def _batches(path: str | Path, columns: list[str]):
    with open_anywhere(str(path)) as raw, pq.ParquetFile(raw) as f:
        yield from f.iter_batches(batch_size=1024, columns=columns)


def choose_plan(byte_sizes: dict[str, int], mixture, wanted: float) -> tuple[MixturePlan, MixturePlan]:
    """(the plan, the largest plan the epoch cap allows): the largest when sample_bytes asks for more."""
    cap = mixture.epoch_cap
    largest = plan_mixture(byte_sizes, mixture.proportions, total=None, epoch_cap=cap)
    plan = largest if wanted >= largest.total else plan_mixture(
        byte_sizes, mixture.proportions, total=wanted, epoch_cap=cap)
    return plan, largest


def n_buckets(plan: MixturePlan) -> int:
    return max(1, -(-int(plan.total) // BUCKET_BYTES))


def _select(item, planned, seed: int):
    """(source, id, text) -> one (bucket, (key, UTF-8 text)) per copy the plan gives it."""
    source, doc_id, text = item
    plan, buckets = planned
    rate = plan.rate(source)
    if rate == 0:
        return
    n = copies(rate, seed, doc_id, "tokenizer")
    if not n:
        return
    raw = text.encode("utf-8")
    for c in range(n):
        key = hash64(seed, "tokenizer", doc_id, c)
        yield key * buckets >> 64, (key, raw)


class _WriteBucket(beam.DoFn):
    """(bucket, [(key, text)]) -> the bucket's file, records sorted by key (identical keys, never
    seen in practice, by text); yields its (copies, bytes)."""

    def __init__(self, directory: str):
        self._dir = directory

    def process(self, element):
        index, records = element
        records = sorted(records)
        data = b"".join(_RECORD.pack(key, len(raw)) + raw for key, raw in records)
        Store(self._dir).write_bytes(f"bucket-{index:05d}", data)
        yield len(records), len(data)


def _sample_on_beam(files: dict[str, list], seed: int, val_fraction: float, mixture, wanted: float,
                    bucket_dir: str, results_prefix: str, options=None) -> None:
    """Passes 1 and 2 as one Beam job: buckets under `bucket_dir`, counts to `<results_prefix>.jsonl`."""
    from apache_beam.io.parquetio import ReadAllFromParquet
    from pipeline.runner import make_options

    order = list(files)
    options = options or make_options([])  # [], or it parses sys.argv
    with beam.Pipeline(options=options) as p:
        per_source = []
        for source, paths in files.items():
            if not paths:
                continue
            per_source.append(
                p
                | f"Files_{source}" >> beam.Create([str(path) for path in paths])
                | f"Read_{source}" >> ReadAllFromParquet(columns=["id", "text"])
                | f"Tag_{source}" >> beam.Map(lambda row, s=source: (s, row["id"], row["text"]))
            )
        train = (
            per_source
            | "AllSources" >> beam.Flatten()
            | "TrainingSplit" >> beam.Filter(lambda item: not is_validation(seed, item[1], val_fraction))
        )
        sizes = (
            train
            | "SizePairs" >> beam.Map(lambda item: (item[0], (1, len(item[2].encode("utf-8")))))
            | "SizePerSource" >> beam.CombinePerKey(sum_pairs)
        )
        planned = (
            sizes
            | "Sizes" >> beam.combiners.ToDict()
            | "Plan" >> beam.Map(lambda found: _plan_of({s: found.get(s, (0, 0))[1] for s in order}, mixture, wanted))
        )
        selected = train | "Select" >> beam.FlatMap(_select, beam.pvalue.AsSingleton(planned), seed=seed)
        written = (
            selected
            | "ByBucket" >> beam.GroupByKey()
            | "WriteBuckets" >> beam.ParDo(_WriteBucket(bucket_dir))
        )
        sampled = (
            train
            | "Copies" >> beam.FlatMap(_sampled_pair, beam.pvalue.AsSingleton(planned), seed=seed)
            | "SampledPerSource" >> beam.CombinePerKey(sum_pairs)
        )
        (
            (
                sizes | "SizeJson" >> beam.Map(lambda kv: json.dumps(["size", kv[0], *kv[1]])),
                sampled | "SampledJson" >> beam.Map(lambda kv: json.dumps(["sampled", kv[0], *kv[1]])),
                written | "WrittenSum" >> beam.CombineGlobally(sum_pairs)
                | "WrittenJson" >> beam.Map(lambda pair: json.dumps(["written", *pair])),
            )
            | "Results" >> beam.Flatten()
            | "WriteResults" >> beam.io.WriteToText(results_prefix, file_name_suffix=".jsonl",
                                                    shard_name_template="", num_shards=1)
        )


def _plan_of(byte_sizes: dict[str, int], mixture, wanted: float) -> tuple[MixturePlan, int]:
    plan, _ = choose_plan(byte_sizes, mixture, wanted)
    return plan, n_buckets(plan)


def _sampled_pair(item, planned, seed: int):
    """(source, id, text) -> (source, (copies, bytes)) when the plan samples it."""
    source, doc_id, text = item
    plan, _ = planned
    rate = plan.rate(source)
    n = copies(rate, seed, doc_id, "tokenizer") if rate else 0
    if n:
        yield source, (n, n * len(text.encode("utf-8")))


def _read_buckets(buckets: Store, count: int) -> Iterator[str]:
    """The sampled texts in key order, one bucket in memory at a time (a bucket with no copy has no file)."""
    for i in range(count):
        name = f"bucket-{i:05d}"
        if not buckets.is_file(name):
            continue
        data = buckets.read_bytes(name)
        buckets.delete(name)
        pos = 0
        while pos < len(data):
            _, n = _RECORD.unpack_from(data, pos)
            pos += _RECORD.size
            yield data[pos:pos + n].decode("utf-8")
            pos += n


def held_out_texts(paths: list[Path], seed: int, val_fraction: float, limit: int) -> Iterator[str]:
    """Validation-split documents of one source, in file order, up to `limit` bytes."""
    total = 0
    for path in paths:
        for batch in _batches(path, ["id", "text"]):
            for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                if is_validation(seed, doc_id, val_fraction):
                    yield text
                    total += len(text.encode("utf-8"))
                    if total >= limit:
                        return


def sample_for_tokenizer(config, files: dict[str, list[Path]], workdir: Path | str,
                         options=None) -> tuple[Iterator[str], dict[str, Any]]:
    """The tokenizer's training documents (an iterator, in hash-key order) and a description of the sample.

    Passes 1 and 2 run here, as a Beam job with `options` (default: the in-process
    FnApiRunner) that writes the buckets under `workdir` (a path or URI that the
    workers can write); pass 3 runs as the iterator is consumed.
    """
    mixture = config.mixture
    seed, val_fraction = config.seed, config.shards.val_fraction
    wanted = float(config.tokenizer.sample_bytes)
    work = Store(str(workdir))
    _sample_on_beam(files, seed, val_fraction, mixture, wanted, work.path("buckets"), work.path("results"), options)
    rows = [json.loads(line) for line in work.read_text("results.jsonl").splitlines() if line.strip()]
    work.delete("results.jsonl")
    sizes = {s: (0, 0) for s in files}
    sampled = {s: [0, 0] for s in files}
    for row in rows:
        if row[0] == "size":
            sizes[row[1]] = (row[2], row[3])
        elif row[0] == "sampled":
            sampled[row[1]] = [row[2], row[3]]
    byte_sizes = {s: nbytes for s, (_, nbytes) in sizes.items()}
    plan, largest = choose_plan(byte_sizes, mixture, wanted)  # what the job computed, from the same sizes
    cap = mixture.epoch_cap
    if plan.note():
        log.warning("tokenizer sample: %s", plan.note())
    if plan is largest and wanted > largest.total:
        log.info("tokenizer sample: the corpus allows %s bytes at most (epoch cap %s), less than sample_bytes %s",
                 f"{largest.total:,.0f}", cap, f"{wanted:,.0f}")
    per_source = {
        s: {"available_documents": sizes[s][0], "available_bytes": sizes[s][1],
            "requested_proportion": p.requested, "proportion": round(p.proportion, 6),
            "planned_epochs": round(p.epochs, 6), "sampled_copies": sampled[s][0], "sampled_bytes": sampled[s][1],
            "achieved_epochs": round(sampled[s][1] / sizes[s][1], 6)}
        for s, p in plan.sources.items()
    }
    info = {
        "method": "mixture proportions in UTF-8 bytes, whole copies then a hash-based fraction, sorted by hash key",
        "seed": seed, "val_fraction": val_fraction, "sample_bytes_requested": int(wanted),
        "mode": "all the epoch cap allows" if plan is largest else "sample_bytes",
        "epoch_cap": cap, "note": plan.note(), "sources": per_source,
    }
    return _read_buckets(work.sub("buckets"), n_buckets(plan)), info


def train_on_curated(config, files: dict[str, list[Path]], dest: Path, workdir: Path | str,
                     options=None) -> dict[str, Any]:
    """Sample the curated files (on Beam), train into `dest`, check, measure held-out compression; returns the card."""
    spec = config.tokenizer.spec()
    seed, val_fraction = config.seed, config.shards.val_fraction
    texts, info = sample_for_tokenizer(config, files, workdir, options)
    card = train_tokenizer(texts, dest, spec, extra_card={"sample": info})
    sp = load(dest / MODEL_FILE)
    found = problems(sp)
    if found:
        raise RuntimeError("the trained tokenizer fails its checks: " + "; ".join(found))
    held_out = {}
    for source, paths in files.items():
        held = list(held_out_texts(paths, seed, val_fraction, config.tokenizer.held_out_bytes))
        held_out[source] = {"documents": len(held), "bytes": sum(len(t.encode("utf-8")) for t in held),
                            "bytes_per_token": bytes_per_token(sp, held)}
    card["held_out"] = held_out
    write_card(dest, card)
    return card


def run_tokenizer_stage(config, files: dict[str, list[str]], tmp: Store, options=None) -> dict[str, Any]:
    """Sample the curate stage's files by the mixture and train into `tokenizer/` of `tmp`; returns the card.

    The sample is drawn by a Beam job with `options` into `tmp` (OUT's staging place,
    which remote workers can reach); SentencePiece trains in one process on the local
    disk (see the module docstring); the model is then written to `tmp`."""
    with tempfile.TemporaryDirectory(prefix="llama-data-tokenizer-") as local:
        try:
            card = train_on_curated(config, files, Path(local) / "tokenizer", tmp.path("tokenizer-sample"), options)
        finally:
            tmp.delete_tree("tokenizer-sample")
        tmp.upload_tree(Path(local) / "tokenizer", "tokenizer")
    return card


def format_tokenizer_summary(card: dict[str, Any]) -> str:
    """Vocabulary, sample, and held-out bytes per token per source, for the run summary."""
    data = card["training_data"]
    lines = [f"tokenizer: {card['vocab_size']:,} pieces (sha256 {card['model_sha256'][:12]}), trained on "
             f"{data['bytes'] / 1e6:,.2f} MB ({data['documents']:,} document copies) in {card['train_seconds']}s"]
    if card.get("sample", {}).get("note"):
        lines.append(f"  note: {card['sample']['note']}")
    lines.append(f"  {'source':<14}{'sampled MB':>11}{'epochs':>8}{'held-out MB':>13}{'bytes/token':>13}")
    for source, row in card.get("sample", {}).get("sources", {}).items():
        held = card.get("held_out", {}).get(source, {})
        bpt = held.get("bytes_per_token")
        lines.append(f"  {source:<14}{row['sampled_bytes'] / 1e6:>11.2f}{row['achieved_epochs']:>8.2f}"
                     f"{held.get('bytes', 0) / 1e6:>13.2f}{(f'{bpt:.3f}' if bpt else 'n/a'):>13}")
    return "\n".join(lines)
