"""Adding a source is one module: a toy eighth source, written to a temporary file from the
record type alone, runs through the real CLI and shows up in stats.json, rejected/ and the
summary. A cross-source stage in the place the records reserve for it runs after it."""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from pipeline import cli
from pipeline.sources import CROSS_SOURCE, SOURCES

TOY_MODULE = '''
"""A toy source: one document per line of a .tsv file (id, tab, text)."""
from dataclasses import dataclass
from typing import ClassVar

import apache_beam as beam

from filters.base import DocumentFilter, Drop
from filters.document import Document
from pipeline.readers.base import Malformed
from pipeline.sources.base import CrossSourceStage, LlamaShare, Source
from pipeline.stages.judge import FilterStage, Judge, judged
from pipeline.stats import StageResult, SumStats


@dataclass(frozen=True, kw_only=True)
class ToySettings:
    banned: tuple[str, ...] = ("spam",)


def parse_tsv(path, fileobj, source="toy"):
    for offset, raw in enumerate(fileobj):
        doc_id, sep, text = raw.decode("utf-8").rstrip("\\n").partition("\\t")
        if not sep:
            yield Malformed(path, offset, "no tab")
            continue
        yield Document(id=f"{source}/{doc_id}", source=source, text=text)


class BannedWords(DocumentFilter):
    stage = "toy_rules"
    reasons = ("banned_word",)

    def __init__(self, banned):
        self.banned = frozenset(banned)

    def apply(self, doc):
        return Drop("banned_word") if self.banned & set(doc.text.split()) else doc


def record(name):
    return Source(
        name=name, settings=ToySettings,
        parser=lambda toy: (lambda path, fileobj: parse_tsv(path, fileobj, name)),
        curate=lambda toy, cards: FilterStage(BannedWords(toy.banned), name),
        stages=lambda toy: ("toy_rules",),
        llama=LlamaShare(0.0, 0.0, "0 GB"),
    )


SOURCE, SECOND = record("toy"), record("toy2")


class _DropSeen(beam.DoFn):
    """(text, {"first": [...], "second": [docs]}) -> second's docs whose text the first source has, dropped."""

    def setup(self):
        self._judge = Judge("toy2", "toy_cross", ["in_other_source"])

    def process(self, element):
        _, joined = element
        seen = bool(list(joined["first"]))
        for doc in joined["second"]:
            yield from self._judge.arrived(doc)
            if seen:
                yield from self._judge.drop(doc, "in_other_source")
            else:
                yield from self._judge.keep(doc)


def drop_seen(results, config):
    first, second = results["toy"], results["toy2"]
    joined = {"first": first.kept | "KeyFirst" >> beam.Map(lambda d: (d.text, d.id)),
              "second": second.kept | "KeySecond" >> beam.Map(lambda d: (d.text, d))} | beam.CoGroupByKey()
    out = judged(joined, "DropSeen", _DropSeen())
    rejected = (second.rejected, out.rejected) | "Rejected2" >> beam.Flatten()
    stats = (second.stats, out.stats) | "Stats2" >> SumStats()
    return {**results, "toy2": StageResult(out.kept, rejected, stats)}


CROSS = CrossSourceStage(name="toy_cross", enabled=lambda config: bool(config.inputs.toy2), apply=drop_seen)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    path = tmp_path / "toy_source_module.py"
    path.write_text(TOY_MODULE)
    spec = importlib.util.spec_from_file_location("toy_source_module", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "toy_source_module", module)
    spec.loader.exec_module(module)
    monkeypatch.setitem(SOURCES, "toy", module.SOURCE)
    return module


def run(tmp_path, config_text: str, capsys) -> tuple[dict, str]:
    config = tmp_path / "toy.yaml"
    config.write_text(textwrap.dedent(config_text))
    out = tmp_path / "out"
    for stage in ("models", "curate"):
        assert cli.main([stage, "--config", str(config), "--output", str(out), "--quiet"]) == 0
    return json.loads((out / "stats.json").read_text()), capsys.readouterr().out


def test_a_source_from_its_record_alone_runs_end_to_end(toy, tmp_path, capsys):
    data = tmp_path / "docs.tsv"
    data.write_text("1\tthe first document\n2\tsome spam here\n3\tthe third one\n")
    stats, summary = run(tmp_path, f"""
        inputs: {{toy: [{data}]}}
        toy: {{banned: [spam]}}
    """, capsys)
    toy_stats = stats["sources"]["toy"]
    assert list(toy_stats) == ["read", "toy_rules"]
    assert toy_stats["read"]["documents"]["count"] == 3
    assert toy_stats["toy_rules"]["in"]["documents"] == 3
    assert toy_stats["toy_rules"]["kept"]["documents"] == 2
    assert toy_stats["toy_rules"]["dropped"]["banned_word"]["documents"] == 1
    assert "== toy ==" in summary and "dropped banned_word" in summary
    rejected = pq.read_table(tmp_path / "out" / "rejected" / "toy").to_pylist()
    assert [(r["id"], r["stage"], r["reason"]) for r in rejected] == [("toy/2", "toy_rules", "banned_word")]


def test_a_misspelt_setting_of_the_new_source_is_refused(toy, tmp_path):
    config = tmp_path / "toy.yaml"
    config.write_text("toy: {baned: [x]}\n")
    assert cli.main(["curate", "--config", str(config), "--output", str(tmp_path / "out")]) == 2


def test_cross_source_stages_run_after_every_source_is_curated(toy, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(SOURCES, "toy2", toy.SECOND)
    monkeypatch.setattr("pipeline.sources.CROSS_SOURCE", [*CROSS_SOURCE, toy.CROSS])
    monkeypatch.setattr("pipeline.curate.CROSS_SOURCE", [*CROSS_SOURCE, toy.CROSS])
    first, second = tmp_path / "a.tsv", tmp_path / "b.tsv"
    first.write_text("1\tshared text\n2\tonly in the first\n")
    second.write_text("1\tshared text\n2\tonly in the second\n3\tspam\n")
    stats, summary = run(tmp_path, f"""
        inputs: {{toy: [{first}], toy2: [{second}]}}
    """, capsys)
    toy2 = stats["sources"]["toy2"]
    assert list(toy2) == ["read", "toy_rules", "toy_cross"]  # the spanning stage last, in run order
    assert toy2["toy_cross"]["in"]["documents"] == 2
    assert toy2["toy_cross"]["dropped"]["in_other_source"]["documents"] == 1
    kept = pq.read_table(tmp_path / "out" / "curated" / "toy2").to_pylist()
    assert [r["id"] for r in kept] == ["toy2/2"]
    assert "toy_cross" in summary
