"""Throughput of the C4 and Books cleaners and of MinHash LSH near-dedup.

    .venv/bin/python -m bench.bench_c4_books [--repeat 3] [--lsh-docs 2000]

Per-document cleaners run in-process on the real sample (data/sample/c4, data/sample/
books; built first if missing) and report documents/s and MB/s of input text, best of
`--repeat` runs. MinHash is reported as signatures/s and words/s. LSH throughput is the
whole NearDedup stage (signatures, band shuffle, two joins, verification) on Beam's
FnApiRunner over `--lsh-docs` documents of 150 lines drawn from the sample books
(~1,500 words each; every 10th followed by a 2%-edited copy), wall clock including
pipeline start.
Single process: on a distributed runner each worker adds its own.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, n: int, nbytes: int, seconds: float, unit: str = "docs") -> None:
    print(f"{name:<34} {n:>7,} {unit} {seconds:8.3f} s  {n / seconds:>12,.1f} {unit}/s  "
          f"{nbytes / seconds / 1e6:8.2f} MB/s")


def load_c4_texts() -> list[str]:
    with gzip.open(SAMPLE / "c4" / "c4-train.00000-of-00001.json.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def load_wet_like_texts() -> list[str]:
    """Raw whole-page text (before C4's rules), what a WET rebuild feeds the rules."""
    from samples.build_c4_books import c4_pages, page_text

    return [page_text(body) for _, body in c4_pages()]


def load_books() -> list[str]:
    from pipeline.readers.books import parse_books

    texts = []
    for path in sorted((SAMPLE / "books").glob("*.txt")) + sorted((SAMPLE / "books").glob("*.tar.gz")):
        with open(path, "rb") as f:
            texts += [d.text for d in parse_books(str(path), f) if hasattr(d, "text")]
    return texts


def bench_cleaners(repeat: int) -> None:
    from filters.books import GutenbergStrip
    from filters.c4 import C4Rules, dedup_units, load_bad_words
    from filters.document import Document
    from filters.minhash import MinHasher, band_keys

    rules = C4Rules(bad_words=load_bad_words(ROOT / "configs" / "c4_badwords_en.txt"))
    raw = load_wet_like_texts()
    nbytes = sum(len(t.encode()) for t in raw)
    report("c4 rules (raw page text)", len(raw), nbytes, best_of(repeat, lambda: [rules.clean(t) for t in raw]))
    c4 = load_c4_texts()
    nbytes = sum(len(t.encode()) for t in c4)
    report("c4 rules (C4 json text)", len(c4), nbytes, best_of(repeat, lambda: [rules.clean(t) for t in c4]))
    report("c4 dedup units (3-sentence spans)", len(c4), nbytes,
           best_of(repeat, lambda: [dedup_units(t, "span", 3) for t in c4]))

    books = load_books()
    nbytes = sum(len(t.encode()) for t in books)
    docs = [Document(f"books/{i}", "books", t) for i, t in enumerate(books)]
    strip = GutenbergStrip()
    report("books gutenberg strip", len(docs), nbytes, best_of(repeat, lambda: [strip.apply(d) for d in docs]))
    hasher = MinHasher(128, 1, 5)
    hasher.signature("warm up the permutations")
    n_words = sum(len(t.split()) for t in books)
    seconds = best_of(repeat, lambda: [band_keys(hasher.signature(t), 12, 10) for t in books])
    report("books minhash+bands (128 perm)", len(books), nbytes, seconds)
    report("books minhash+bands (128 perm)", n_words, nbytes, seconds, unit="words")


def lsh_corpus(n_docs: int) -> list:
    """Documents of 150 lines drawn (seeded) from the sample books' ~40k lines, so two
    documents share almost nothing; after every 10th, a copy with 2% of its lines edited."""
    import random

    from filters.document import Document

    pool = [line for t in load_books() for line in t.split("\n") if len(line.split()) >= 3]
    docs = []
    i = 0
    while len(docs) < n_docs:
        lines = random.Random(i).sample(pool, 150)
        docs.append(Document(f"books/doc{i:07d}", "books", "\n".join(lines)))
        if i % 10 == 0 and len(docs) < n_docs:
            edited = [line if k % 50 else "edited " + line for k, line in enumerate(lines)]
            docs.append(Document(f"books/doc{i:07d}-copy", "books", "\n".join(edited)))
        i += 1
    return docs


def bench_lsh(n_docs: int) -> None:
    """NearDedup on Beam, reading its documents from a Parquet file (beam.Create of
    megabytes of documents would time its pickling instead), against the signatures
    and band keys alone computed in this process on the same documents."""
    import tempfile

    import apache_beam as beam
    import pyarrow.parquet as pq

    from filters.minhash import MinHasher, MinHashParams, band_keys
    from pipeline.stages.near_dedup import NearDedup
    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row, row_to_document
    from pipeline.runner import make_options

    docs = lsh_corpus(n_docs)
    nbytes = sum(d.nbytes for d in docs)
    params = MinHashParams()
    hasher = MinHasher(params.num_perm, params.seed, params.shingle_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/docs.parquet"
        pq.write_table(pa_table(docs, DOCUMENT_SCHEMA, document_to_row), path)
        start = time.perf_counter()
        with beam.Pipeline(options=make_options([])) as p:
            result = (p | beam.Create([path]) | beam.io.ReadAllFromParquet() | beam.Map(row_to_document)
                      | NearDedup(params, "books"))
            # Only numbers in the closure: a lambda holding `docs` would pickle them all into the pipeline.
            total, planted = len(docs), sum(d.id.endswith("-copy") for d in docs)
            (result.rejected | beam.combiners.Count.Globally()
             | beam.Map(lambda n: print(f"  near_dedup dropped {n} of {total} (planted {planted})")))
        seconds = time.perf_counter() - start
    report(f"near_dedup on Beam ({n_docs} docs)", len(docs), nbytes, seconds)
    start = time.perf_counter()
    for d in docs:
        band_keys(hasher.signature(d.text), params.bands, params.rows)
    raw = time.perf_counter() - start
    report(f"minhash+bands in process ({n_docs} docs)", len(docs), nbytes, raw)
    print(f"  ratio Beam / in-process signatures: {raw / seconds:.2f} (the stage adds the band shuffle, "
          "two joins, verification and pipeline start)")


def pa_table(docs, schema, to_row):
    import pyarrow as pa

    return pa.Table.from_pylist([to_row(d) for d in docs], schema=schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lsh-docs", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from samples.build_c4_books import build

    build(SAMPLE)
    bench_cleaners(args.repeat)
    bench_lsh(args.lsh_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
