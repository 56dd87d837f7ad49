"""C4: the JSON-lines reader on the real sample and on broken copies of it, the rules and the
span dedup as Beam stages, the whole source through `curate_source` on FnApiRunner in both
modes (released: a counted pass-through; rebuild: rules, LID, span dedup), and the mode's
config checks.

Expectations come from the sample file read with the standard library, or are written
out by hand from the literal documents below.
"""
import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import (
    TestPipeline as BeamTestPipeline,  # not collected by pytest
)
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.c4 import C4Rules
from filters.document import Document, digest_id
from pipeline.readers.jsonl import C4Input
from pipeline.sources.c4 import SOURCE as C4_SOURCE
from pipeline.sources.c4 import C4Clean, C4Settings, Released, SpanDedup, SpanDedupSettings
from pipeline.config import ConfigError, config_from
from pipeline.curate import curate_source
from pipeline.readers.base import Malformed
from pipeline.readers.jsonl import parse_c4_json
from pipeline.store import Store
from tests.pipeline.beam_checks import b, check_balanced, stats_equal

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "c4" / "c4-train.00000-of-00001.json.gz"


@pytest.fixture(scope="module")
def sample() -> Path:
    from samples.build_c4_books import build

    build(ROOT / "data" / "sample")
    return SAMPLE


