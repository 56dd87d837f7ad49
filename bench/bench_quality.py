"""Throughput of the CommonCrawl quality stages against the raw library calls.

    .venv/bin/python bench/bench_quality.py [--models OUT/models] [--repeat 3] [--runs 2]

Input: the sample's WET pages (all of them, marked English so every page is
scored), written as Parquet documents, `--repeat` copies. Models: OUT/models of a
run (`--models`), or the sample's reference models trained once into
.cache/bench-quality/ by the models-stage code.

Prints, on the same text:
  raw        one plain process: per paragraph SentencePiece encode + kenlm score,
             per document fastText predict; the text is not normalised
  raw_normalised  the same calls on the text normalised beforehand (untimed), as the
             stages feed them
  normalise  cc_net's normalisation alone (the pipeline's extra work per line)
  filters    the stages' own filter code (PerplexityScorer, WikiRefFilter) in a plain loop
  read       Beam (FnApiRunner): read the Parquet files into Documents, nothing else
  score      Beam: read + the perplexity scoring DoFn + the wikiref stage
  full       Beam: read + CurateQuality (scoring, per-language percentiles as a
             global Combine, buckets with the cutoffs as a side input, wikiref), every
             bucket kept so that wikiref scores the same documents as in `score`
  ratio      raw seconds / score seconds (throughput of the pipeline relative to raw)
  percentile pass: Beam reading documents scored beforehand + the percentiles and
             buckets (`pipeline.stages.perplexity.Buckets`), minus Beam reading them only
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

def sample_config():
    from pipeline.config import load_config

    return load_config(ROOT / "configs" / "sample.yaml")


def get_cards(models_dir: str | None, config) -> dict:
    if models_dir:
        return json.loads((Path(models_dir) / "cards.json").read_text())
    from pipeline.models.lid import default_lid_model
    from pipeline.models.stage import train_reference_models
    from pipeline.settings import as_plain

    absolute = {k: [str(ROOT / p) for p in v] for k, v in as_plain(config.inputs).items()}
    cwd_config = dataclasses.replace(config, inputs=dataclasses.replace(config.inputs, **absolute))
    return train_reference_models(cwd_config, ROOT / ".cache" / "bench-quality" / "models",
                                  lid_model=default_lid_model())


def write_documents(out: Path, repeat: int) -> list[str]:
    """The sample's WET pages as Parquet Documents (lang en), `repeat` copies with distinct ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filters.document import Document
    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row
    from pipeline.readers.warc import parse_warc

    docs = []
    for path in sorted(glob.glob(str(ROOT / "data" / "sample" / "cc" / "*.warc.wet.gz"))):
        with open(path, "rb") as f:
            docs += [d for d in parse_warc(path, f) if isinstance(d, Document)]
    files = []
    for copy_no in range(repeat):
        rows = [document_to_row(Document(id=f"{d.id}/{copy_no}", source="cc", text=d.text, url=d.url, lang="en"))
                for d in docs]
        files.append(str(out / f"docs-{copy_no}.parquet"))
        pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), files[-1])
    return files


def write_scored(out: Path, files: list[str], en: dict) -> list[str]:
    """The same documents with their perplexity (scored here, untimed), for the percentile pass alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filters.perplexity import PerplexityScorer
    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row, iter_parquet_rows, row_to_document

    scorer = PerplexityScorer({"en": (en["sentencepiece"]["path"], en["kenlm"]["path"])})
    scorer.setup()
    scored = []
    for f in files:
        rows = [document_to_row(scorer.apply(row_to_document(row))) for row in iter_parquet_rows(f)]
        scored.append(f.replace(".parquet", "-scored.parquet"))
        pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), scored[-1])
    return scored


def raw(texts: list[str], sp_path: str, lm_path: str, ft_path: str, normalised: bool = False) -> float:
    """The library calls alone. `normalised`: on the text as the stages feed them (normalised
    beforehand, untimed), which isolates the pipeline's own overhead."""
    import fasttext
    import kenlm
    import sentencepiece as spm

    from filters.perplexity import paragraphs

    sp, lm, ft = spm.SentencePieceProcessor(model_file=sp_path), kenlm.Model(lm_path), fasttext.load_model(ft_path)
    if normalised:
        docs = [(paragraphs(text), text.lower().replace("\n", " ")) for text in texts]
    else:
        docs = [([line for line in text.split("\n") if line.strip()], text.replace("\n", " ")) for text in texts]
    start = time.perf_counter()
    for lines, one_line in docs:
        for pieces in sp.encode(lines, out_type=str, num_threads=1):
            lm.score(" ".join(pieces), bos=True, eos=True)
        ft.predict([one_line], k=-1)
    return time.perf_counter() - start


def normalise_only(texts: list[str]) -> float:
    """What the pipeline normalises: each document for KenLM, and lowercased for fastText."""
    from filters.perplexity import paragraphs
    from filters.wikiref import classifier_text

    paragraphs("warm the tables")
    start = time.perf_counter()
    for text in texts:
        paragraphs(text)
        classifier_text(text)
    return time.perf_counter() - start


def plain_filters(files: list[str], cards: dict, config: dict) -> float:
    """The stages' filter code (normalise + tokenize + score, classify) in one plain process."""
    from filters.perplexity import PerplexityScorer
    from filters.wikiref import WikiRefFilter
    from pipeline.parquet import iter_parquet_rows, row_to_document

    docs = [row_to_document(row) for f in files for row in iter_parquet_rows(f)]
    en = cards["perplexity"]["en"]
    scorer = PerplexityScorer({"en": (en["sentencepiece"]["path"], en["kenlm"]["path"])})
    wikiref = WikiRefFilter(cards["wikiref"]["path"], config.cc.wikiref.threshold)
    scorer.setup()
    wikiref.setup()
    start = time.perf_counter()
    for doc in docs:
        wikiref.apply(dataclasses.replace(scorer.apply(doc)))
    return time.perf_counter() - start


