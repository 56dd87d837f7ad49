"""The curation stage: every source with inputs, read, cleaned and written as Parquet.

One Beam pipeline for all sources. Each source contributes a builder that reads its
inputs and returns a StageResult; this module writes curated/<source>/ and
rejected/<source>/ as Parquet, sums the stat rows in the pipeline, and after the run
assembles OUT/stats.json and checks that every stage balances.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import apache_beam as beam

from pipeline.parquet import DOCUMENT_SCHEMA, REJECTED_SCHEMA, document_to_row, rejection_to_row
from pipeline.read import read_source
from pipeline.settings import as_plain
from pipeline.stats import StageResult, SumStats, run_stages
from pipeline.summary import assemble_stats

log = logging.getLogger(__name__)

SourceBuilder = Callable[[beam.Pipeline, dict, dict], tuple[StageResult, beam.PCollection]]


def build_cc(p, config, models: dict) -> tuple[StageResult, beam.PCollection]:
    from pipeline.cc import CurateCC
    from pipeline.quality import from_cards
    from pipeline.readers.warc import make_parser

    cc = config.cc
    parser = make_parser(main_content=cc.main_content, source="cc", report_skipped=True)
    docs, read_stats = read_source(p, config, "cc", parser)
    result = run_stages(docs, [("CurateCC", CurateCC("cc", cc, models["lid"]["path"])),
                               ("CurateQuality", from_cards("cc", cc.perplexity, cc.wikiref, models))])
    return result, read_stats


def _lazy(module: str, name: str) -> SourceBuilder:
    """A builder imported on first use, so a run pays only for the sources it has."""
    def build(p, config, models):
        import importlib

        return getattr(importlib.import_module(module), name)(p, config, models)
    return build


BUILDERS: dict[str, SourceBuilder] = {
    "cc": build_cc,
    "c4": _lazy("pipeline.c4", "build_c4"),
    "github": _lazy("pipeline.github", "build_github"),
    "wikipedia": _lazy("pipeline.wikipedia", "build_wikipedia"),
    "books": _lazy("pipeline.books", "build_books"),
    "arxiv": _lazy("pipeline.arxiv", "build_arxiv"),
    "stackexchange": _lazy("pipeline.stackexchange", "build_stackexchange"),
}


def _write_parquet(pcoll, to_row, schema, prefix: str, num_shards: int, label: str):
    return (
        pcoll
        | f"{label}Rows" >> beam.Map(to_row)
        | f"{label}Write" >> beam.io.WriteToParquet(
            prefix, schema, file_name_suffix=".parquet", shard_name_template="-SSSSS", num_shards=num_shards,
        )
    )


def build_curate(p: beam.Pipeline, config, models: dict, tmp: Path) -> list[str]:
    """Add every source's stages to `p`, writing under `tmp`; returns the sources built."""
    stats = []
    built = []
    num_shards = config.output.num_shards
    for source in config.active_sources():
        builder = BUILDERS.get(source)
        if builder is None:
            log.warning("inputs.%s is set but the %s stage is not built yet: skipped", source, source)
            continue
        result, read_stats = builder(p, config, models)
        _write_parquet(result.kept, document_to_row, DOCUMENT_SCHEMA,
                       str(tmp / "curated" / source / "part"), num_shards, f"Curated_{source}")
        _write_parquet(result.rejected, rejection_to_row, REJECTED_SCHEMA,
                       str(tmp / "rejected" / source / "part"), num_shards, f"Rejected_{source}")
        stats.append(result.stats)
        stats.append(read_stats)
        built.append(source)
    if not built:
        raise ValueError("no source with inputs has a curation stage; set inputs.<source> in the config")
    (
        tuple(stats)
        | "SumStats" >> SumStats()
        | "StatsJson" >> beam.Map(lambda kv: json.dumps([list(kv[0]), list(kv[1])]))
        | "WriteStats" >> beam.io.WriteToText(str(tmp / "stats-rows"), file_name_suffix=".jsonl",
                                              shard_name_template="", num_shards=1)
    )
    return built


def read_stat_rows(path: Path):
    for line in path.read_text().splitlines():
        if line.strip():
            key, value = json.loads(line)
            yield tuple(key), tuple(value)


def run_curate(config, models: dict, tmp: Path, options) -> dict[str, Any]:
    start = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        built = build_curate(p, config, models, tmp)
    elapsed = time.perf_counter() - start
    sampled = as_plain(config.sample) if config.sample.active else None
    stats = assemble_stats(read_stat_rows(tmp / "stats-rows.jsonl"), sampled)
    stats["sources_built"] = built
    stats["seconds"] = round(elapsed, 2)
    (tmp / "stats-rows.jsonl").unlink()
    return stats
