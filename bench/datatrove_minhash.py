"""datatrove's MinHash dedup pipeline on a JSON-lines file: run by bench/bench_near_dedup.py with the
interpreter of its own virtualenv (.cache/bench-datatrove), never the project's.

    python bench/datatrove_minhash.py --input DIR --work DIR --bands 20 --rows 6 --ngrams 5

Runs datatrove's four steps as its README shows them (signatures, buckets, cluster,
filter; LocalPipelineExecutor, one worker), then its raw kernel (shingles and signature
of every document in a plain loop), and prints one JSON line of timings and counts.
Words: datatrove's `simplify_text` then a whitespace split, the same words as our
`normalize_line` (datatrove's default English tokenizer is spaCy, which is slower and
not installed here; a plain split is the faster, harder baseline).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.word_tokenizers import WordTokenizer


class Whitespace(WordTokenizer):
    """Words split on whitespace (after datatrove's own simplify_text)."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def run(args) -> dict:
    config = MinhashConfig(n_grams=args.ngrams, num_buckets=args.bands, hashes_per_bucket=args.rows)
    work = Path(args.work)
    sigs, buckets, clusters, logs = (str(work / name) for name in ("sigs", "buckets", "clusters", "logs"))
    steps = [
        ("signatures", [JsonlReader(args.input), MinhashDedupSignature(sigs, config=config, language=Whitespace())], 1),
        ("buckets", [MinhashDedupBuckets(sigs, buckets, config=config)], args.bands),
        ("cluster", [MinhashDedupCluster(buckets, clusters, config=config)], 1),
        ("filter", [JsonlReader(args.input), MinhashDedupFilter(clusters, exclusion_writer=JsonlWriter(
            str(work / "removed"))), JsonlWriter(str(work / "kept"))], 1),
    ]
    seconds = {}
    for name, pipeline, tasks in steps:
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{logs}/{name}").run()
        seconds[name] = time.perf_counter() - start
    removed = sum(1 for f in (work / "removed").glob("*.jsonl*") for _ in _lines(f))
    kernel = _kernel(args, config)
    return {"seconds": seconds, "total": sum(seconds.values()), "removed": removed, "kernel": kernel}


def _lines(path: Path):
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        yield from f


def _kernel(args, config) -> float:
    """Shingles and signature of every document, in a plain loop (datatrove's own functions)."""
    texts = [json.loads(line)["text"] for f in sorted(Path(args.input).glob("*.jsonl")) for line in open(f)]
    step = MinhashDedupSignature(str(Path(args.work) / "kernel"), config=config, language=Whitespace())
    step.get_signature(step.get_shingles("warm up the parameters of the hash functions here"))
    start = time.perf_counter()
    for text in texts:
        shingles = step.get_shingles(text)
        if shingles.size:
            step.get_signature(shingles)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--ngrams", type=int, default=5)
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