def pipeline(files: list[str], what: str, config, cards: dict, tmp: Path) -> tuple[float, int]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from filters.perplexity import PerplexityScorer
    from pipeline.parquet import row_to_document
    from pipeline.sources.cc import quality_stages
    from pipeline.stages.perplexity import Buckets, _Score
    from pipeline.stages.wikiref import WikiRef
    from pipeline.stats import run_stages

    models = {lang: (c["sentencepiece"]["path"], c["kenlm"]["path"]) for lang, c in cards["perplexity"].items()}
    out = tmp / f"count-{what}-{time.monotonic_ns()}"
    start = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        docs = p | beam.Create(files) | beam.io.ReadAllFromParquet() | "Doc" >> beam.Map(row_to_document)
        if what in ("read", "read_scored"):
            outs = [docs]
        elif what == "buckets":  # the percentile pass alone, on documents scored beforehand
            result = docs | Buckets("cc", config.cc.perplexity)
            outs = [result.kept, result.rejected, result.stats]
        elif what == "score":
            scored = docs | beam.ParDo(_Score(PerplexityScorer(models)))
            result = scored | WikiRef("cc", config.cc.wikiref, cards["wikiref"]["path"])
            outs = [result.kept, result.rejected, result.stats]
        else:  # every bucket kept, so wikiref scores the same documents as in "score"
            every_bucket = dataclasses.replace(config.cc.perplexity, keep=("head", "middle", "tail"))
            result = run_stages(docs, quality_stages("cc", every_bucket, config.cc.wikiref, cards))
            outs = [result.kept, result.rejected, result.stats]
        # Counted where they are produced: a Flatten of the documents would make the local
        # runner encode them all once more, which is the bench's cost, not the stage's.
        counts = [pc | f"Count{i}" >> beam.combiners.Count.Globally() for i, pc in enumerate(outs)]
        (counts | "Counts" >> beam.Flatten() | beam.CombineGlobally(sum)
         | beam.Map(str) | beam.io.WriteToText(str(out), shard_name_template=""))
    return time.perf_counter() - start, int(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="OUT/models of a run (default: train the sample's into .cache)")
    parser.add_argument("--repeat", type=int, default=3, help="copies of the sample's pages (default 3)")
    parser.add_argument("--runs", type=int, default=2, help="timings are the best of this many runs (default 2)")
    args = parser.parse_args()
    sys.argv[1:] = []  # Beam's PipelineOptions would read our flags too
    import logging

    logging.basicConfig(level=logging.WARNING)
    from pipeline.parquet import iter_parquet_rows

    config = sample_config()
    cards = get_cards(args.models, config)
    en = cards["perplexity"]["en"]
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        tmp = Path(tmp)
        files = write_documents(tmp, args.repeat)
        texts = [row["text"] for f in files for row in iter_parquet_rows(f, ["text"])]
        mb = sum(len(t.encode()) for t in texts) / 1e6
        lines = sum(t.count("\n") + 1 for t in texts)
        print(f"input: {len(texts):,} documents, {lines:,} lines, {mb:.1f} MB ({args.repeat} copies of the sample's "
              f"WET pages); KenLM {en['kenlm']['bytes'] / 1e6:.0f} MB, SentencePiece "
              f"{en['sentencepiece'].get('vocab_size', '?')} pieces")
        best = lambda fn: min(fn() for _ in range(args.runs))  # noqa: E731  (a shared machine: best of N)
        results = {
            "raw": best(lambda: raw(texts, en["sentencepiece"]["path"], en["kenlm"]["path"], cards["wikiref"]["path"])),
            "raw_normalised": best(lambda: raw(texts, en["sentencepiece"]["path"], en["kenlm"]["path"],
                                               cards["wikiref"]["path"], normalised=True)),
            "normalise": best(lambda: normalise_only(texts)),
            "filters": best(lambda: plain_filters(files, cards, config)),
        }
        # Models load once per process (cached by path), as on a worker; raw's load is untimed too.
        from filters.lid import load_model
        from filters.perplexity import load_language_model

        load_language_model(en["sentencepiece"]["path"], en["kenlm"]["path"])
        load_model(cards["wikiref"]["path"])
        for what in ("read", "score", "full"):
            results[what] = best(lambda: pipeline(files, what, config, cards, tmp)[0])
        scored = write_scored(tmp, files, en)
        results["read_scored"] = best(lambda: pipeline(scored, "read_scored", config, cards, tmp)[0])
        results["buckets"] = best(lambda: pipeline(scored, "buckets", config, cards, tmp)[0])
        for name in ("raw", "raw_normalised", "normalise", "filters", "read", "score", "full"):
            print(f"  {name:<15} {results[name]:7.2f} s  {mb / results[name]:6.2f} MB/s")
        print(f"  ratio raw / score: {results['raw'] / results['score']:.2f}   (target >= 0.7; the stages also"
              " normalise the text, which raw does not)")
        print(f"  ratio raw_normalised / score: {results['raw_normalised'] / results['score']:.2f}"
              "   (the same library calls on the same normalised text: the pipeline's own overhead)")
        print(f"  percentile pass: {results['buckets'] - results['read_scored']:.2f} s"
              f"  (read scored docs + percentiles + buckets {results['buckets']:.2f} s,"
              f" minus read only {results['read_scored']:.2f} s)")


if __name__ == "__main__":
    main()
