"""Throughput of the stages beyond LLaMA-1 against their raw kernels, in the same run.

    .venv/bin/python -m bench.bench_modern [--copies 3] [--runs 3]

Corpus: the sample crawl's WET pages (data/sample/cc, read as cc_net reads them),
`--copies` times (ids made unique), with their URLs. Each stage is measured three ways:

  raw      the rule's kernel in a plain loop over the texts, nothing else:
           url_filter: `DomainBlocklist.blocked_by(url)` per page (a host lookup);
           decontamination: `EvalIndex.find(text)` (normalise, hash every 13-gram, look up);
           pii: the three finders (`find_emails`, `find_ip_addresses`, `find_phone_numbers`)
  beam     the stage's PTransform on Beam's FnApiRunner: documents read from pickled chunks of
           100 (as a reader would emit them), the stage, its kept/rejected/stat outputs
           consumed (counted); wall clock, pipeline start included
  passthru the same pipeline with a judging pass-through in place of the stage (Judge keep:
           a stat row and a counter per document), to show what any stage costs here

Ratio = raw seconds / beam seconds (1.0: the stage costs only its kernel). Net =
beam - passthru of the same run, the stage's own cost above moving the documents
through Beam; net ratio = raw / net ("noise" when net is under 0.05 s). A warm-up
pipeline runs first; then `--runs` rounds of pass-through and the three stages, each
stage's raw kernel timed just before it; medians are shown.
The blocklist is the demo's plus `--extra-domains` generated names (a UT1 list is
millions of lines); the eval sets are the sample's (54 examples, ~3,300 n-grams).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import pickle
import statistics
import time
from pathlib import Path

import apache_beam as beam

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
BLOCKLIST = ROOT / "configs" / "blocklists" / "sample-demo" / "domains"
EVAL_SETS = {"jc_speakers": [str(SAMPLE / "planted-eval" / "eval" / "jc_speakers.jsonl")],
             "jc_passages": [str(SAMPLE / "planted-eval" / "eval" / "jc_passages.txt")]}


def load_docs(copies: int):
    from pipeline.readers.warc import parse_warc

    docs = []
    for path in sorted((SAMPLE / "cc").glob("*.warc.wet.gz")):
        with open(path, "rb") as f:
            docs += [d for d in parse_warc(str(path), f, cc_net=True) if hasattr(d, "text")]
    return [dataclasses.replace(d, id=f"{d.id}#{c}") for c in range(copies) for d in docs]


class _PassThrough(beam.DoFn):
    def setup(self):
        from pipeline.stages.judge import Judge

        self._judge = Judge("cc", "passthru")

    def process(self, doc):
        yield from self._judge.arrived(doc)
        yield from self._judge.keep(doc)


def write_chunks(docs, tmp: Path, size: int = 100) -> list[str]:
    """The documents pickled in chunks: a pipeline reads them as a reader would, with no giant Create."""
    paths = []
    for i in range(0, len(docs), size):
        path = tmp / f"chunk-{i // size:05d}.pickle"
        path.write_bytes(pickle.dumps(docs[i:i + size]))
        paths.append(str(path))
    return paths


def _load_chunk(path: str):
    return pickle.loads(Path(path).read_bytes())


def beam_seconds(chunks: list[str], stage) -> float:
    """Wall clock of read chunks -> stage -> count every output (a tuple of PCollections)."""
    from pipeline.runner import make_options

    start = time.perf_counter()
    with beam.Pipeline(options=make_options([])) as p:
        result = stage(p | beam.Create(chunks) | beam.Reshuffle() | beam.FlatMap(_load_chunk))
        for i, pcoll in enumerate(result):
            _ = pcoll | f"Count{i}" >> beam.combiners.Count.Globally()
    return time.perf_counter() - start


def stages(tmp: Path, extra_domains: int):
    from filters.decontamination import EvalIndex
    from filters.pii import find_emails, find_ip_addresses, find_phone_numbers
    from filters.url_blocklist import DomainBlocklist, parse_blocklist
    from pipeline.config import config_from
    from pipeline.stages import decontamination, pii
    from pipeline.stages.decontamination import read_eval_set
    from pipeline.stages.judge import judged
    from pipeline.stages.url_filter import UrlFilter, UrlFilterSettings, load_blocklists
    from pipeline.stats import StageResult

    blocklist = tmp / "domains"
    blocklist.write_text(BLOCKLIST.read_text() + "".join(f"site{i}.example{i % 97}.test\n"
                                                         for i in range(extra_domains)))
    domains = DomainBlocklist(parse_blocklist(blocklist.read_text().splitlines()).domains)
    index = EvalIndex.build([e for item in sorted(EVAL_SETS.items()) for e in read_eval_set(item, "text")])
    config = config_from({"decontamination": {"eval_sets": EVAL_SETS},
                          "pii": {"emails": True, "ip_addresses": True, "phone_numbers": True}})

    def as_source(docs, apply):
        empty = docs.pipeline | "NoRejects" >> beam.Create([])
        out = apply({"cc": StageResult(docs, empty, docs.pipeline | "NoStats" >> beam.Create([]))}, config)["cc"]
        return tuple(out)

    def pii_kernel(docs):
        return sum(len(f(d.text)) for d in docs for f in (find_emails, find_ip_addresses, find_phone_numbers))

    start = time.perf_counter()
    load_blocklists(blocklist_paths := (str(blocklist),))  # what each worker does once, in setup
    print(f"blocklist: {len(domains.domains):,} domains, loaded in {time.perf_counter() - start:.2f} s (once per "
          "worker process; the Beam runs below reuse it)")
    return {
        "url_filter": (lambda docs: sum(domains.blocked_by(d.url) is not None for d in docs),
                       lambda pcoll: tuple(pcoll | UrlFilter("cc", UrlFilterSettings(blocklists=blocklist_paths)))),
        "decontamination": (lambda docs: sum(bool(index.find(d.text)) for d in docs),
                            lambda pcoll: as_source(pcoll, decontamination.apply)),
        "pii": (pii_kernel, lambda pcoll: as_source(pcoll, pii.apply)),
        "passthru": (None, lambda pcoll: tuple(judged(pcoll, "PassThrough", _PassThrough()))),
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--extra-domains", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    docs = load_docs(args.copies)
    nbytes = sum(d.nbytes for d in docs)
    print(f"corpus: {len(docs):,} documents, {nbytes / 1e6:.1f} MB ({args.copies} copies of the sample crawl)")
    with tempfile.TemporaryDirectory() as tmp:
        todo = stages(Path(tmp), args.extra_domains)
        chunks = write_chunks(docs, Path(tmp))
        beam_seconds(chunks, todo["passthru"][1])  # warm-up: the first pipeline of a process pays imports
        raw: dict[str, list[float]] = {name: [] for name in todo if name != "passthru"}
        full: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(args.runs):
            for name, (kernel, stage) in todo.items():  # the pass-through first in every run
                if kernel is not None:
                    start = time.perf_counter()
                    kernel(docs)
                    raw[name].append(time.perf_counter() - start)
                full[name].append(beam_seconds(chunks, stage))
    passthru = full.pop("passthru")
    print(f"pass-through pipeline (read chunks -> Judge keep -> counts): median {statistics.median(passthru):.2f} s")
    print(f"{'stage':<16} {'raw s':>6} {'raw MB/s':>8} {'beam s':>6} {'beam MB/s':>9} {'ratio':>6} {'net s':>6} "
          f"{'net ratio':>9}")
    for name in raw:
        r, b = statistics.median(raw[name]), statistics.median(full[name])
        ratio = statistics.median(x / y for x, y in zip(raw[name], full[name]))
        nets = [y - p for y, p in zip(full[name], passthru)]
        net = statistics.median(nets)
        net_ratio = f"{r / net:9.2f}" if net > 0.05 else f"{'noise':>9}"  # under the runs' own noise
        print(f"{name:<16} {r:6.2f} {nbytes / r / 1e6:8.1f} {b:6.2f} {nbytes / b / 1e6:9.1f} {ratio:6.2f} "
              f"{net:6.2f} {net_ratio}   net per run: " + ", ".join(f"{x:.2f}" for x in nets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
