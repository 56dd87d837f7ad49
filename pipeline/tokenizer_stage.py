"""`python -m pipeline tokenizer`: sample the curated corpus by the mixture and train.

Plain Python, not Beam: SentencePiece trains in one process anyway, and the
sample is streamed from Parquet rather than loaded. Three passes:

1. measure: UTF-8 bytes per source over the training split (validation documents,
   chosen by `mix.is_validation`, are held out of the tokenizer too);
2. select: `mix.plan_mixture` in bytes (total `tokenizer.sample_bytes`, or all the
   epoch cap allows when the corpus is smaller) gives each source a rate; each
   document gets `mix.copies` copies, each copy a hash key, and is spilled to one of
   a few bucket files by key (buckets cover key ranges in order);
3. train: buckets are read back one at a time, sorted by key, and streamed to
   SentencePiece. The order depends only on the documents and the seed, not on how
   curation split them into files, so the model is reproducible across runners.

Afterwards bytes per token is measured on held-out (validation) text of each source.
"""
from __future__ import annotations

import dataclasses
import logging
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.mix import copies, hash64, is_validation, plan_mixture
from pipeline.settings import at_least
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


def measure(files: dict[str, list[Path]], seed: int, val_fraction: float) -> dict[str, tuple[int, int]]:
    """(documents, UTF-8 bytes) of the training split per source."""
    sizes = {}
    for source, paths in files.items():
        docs = nbytes = 0
        for path in paths:
            for batch in _batches(path, ["id", "text"]):
                lengths = pc.binary_length(batch.column("text")).to_pylist()
                for doc_id, n in zip(batch.column("id").to_pylist(), lengths):
                    if not is_validation(seed, doc_id, val_fraction):
                        docs += 1
                        nbytes += n
        sizes[source] = (docs, nbytes)
    return sizes


def _spill(files, plan, seed: int, val_fraction: float, workdir: Path, n_buckets: int) -> dict[str, list[int]]:
    """Write every selected document copy to its key's bucket; returns per source [copies, bytes]."""
    workdir.mkdir(parents=True, exist_ok=True)
    buckets = [open(workdir / f"bucket-{i:05d}", "wb") for i in range(n_buckets)]
    sampled = {source: [0, 0] for source in files}
    try:
        for source, paths in files.items():
            rate = plan.rate(source)
            if rate == 0:
                continue
            for path in paths:
                for batch in _batches(path, ["id", "text"]):
                    for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                        if is_validation(seed, doc_id, val_fraction):
                            continue
                        n = copies(rate, seed, doc_id, "tokenizer")
                        if not n:
                            continue
                        raw = text.encode("utf-8")
                        for c in range(n):
                            key = hash64(seed, "tokenizer", doc_id, c)
                            buckets[key * n_buckets >> 64].write(_RECORD.pack(key, len(raw)) + raw)
                        sampled[source][0] += n
                        sampled[source][1] += n * len(raw)
    finally:
        for f in buckets:
            f.close()
    return sampled


def _read_buckets(workdir: Path, n_buckets: int) -> Iterator[str]:
    """The spilled texts in key order, one bucket in memory at a time."""
    for i in range(n_buckets):
        path = workdir / f"bucket-{i:05d}"
        data = path.read_bytes()
        records, pos = [], 0
        while pos < len(data):
            key, n = _RECORD.unpack_from(data, pos)
            pos += _RECORD.size
            records.append((key, data[pos:pos + n]))
            pos += n
        del data
        path.unlink()
        records.sort()  # by key; identical keys (never in practice) by text
        for _, raw in records:
            yield raw.decode("utf-8")


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


def sample_for_tokenizer(config, files: dict[str, list[Path]],
                         workdir: Path) -> tuple[Iterator[str], dict[str, Any]]:
    """The tokenizer's training documents (an iterator, in hash-key order) and a description of the sample.

    Passes 1 and 2 run here (documents are spilled under `workdir`); pass 3 runs as
    the iterator is consumed.
    """
    mixture = config.mixture
    seed, val_fraction = config.seed, config.shards.val_fraction
    wanted = float(config.tokenizer.sample_bytes)
    sizes = measure(files, seed, val_fraction)
    byte_sizes = {s: nbytes for s, (_, nbytes) in sizes.items()}
    cap = mixture.epoch_cap
    largest = plan_mixture(byte_sizes, mixture.proportions, total=None, epoch_cap=cap)
    plan = largest if wanted >= largest.total else plan_mixture(
        byte_sizes, mixture.proportions, total=wanted, epoch_cap=cap)
    if plan.note():
        log.warning("tokenizer sample: %s", plan.note())
    if plan is largest and wanted > largest.total:
        log.info("tokenizer sample: the corpus allows %s bytes at most (epoch cap %s), less than sample_bytes %s",
                 f"{largest.total:,.0f}", cap, f"{wanted:,.0f}")
    n_buckets = max(1, -(-int(plan.total) // BUCKET_BYTES))
    sampled = _spill(files, plan, seed, val_fraction, workdir, n_buckets)
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
    return _read_buckets(workdir, n_buckets), info


def train_on_curated(config, files: dict[str, list[Path]], dest: Path, workdir: Path) -> dict[str, Any]:
    """Sample the curated files, train into `dest`, check, measure held-out compression; returns the card."""
    spec = config.tokenizer.spec()
    seed, val_fraction = config.seed, config.shards.val_fraction
    texts, info = sample_for_tokenizer(config, files, workdir)
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


def run_tokenizer_stage(config, files: dict[str, list[str]], tmp: Store) -> dict[str, Any]:
    """Sample the curate stage's files by the mixture and train into `tokenizer/` of `tmp`; returns the card.

    Plain Python: SentencePiece trains in one process anyway (see the module docstring),
    on the local disk; the model is then written to OUT's staging place."""
    with tempfile.TemporaryDirectory(prefix="llama-data-tokenizer-") as local:
        card = train_on_curated(config, files, Path(local) / "tokenizer", Path(local) / "sample-buckets")
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