@pytest.fixture(scope="module")
def records(sample) -> list[dict]:
    with gzip.open(sample, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def parse(path: str, data: bytes) -> list:
    return list(parse_c4_json(path, io.BytesIO(data)))


# ---------------------------------------------------------------- reader

def test_reader_on_the_real_sample(sample, records):
    docs = parse(str(sample), sample.read_bytes())
    assert len(docs) == len(records) == 460
    assert all(isinstance(d, Document) for d in docs)
    for i, (doc, rec) in enumerate(zip(docs, records), start=1):
        assert doc.id == digest_id("c4", rec["url"])
        assert (doc.source, doc.text, doc.url) == ("c4", rec["text"], rec["url"])
        assert doc.meta == {"timestamp": rec["timestamp"], "file": sample.name, "line": i}
    assert len({d.id for d in docs}) == len(docs)


def test_reader_reads_plain_json_lines_and_redpajama_layout(records):
    plain = (json.dumps(records[0]) + "\n" + json.dumps(
        {"text": "Some text.", "meta": {"url": "https://example.org/", "timestamp": "2019-04-20T00:00:00Z"}}) + "\n")
    docs = parse("c4.jsonl", plain.encode())
    assert [d.url for d in docs] == [records[0]["url"], "https://example.org/"]
    assert docs[1].meta["timestamp"] == "2019-04-20T00:00:00Z"


def test_reader_counts_and_skips_bad_lines_with_their_line_number(records):
    good = [json.dumps(r, ensure_ascii=False).encode() for r in records[:3]]
    lines = [
        good[0],
        b'{"text": "unterminated',  # line 2: invalid JSON
        good[1],
        b'{"text": "caf\xe9 au lait", "url": "https://example.org/latin1"}',  # line 4: Latin-1, not UTF-8
        b"[1, 2, 3]",  # line 5: not an object
        b'{"url": "https://example.org/no-text"}',  # line 6: no text
        b"",  # line 7: blank, skipped silently
        good[2],
    ]
    out = parse("broken.json.gz", gzip.compress(b"\n".join(lines) + b"\n"))
    docs = [d for d in out if isinstance(d, Document)]
    bad = [m for m in out if isinstance(m, Malformed)]
    assert [d.url for d in docs] == [r["url"] for r in records[:3]]
    assert [(m.path, m.offset) for m in bad] == [("broken.json.gz", 2), ("broken.json.gz", 4),
                                                 ("broken.json.gz", 5), ("broken.json.gz", 6)]
    assert "invalid JSON" in bad[0].error and "line 2" in bad[0].error
    assert "invalid UTF-8 at byte 13 of the line" in bad[1].error  # the \xe9 after {"text": "caf
    assert "expected a JSON object" in bad[2].error
    assert 'no string "text"' in bad[3].error


def test_truncated_gzip_yields_the_whole_lines_then_one_malformed(sample, records):
    data = sample.read_bytes()
    out = parse("cut.json.gz", data[: len(data) // 2])
    docs, bad = out[:-1], out[-1]
    assert all(isinstance(d, Document) for d in docs) and 0 < len(docs) < len(records)
    assert [d.url for d in docs] == [r["url"] for r in records[: len(docs)]]
    assert isinstance(bad, Malformed) and bad.offset == len(docs) + 1
    assert "truncated or corrupt gzip" in bad.error


def test_c4_input_sends_wet_files_to_the_warc_reader(tmp_path):
    from warcio.warcwriter import WARCWriter

    text = "A page of plain text that CommonCrawl extracted.\nIt has two lines."
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    record = writer.create_warc_record("https://example.org/page", "conversion", payload=io.BytesIO(text.encode()),
                                       warc_headers_dict={"Content-Type": "text/plain"})
    writer.write_record(record)
    docs = [d for d in C4Input()("CC-MAIN-x.warc.wet.gz", io.BytesIO(buf.getvalue())) if isinstance(d, Document)]
    assert [(d.source, d.url, d.text) for d in docs] == [("c4", "https://example.org/page", text)]
    assert docs[0].id.startswith("c4/")


# ---------------------------------------------------------------- stages

def c4(doc_id: str, *lines: str) -> Document:
    return Document(id=f"c4/{doc_id}", source="c4", text="\n".join(lines))


S1 = "The river rose quickly after three days of rain."
S2 = "Farmers moved their animals to the higher fields."
S3 = "By Friday the water had gone back down again."
S4 = "The village held a small party to celebrate."


def test_c4_clean_stage_counts_pages_and_lines():
    kept_page = c4("a", "Home | About", S1, S2, "Please enable JavaScript now, thank you.", S3)
    lorem = c4("b", S1, "Lorem ipsum dolor sit amet, consectetur.", S2, S3)
    short = c4("c", S1, "menu")
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([kept_page, lorem, short]) | C4Clean(C4Rules(), "c4")
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)),
                    equal_to([("c4/a", "\n".join([S1, S2, S3]))]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason)),
                    equal_to([("c4/b", "c4_rules_v1", "lorem_ipsum"), ("c4/c", "c4_rules_v1", "too_few_sentences")]),
                    label="rejected")
        kept_bytes = b("\n".join([S1, S2, S3]))
        assert_that(result.stats, stats_equal([
            (("c4", "c4_rules_v1", "in"), (3, kept_page.nbytes + lorem.nbytes + short.nbytes)),
            (("c4", "c4_rules_v1", "kept"), (1, kept_bytes)),
            (("c4", "c4_rules_v1", "dropped:lorem_ipsum"), (1, lorem.nbytes)),
            (("c4", "c4_rules_v1", "dropped:too_few_sentences"), (1, short.nbytes)),
            (("c4", "c4_rules_v1", "lines_in"), (5, kept_page.nbytes)),
            (("c4", "c4_rules_v1", "lines_removed"), (2, kept_page.nbytes - kept_bytes)),
            (("c4", "c4_rules_v1", "line_drops:no_end_mark"), (1, 0)),
            (("c4", "c4_rules_v1", "line_drops:javascript"), (1, 0)),
        ]), label="stats")


def test_span_dedup_keeps_the_first_occurrence_and_removes_the_lines_elsewhere():
    t1, t2, t3 = "Ten green bottles hang on the wall.", "One of them falls down to the floor.", "Nine bottles are left there."
    a = c4("a", S1, S2, S3)  # smallest id: keeps the span S1 S2 S3
    b_ = c4("b", S4, S1, S2, S3, t1, t2, t3)  # has the span: its three lines go, four sentences stay
    c = c4("c", S2, S3, S4, t1)  # shares two-sentence pieces only (S2 S3 S4 is new): untouched
    d = c4("d", t3, S1, S2, S3)  # left with one sentence: too_few_sentences
    a_copy = c4("a", S1, S2, S3)  # the same id and text read twice
    u1, u2, u3 = "Once upon a time there was a king.", "He lived in a castle by the sea.", "Every day he walked on the beach."
    rep = c4("e", u1, u2, u3, u1, u2, u3)  # a span repeated inside one page keeps its first copy
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([b_, a, c, d, a_copy, rep]) | SpanDedup("c4", SpanDedupSettings(), min_sentences=3)
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)), equal_to([
            ("c4/a", "\n".join([S1, S2, S3])),
            ("c4/b", "\n".join([S4, t1, t2, t3])),
            ("c4/c", c.text),
            ("c4/e", "\n".join([u1, u2, u3])),
        ]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.reason, r.doc.text, r.doc.meta)), equal_to([
            ("c4/d", "too_few_sentences", t3, {"c4_dedup_lines_removed": 3}),
            ("c4/a", "duplicate_document", a.text, {"duplicate_of": "c4/a"}),
        ]), label="rejected")


