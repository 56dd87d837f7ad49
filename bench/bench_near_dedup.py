"""The near_dedup stage (CommonCrawl/C4: connected components) against datatrove's MinHash dedup.

    .venv/bin/python -m bench.bench_near_dedup [--docs 2000] [--runs 3]

The same documents (sample book lines, every 10th document followed by a copy with
2% of its lines edited and every 50th by a chain of two edited copies) go through:

- our stage, `DocumentNearDedup` on Beam's FnApiRunner (in process), reading Parquet:
  signatures, LSH buckets, candidate verification, connected components, the join;
- datatrove's MinHash pipeline (its signature, buckets, cluster and filter steps, one
  worker, reading JSON lines; bench/datatrove_minhash.py), in its own virtualenv
  under .cache/bench-datatrove, created here with `python -m venv` and pip from the
  registry the first time, never in the project's venv;
- the raw kernels in plain loops: our signatures + band keys (filters.minhash), and
  datatrove's shingles + signature.

Same shingles (word 5-grams of lower-cased, punctuation-free words), 20 bands x 6
rows (120 permutations on both sides). The ratio is datatrove's seconds over ours
(>= 1.0: our stage is as fast); runs alternate and the medians are reported.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "bench-datatrove"
DATATROVE = "datatrove[io,processing]==0.10.1"  # io: JSON lines (orjson); processing: xxhash
BANDS, ROWS, NGRAMS = 20, 6, 5


def ensure_datatrove() -> Path:
    """The benchmark's own virtualenv with datatrove (created once)."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import datatrove.pipeline.dedup, xxhash, orjson"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {VENV} and installing {DATATROVE} from the registry (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", DATATROVE], check=True)
    subprocess.run(check, check=True)
    return python


def corpus(n_docs: int) -> list:
    """Documents of 150 lines drawn (seeded) from the sample books' lines; after every 10th an
    edited copy (2% of lines), after every 50th a second copy edited from the first (a chain)."""
    import random

    from bench.bench_c4_books import load_books
    from filters.document import Document

    pool = [line for t in load_books() for line in t.split("\n") if len(line.split()) >= 3]
    docs, i = [], 0
    while len(docs) < n_docs:
        lines = random.Random(i).sample(pool, 150)
        docs.append(Document(f"cc/doc{i:07d}", "cc", "\n".join(lines)))
        if i % 10 == 0:
            copy = [line if k % 50 else "edited " + line for k, line in enumerate(lines)]
            docs.append(Document(f"cc/doc{i:07d}-copy1", "cc", "\n".join(copy)))
            if i % 50 == 0:
                chain = [line if k % 50 != 25 else "again " + line for k, line in enumerate(copy)]
                docs.append(Document(f"cc/doc{i:07d}-copy2", "cc", "\n".join(chain)))
        i += 1
    return docs[:n_docs]


def write_inputs(docs, tmp: Path) -> tuple[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row

    parquet = tmp / "docs.parquet"
    pq.write_table(pa.Table.from_pylist([document_to_row(d) for d in docs], schema=DOCUMENT_SCHEMA), parquet)
    jsonl = tmp / "jsonl"
    jsonl.mkdir()
    with open(jsonl / "docs.jsonl", "w") as f:
        for d in docs:
            f.write(json.dumps({"id": d.id, "text": d.text}) + "\n")
    return str(parquet), jsonl


def run_beam(parquet: str, tmp: Path, settings) -> tuple[float, int]:
    import apache_beam as beam

    from pipeline.parquet import row_to_document
    from pipeline.runner import make_options
    from pipeline.stages.near_dedup import DocumentNearDedup

    out = tmp / f"rejected-{time.monotonic_ns()}"
    start = time.perf_counter()
    with beam.Pipeline(options=make_options([])) as p:
        result = (p | beam.Create([parquet]) | beam.io.ReadAllFromParquet() | beam.Map(row_to_document)
                  | DocumentNearDedup(settings, "cc"))
        (result.rejected | beam.Map(lambda r: r.doc.id)
         | beam.io.WriteToText(str(out), shard_name_template="", num_shards=1))
    seconds = time.perf_counter() - start
    return seconds, sum(1 for _ in open(out))


def run_datatrove(python: Path, jsonl: Path, tmp: Path) -> dict:
    work = Path(tempfile.mkdtemp(dir=tmp, prefix="datatrove-"))
    proc = subprocess.run([str(python), str(ROOT / "bench" / "datatrove_minhash.py"), "--input", str(jsonl),
                           "--work", str(work), "--bands", str(BANDS), "--rows", str(ROWS), "--ngrams", str(NGRAMS)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_kernel(docs, settings) -> float:
    from filters.minhash import MinHasher, band_keys

    hasher = MinHasher(settings.num_perm, settings.seed, settings.shingle_size)
    hasher.signature("warm up the permutations of the hasher")
    start = time.perf_counter()
    for d in docs:
        sig = hasher.signature(d.text)
        if sig is not None:
            band_keys(sig, settings.bands, settings.rows)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from pipeline.stages.near_dedup import NearDedupSettings

    python = ensure_datatrove()
    settings = NearDedupSettings(enabled=True, num_perm=BANDS * ROWS, bands=BANDS, rows=ROWS, shingle_size=NGRAMS)
    docs = corpus(args.docs)
    nbytes = sum(d.nbytes for d in docs)
    planted = sum(d.id.endswith(("-copy1", "-copy2")) for d in docs)
    print(f"{len(docs)} documents, {nbytes / 1e6:.1f} MB, {planted} planted copies; "
          f"{BANDS} bands x {ROWS} rows, {NGRAMS}-word shingles")
    beam_s, dt, kernel_s, ratios = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        parquet, jsonl = write_inputs(docs, Path(tmp))
        for run in range(args.runs):  # alternate, so drift on a shared machine hits both
            seconds, removed = run_beam(parquet, Path(tmp), settings)
            trove = run_datatrove(python, jsonl, Path(tmp))
            kernel = run_kernel(docs, settings)
            beam_s.append(seconds)
            dt.append(trove)
            kernel_s.append(kernel)
            ratios.append(trove["total"] / seconds)
            steps = ", ".join(f"{k} {v:.2f}" for k, v in trove["seconds"].items())
            print(f"run {run + 1}: near_dedup on Beam {seconds:.2f} s ({removed} dropped); datatrove "
                  f"{trove['total']:.2f} s ({steps}; {trove['removed']} removed); kernels: ours {kernel:.2f} s, "
                  f"datatrove's {trove['kernel']:.2f} s; ratio {trove['total'] / seconds:.2f}", flush=True)
    med = statistics.median
    print(f"median: Beam stage {med(beam_s):.2f} s ({len(docs) / med(beam_s):.0f} docs/s), datatrove pipeline "
          f"{med(t['total'] for t in dt):.2f} s, our kernel {med(kernel_s):.2f} s, datatrove's kernel "
          f"{med(t['kernel'] for t in dt):.2f} s")
    print(f"ratio datatrove / Beam stage: {med(ratios):.2f} (runs {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"our kernel / Beam stage: {med(kernel_s) / med(beam_s):.2f}; "
          f"datatrove's kernel / Beam stage: {med(t['kernel'] for t in dt) / med(beam_s):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
