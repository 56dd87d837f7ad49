"""The curation stage: every source with inputs, read, cleaned and written as Parquet.

One Beam pipeline for all sources:

    for each source record (pipeline.sources.SOURCES) with inputs:
        read inputs.<source> with its parser -> the head stages that apply to it
        (pipeline.sources.HEAD) -> its curate transform -> StageResult
    the cross-source stages (pipeline.sources.CROSS_SOURCE), over all the results
    write curated/<source>/ and rejected/<source>/ as Parquet; sum every stat row

After the run the summed rows become OUT/stats.json, checked so that every stage
balances (documents in = kept + dropped).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import apache_beam as beam

from pipeline.parquet import DOCUMENT_SCHEMA, REJECTED_SCHEMA, document_to_row, rejection_to_row
from pipeline.read import read_source
from pipeline.report.examples import ROWS as EXAMPLE_ROWS, RejectExamples, write_examples
from pipeline.settings import as_plain
from pipeline.sources import CROSS_SOURCE, HEAD, SOURCES
from pipeline.stats import StageResult, SumStats, run_stages
from pipeline.store import Store
from pipeline.summary import assemble_stats

log = logging.getLogger(__name__)


def curate_source(p: beam.Pipeline, config, name: str, cards: dict) -> tuple[StageResult, beam.PCollection]:
    """One source read and curated: (its StageResult, its read statistics)."""
    source = SOURCES[name]
    section = config.source(name)
    docs, read_stats = read_source(p, config, name, source.parser(section))
    heads = [(stage.name, stage.transform(config, name)) for stage in HEAD if stage.applies(config, name)]
    if heads:
        return docs | f"Curate_{name}" >> _Chain([*heads, ("Source", source.curate(section, cards))]), read_stats
    return docs | f"Curate_{name}" >> source.curate(section, cards), read_stats


class _Chain(beam.PTransform):
    """(label, transform) stages in order, as one StageResult."""

    def __init__(self, stages):
        super().__init__()
        self._stages = stages

    def expand(self, docs) -> StageResult:
        return run_stages(docs, self._stages)


def stage_order(config) -> dict[str, list[str]]:
    """Each active source's stages in run order, for stats.json and the summary."""
    spanning = [stage.name for stage in CROSS_SOURCE if stage.enabled(config)]
    return {name: ["read", *[stage.name for stage in HEAD if stage.applies(config, name)],
                   *SOURCES[name].stages(config.source(name)), *spanning]
            for name in config.active_sources()}


def _write_parquet(pcoll, to_row, schema, prefix: str, num_shards: int, label: str):
    return (
        pcoll
        | f"{label}Rows" >> beam.Map(to_row)
        | f"{label}Write" >> beam.io.WriteToParquet(
            prefix, schema, file_name_suffix=".parquet", shard_name_template="-SSSSS", num_shards=num_shards,
        )
    )


def build_curate(p: beam.Pipeline, config, cards: dict, tmp: Store) -> list[str]:
    """Add every source's stages to `p`, writing under `tmp` (a staging place in OUT); returns the sources built."""
    built = config.active_sources()
    if not built:
        raise ValueError("no source has inputs; set inputs.<source> in the config")
    results, stats = {}, []
    for name in built:
        results[name], read_stats = curate_source(p, config, name, cards)
        stats.append(read_stats)
    for stage in CROSS_SOURCE:
        if stage.enabled(config):
            results = stage.apply(results, config)
    num_shards = config.output.num_shards
    for name, result in results.items():
        _write_parquet(result.kept, document_to_row, DOCUMENT_SCHEMA,
                       tmp.path(f"curated/{name}/part"), num_shards, f"Curated_{name}")
        _write_parquet(result.rejected, rejection_to_row, REJECTED_SCHEMA,
                       tmp.path(f"rejected/{name}/part"), num_shards, f"Rejected_{name}")
        stats.append(result.stats)
    # The report's examples of each drop reason: a bounded, deterministic sample (pipeline.report.examples).
    {name: result.rejected for name, result in results.items()} | "ReportExamples" >> RejectExamples(
        tmp.path(EXAMPLE_ROWS))
    (
        tuple(stats)
        | "SumStats" >> SumStats()
        | "StatsJson" >> beam.Map(lambda kv: json.dumps([list(kv[0]), list(kv[1])]))
        | "WriteStats" >> beam.io.WriteToText(tmp.path("stats-rows"), file_name_suffix=".jsonl",
                                              shard_name_template="", num_shards=1)
    )
    return built


def read_stat_rows(text: str):
    for line in text.splitlines():
        if line.strip():
            key, value = json.loads(line)
            yield tuple(key), tuple(value)


def run_curate(config, cards: dict, tmp: Store, options) -> dict[str, Any]:
    start = time.perf_counter()
    with beam.Pipeline(options=options) as p:
        built = build_curate(p, config, cards, tmp)
    elapsed = time.perf_counter() - start
    sampled = as_plain(config.sample) if config.sample.active else None
    stats = assemble_stats(read_stat_rows(tmp.read_text("stats-rows.jsonl")), stage_order(config), sampled)
    stats["sources_built"] = built
    stats["seconds"] = round(elapsed, 2)
    tmp.delete("stats-rows.jsonl")
    write_examples(tmp)
    return stats