def test_span_dedup_line_mode_is_tfds_line_dedup():
    a = c4("a", S1, S2, S3)
    b_ = c4("b", S3, S4, S1 + " " + S4, S2)
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create([a, b_]) | SpanDedup("c4", SpanDedupSettings(unit="line"), min_sentences=2)
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)), equal_to([
            ("c4/a", a.text), ("c4/b", "\n".join([S4, S1 + " " + S4]))]))


# ---------------------------------------------------------------- the source end to end

def config_for(inputs: list[str], mode: str = "rebuild"):
    return config_from({"inputs": {"c4": inputs}, "c4": {"mode": mode}})


def test_build_c4_on_the_sample_and_a_broken_file(sample, records, tmp_path):
    from pipeline.models.lid import default_lid_model

    broken = tmp_path / "c4-broken.json.gz"
    broken.write_bytes(gzip.compress(json.dumps(records[0]).encode() + b"\n{not json\n"))
    alias = {}  # /3/ alias page -> its /3.11/ original, both in the sample
    urls = {r["url"] for r in records}
    for url in urls:
        if url.startswith("https://docs.python.org/3/"):
            alias[url] = url.replace("/3/", "/3.11/", 1)
    # 45 alias pages were crawled; the rules dropped a pair or two (both copies, same text).
    assert 40 <= len(alias) <= 45 and all(u in urls for u in alias.values())
    # Of each identical pair the larger id loses every line to the smaller one.
    losers = sorted(max(digest_id("c4", a), digest_id("c4", o)) for a, o in alias.items())
    non_english = sorted(digest_id("c4", r["url"]) for r in records if "udhr" in r["url"])
    assert len(non_english) == 6

    models = {"lid": {"path": str(default_lid_model())}}
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config_for([str(sample), str(broken)]), "c4", models)
        rejected = result.rejected | beam.Map(lambda r: (r.stage, r.reason, r.doc.id))

        def check_rejected(rows):
            by = {}
            for stage, reason, doc_id in rows:
                by.setdefault((stage, reason), []).append(doc_id)
            lid = sorted(by.pop(("lid", "lang"), []))
            dup = by.pop(("c4_dedup", "duplicate_document"), [])
            few = sorted(by.pop(("c4_dedup", "too_few_sentences"), []))
            if lid != non_english:
                raise BeamAssertException(f"lid drops {lid} != {non_english}")
            # records[0] is read twice (sample and broken file): same id, same text.
            if dup != [digest_id("c4", records[0]["url"])]:
                raise BeamAssertException(f"duplicate_document {dup}")
            if not set(losers) <= set(few):
                raise BeamAssertException(f"alias losers not dropped: {set(losers) - set(few)}")
            if by:  # the sample's pages already passed the rules when it was built
                raise BeamAssertException(f"unexpected rejections {by}")

        assert_that(rejected, check_rejected, label="rejected")

        def check_stats(rows):
            check_balanced(rows)
            got = {key: value for key, value in rows}
            if got[("c4", "c4_rules_v1", "in")][0] != 461:
                raise BeamAssertException(f"c4_rules_v1 in: {got[('c4', 'c4_rules_v1', 'in')]}")
            if got[("c4", "c4_dedup", "lines_removed")][0] <= 0:
                raise BeamAssertException("no lines removed by dedup")

        assert_that(result.stats, check_stats, label="stats")
        assert_that(read_stats | beam.Map(lambda kv: (kv[0], kv[1][0])), equal_to([
            (("c4", "read", "documents"), 461),
            (("c4", "read", "files"), 2),
            (("c4", "read", "malformed_records"), 1),
            (("c4", "read", f"malformed_at:{broken}@2: line 2 (decompressed byte {len(json.dumps(records[0])) + 1}): "
                            "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
             1),
        ]), label="read")


# ---------------------------------------------------------------- c4.mode

def test_released_mode_writes_c4_unchanged(sample, tmp_path):
    """Read, counted and written unchanged: expectations from the raw JSON lines, not our reader."""
    import pyarrow.parquet as pq

    from pipeline.curate import run_curate
    from pipeline.runner import make_options

    with gzip.open(sample, "rb") as f:
        raw = [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]
    texts = sorted((r["url"], r["text"]) for r in raw)
    nbytes = sum(len(r["text"].encode("utf-8")) for r in raw)
    config = config_for([str(sample)], mode="released")
    stats = run_curate(config, {}, Store(tmp_path), make_options([]))  # no models: released needs none

    c4 = stats["sources"]["c4"]
    assert list(c4) == ["read", "released"]
    assert c4["read"]["documents"] == {"count": len(raw), "bytes": nbytes}
    assert c4["released"] == {"in": {"documents": 460, "bytes": nbytes}, "kept": {"documents": 460, "bytes": nbytes},
                              "dropped": {}}
    rows = [r for f in sorted((tmp_path / "curated" / "c4").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert sorted((r["url"], r["text"]) for r in rows) == texts  # byte-identical texts
    assert not [r for f in (tmp_path / "rejected" / "c4").glob("*.parquet") for r in pq.read_table(f).to_pylist()]


def test_released_stage_keeps_every_page_unchanged():
    pages = [c4("a", S1, "menu"), c4("b", "Lorem ipsum {"), c4("c", "")]  # what the rules would drop
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(pages) | Released()
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.text)), equal_to([(d.id, d.text) for d in pages]),
                    label="kept")
        assert_that(result.rejected, equal_to([]), label="rejected")
        n = sum(d.nbytes for d in pages)
        assert_that(result.stats, stats_equal([(("c4", "released", "in"), (3, n)),
                                               (("c4", "released", "kept"), (3, n))]), label="stats")


