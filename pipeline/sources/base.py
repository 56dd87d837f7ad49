"""The record each source module exports: everything the pipeline needs to know about a source.

A source is one module in `pipeline/sources/`, exporting `SOURCE = Source(...)`:
its name (the `inputs.<name>` key and config section), its config section type,
how to build its Beam-free parser from that section, its curation transform
(documents in, a StageResult out), the names of its stages in order for a given
section, and its row of LLaMA-1's Table 1. `pipeline.sources.SOURCES` lists the
records; the config, the stage order, Table 1 and the curate stage are derived from
them, so adding a source is one module, one line in `pipeline/sources/__init__.py`,
its config block and its README rows.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam

from pipeline.readers.base import Parser


class LlamaShare(NamedTuple):
    """A source's row of LLaMA-1's Table 1."""

    proportion: float  # sampling proportion
    epochs: float
    disk: str  # disk size, as printed


def _no_lines(stage: str, entry: dict) -> list[str]:
    return []


def _no_check(section: Any, patterns: tuple[str, ...]) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class Source:
    name: str
    settings: type  # the config section `<name>`: a keyword-only dataclass (pipeline.settings)
    parser: Callable[[Any], Parser]  # section -> parse(path, fileobj) for `inputs.<name>`
    # (section, model cards from OUT/models/cards.json) -> PTransform: documents -> StageResult
    curate: Callable[[Any, Mapping[str, Any]], beam.PTransform]
    stages: Callable[[Any], tuple[str, ...]]  # section -> its stage names after "read", in order
    llama: LlamaShare
    # (stage, its stats.json entry) -> extra summary lines (histograms and the like)
    summary_lines: Callable[[str, dict], list[str]] = _no_lines
    # (section, inputs.<name>) -> None, or ValueError naming the dotted key: a conflict
    # between the section and the input patterns, refused when the config is loaded
    check_inputs: Callable[[Any, tuple[str, ...]], None] = _no_check


@dataclass(frozen=True, kw_only=True)
class CrossSourceStage:
    """A stage that spans sources, run after every source is curated and before anything is written.

    `apply(results, config)` takes {source: StageResult} and returns the same shape:
    each source's kept documents after the stage, its rejects and stats with the
    stage's own flattened in. `enabled(config)` says whether a run has it.
    """

    name: str
    enabled: Callable[[Any], bool]
    apply: Callable[[dict, Any], dict]
    # (stage, a source's stats.json entry for it) -> extra summary lines
    summary_lines: Callable[[str, dict], list[str]] = _no_lines


@dataclass(frozen=True, kw_only=True)
class HeadStage:
    """A stage set by a top-level config section that opens the chain of each source it applies to.

    It sees a source's documents as read, before the source's own stages (a blocked
    page must go before dedup can take its clean copies down with it).
    `applies(config, source)` says whether that source's chain starts with it;
    `transform(config, source)` is the stage: documents in, a StageResult out.
    """

    name: str
    applies: Callable[[Any, str], bool]
    transform: Callable[[Any, str], beam.PTransform]
    summary_lines: Callable[[str, dict], list[str]] = _no_lines  # as Source.summary_lines


def check_source_names(key: str, names) -> None:
    """A setting that lists sources names only known ones (ValueError naming `key` otherwise)."""
    from pipeline.settings import invalid
    from pipeline.sources import SOURCES  # here: the sources' modules import this one

    unknown = [name for name in names or () if name not in SOURCES]
    if unknown:
        raise invalid(key, f"names unknown sources {unknown}; sources are {', '.join(SOURCES)}")
