"""Tokenization throughput of the shards stage against raw SentencePiece in one process.

    .venv/bin/python bench/bench_shards.py [--mb 50] [--repeat 2]

Builds OUT/curated from real text (bench_tokenizer's four kinds: Python docs and UDHR
translations as cc, stdlib code as github, the cleaned Wikipedia sample as wikipedia,
taken round-robin, document by document, to --mb MB; a kind that runs out starts over
under new ids) and puts LLaMA's 32k vocabulary (rebuilt from the llama-cpp-python
sdist's gguf, see bench_tokenizer) in OUT/tokenizer. Then times, on the same documents:

  raw      `SentencePieceProcessor.encode` on every text, one process, texts in memory;
  stage    `run_shards_stage` end to end (read Parquet, tokenize, mix at the default
           LLaMA proportions and epoch cap, shuffle to shards, write, manifest) on
           FnApiRunner, and on DirectRunner multi_processing with 2 workers.

The ratio is stage throughput / raw throughput, both counted in the tokens of the
distinct documents (each is tokenized once, whatever its number of copies). Best of
--repeat runs, raw and stage runs interleaved.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import sentencepiece as spm  # noqa: E402

from bench_tokenizer import llama_tokenizer, load_texts  # noqa: E402
from filters.document import Document  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row, iter_parquet_rows  # noqa: E402
from pipeline.runner import make_options  # noqa: E402
from pipeline.shards import run_shards_stage  # noqa: E402

SOURCE_OF = {"docs": "cc", "multilingual": "cc", "code": "github", "wikipedia": "wikipedia"}
RUNNERS = {
    "FnApiRunner": ["--runner", "FnApiRunner"],
    "DirectRunner x2": ["--runner", "DirectRunner", "--direct_running_mode", "multi_processing",
                        "--direct_num_workers", "2"],
}


def build_out(out: Path, mb: int, model_proto: bytes) -> None:
    """--mb MB of documents, taken round-robin from the four kinds (repeated, with new ids, once exhausted)."""
    texts = load_texts()
    per_source: dict[str, list[Document]] = {}
    cursors = {kind: 0 for kind in texts}
    taken = 0
    while taken < mb * 1e6:
        for kind, docs in texts.items():
            i = cursors[kind]
            cursors[kind] += 1
            doc_id, text = docs[i % len(docs)]
            source = SOURCE_OF[kind]
            per_source.setdefault(source, []).append(
                Document(id=f"{source}/{kind}/{doc_id}/{i // len(docs)}", source=source, text=text))
            taken += len(text.encode())
    for source, docs in per_source.items():
        directory = out / "curated" / source
        directory.mkdir(parents=True)
        for i in range(4):
            rows = [document_to_row(d) for d in docs[i::4]]
            pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), directory / f"part-{i:05d}.parquet")
    (out / "tokenizer").mkdir()
    (out / "tokenizer" / "tokenizer.model").write_bytes(model_proto)


def load_texts_of(out: Path) -> list[str]:
    return [row["text"] for path in sorted(out.glob("curated/*/part-*.parquet"))
            for row in iter_parquet_rows(str(path), columns=["text"])]


def raw_encode(texts: list[str], sp: spm.SentencePieceProcessor) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = sum(len(sp.encode(t)) for t in texts)
    return time.perf_counter() - start, tokens


def stage(base: Path, run_dir: Path, config: dict, flags: list[str]) -> tuple[float, dict]:
    for part in ("curated", "tokenizer"):
        shutil.copytree(base / part, run_dir / part)
    start = time.perf_counter()
    manifest = run_shards_stage(config, run_dir, make_options(flags))
    seconds = time.perf_counter() - start
    shutil.rmtree(run_dir)
    return seconds, manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=50, help="MB of curated text")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    llama, matched, cases = llama_tokenizer()
    assert matched == cases, "LLaMA vocabulary rebuild does not match llama.cpp's references"
    model_proto = llama.serialized_model_proto()
    config = load_config(None, ["shards.target_tokens_per_shard=2000000", "shards.val_fraction=0.005"])
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        base = Path(tmp) / "base"
        build_out(base, args.mb, model_proto)
        texts = load_texts_of(base)
        nbytes = sum(len(t.encode()) for t in texts)
        sp = spm.SentencePieceProcessor(model_proto=model_proto)
        # Interleaved, best of --repeat each: the machine's load drifts less between neighbours.
        best = {"raw": float("inf"), **{name: float("inf") for name in RUNNERS}}
        manifest, tokens = None, 0
        for i in range(args.repeat):
            seconds, tokens = raw_encode(texts, sp)
            best["raw"] = min(best["raw"], seconds)
            for name, flags in RUNNERS.items():
                seconds, manifest = stage(base, Path(tmp) / f"run-{i}", config, flags)
                best[name] = min(best[name], seconds)
        print(f"{len(texts):,} documents, {nbytes / 1e6:.1f} MB, {tokens:,} tokens with LLaMA's vocabulary; "
              f"the mix writes {manifest['mixture']['achieved_tokens']:,} tokens in "
              f"{len(manifest['shards']['train'])} train shards")
        print(f"{'':<30}{'seconds':>9}{'MB/s':>8}{'Mtok/s':>8}{'ratio':>7}")
        for name, seconds in best.items():
            label = "raw encode, 1 process" if name == "raw" else f"shards stage, {name}"
            print(f"{label:<30}{seconds:>9.2f}{nbytes / 1e6 / seconds:>8.2f}{tokens / 1e6 / seconds:>8.3f}"
                  f"{best['raw'] / seconds:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