def test_stages_and_summary_follow_the_mode():
    assert C4_SOURCE.stages(C4Settings()) == ("released",)
    assert C4_SOURCE.stages(C4Settings(mode="rebuild")) == ("c4_rules_v1", "lid", "c4_dedup")
    entry = {"in": {"documents": 1, "bytes": 1}, "kept": {"documents": 1, "bytes": 1}, "dropped": {}}
    assert "c4.mode released" in C4_SOURCE.summary_lines("released", entry)[0]
    assert "c4.mode rebuild" in C4_SOURCE.summary_lines("c4_rules_v1", entry)[0]
    assert C4_SOURCE.summary_lines("lid", entry) == []


@pytest.mark.parametrize("overrides, message", [
    (["c4.mode=foo"], "c4.mode must be one of released, rebuild, got 'foo'"),
    (["inputs.c4=[c4/*.json.gz, crawl/CC-MAIN-1.warc.wet.gz]"],
     "c4.mode is released (C4 JSON as published), but inputs.c4 lists WET/WARC files ['crawl/CC-MAIN-1.warc.wet.gz']"
     "; set c4.mode: rebuild"),
    (["inputs.c4=[gs://b/crawl/*.warc.gz]", "c4.mode=released"], "set c4.mode: rebuild"),
])
def test_bad_modes_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from({}, overrides)


def test_rebuild_takes_wet_files():
    config = config_from({}, ["inputs.c4=[crawl/CC-MAIN-1.warc.wet.gz]", "c4.mode=rebuild"])
    assert config.c4.mode == "rebuild" and config.inputs.c4 == ("crawl/CC-MAIN-1.warc.wet.gz",)


def test_the_cli_refuses_wet_input_in_released_mode_before_any_work(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", "configs/sample.yaml",
                           "--output", str(out), "--set", "c4.mode=released", "--set", "inputs.c4=[x.warc.wet.gz]"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("config error")]
    assert len(errors) == 1 and "c4.mode" in errors[0] and "rebuild" in errors[0], proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_released_parser_refuses_a_crawl_file_a_glob_matched():
    with pytest.raises(ValueError, match="c4.mode is released"):
        C4Input(released=True)("data/c4/CC-MAIN-1.warc.wet.gz", io.BytesIO(b""))
