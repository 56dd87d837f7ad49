"""The page for what a stage may record, including stages and reasons the report has never heard of:
CommonCrawl's histograms with their cutoffs, a new stage's drop reason and histogram, sensitive
examples shown without their text; and the SVG charts on edge cases."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from pipeline.report import svg, write_report
from pipeline.report.signals import bin_index, bin_label
from pipeline.stages.perplexity import ppl_bin
from pipeline.store import Store
from pipeline.summary import assemble_stats
from tests.pipeline.report.page_tables import read_page, rows


def stat_rows():
    r = {
        ("cc", "read", "documents"): (100, 50_000), ("cc", "read", "files"): (2, 0),
        ("cc", "line_dedup", "in"): (100, 50_000), ("cc", "line_dedup", "kept"): (90, 40_000),
        ("cc", "line_dedup", "dropped:empty"): (10, 1_000), ("cc", "line_dedup", "lines_in"): (4_000, 50_000),
        ("cc", "line_dedup", "lines_removed"): (1_500, 9_000),
        ("cc", "lid", "in"): (90, 40_000), ("cc", "lid", "kept"): (60, 30_000), ("cc", "lid", "dropped:lang"): (30, 10_000),
        ("cc", "lid", "lang_before:en"): (60, 30_000), ("cc", "lid", "lang_before:fi"): (30, 10_000),
        ("cc", "lid", "lang_after:en"): (60, 30_000),
        ("cc", "perplexity", "in"): (60, 30_000), ("cc", "perplexity", "kept"): (40, 20_000),
        ("cc", "perplexity", "dropped:perplexity"): (20, 10_000), ("cc", "perplexity", "bucket:head"): (20, 1),
        ("cc", "perplexity", "bucket:middle"): (20, 1), ("cc", "perplexity", "bucket:tail"): (20, 1),
        ("cc", "perplexity", "ppl_bin:en:316"): (25, 1), ("cc", "perplexity", "ppl_bin:en:562"): (30, 1),
        ("cc", "perplexity", "ppl_bin:en:1778"): (5, 1), ("cc", "perplexity", "cutoff:en:head"): (515.8, 0),
        ("cc", "perplexity", "cutoff:en:tail"): (656.1, 0), ("cc", "perplexity", "ppl_percentile:en:p30"): (515.8, 0),
        ("cc", "perplexity", "percentile_sample:en"): (60, 0),
        ("cc", "wikiref", "in"): (40, 20_000), ("cc", "wikiref", "kept"): (30, 15_000),
        ("cc", "wikiref", "dropped:wikiref"): (10, 5_000), ("cc", "wikiref", "score_bin:0.1"): (10, 5_000),
        ("cc", "wikiref", "score_bin:0.6"): (30, 15_000), ("cc", "wikiref", "at_least:0.25"): (30, 15_000),
        ("cc", "wikiref", "at_least:0.5"): (30, 15_000),
        # stages this report was written before: a drop reason of its own, histograms of its own
        ("cc", "url_filter", "in"): (30, 15_000), ("cc", "url_filter", "kept"): (28, 14_000),
        ("cc", "url_filter", "dropped:url_blocklist"): (2, 1_000), ("cc", "url_filter", "blocked_domain:adult"): (2, 1_000),
        ("cc", "pii", "in"): (28, 14_000), ("cc", "pii", "kept"): (28, 14_000),
        ("cc", "pii", "pii_masked:email"): (3, 0), ("cc", "pii", "pii_masked:ip"): (1, 0),
        ("cc", "cross_dedup", "in"): (28, 14_000), ("cc", "cross_dedup", "kept"): (27, 13_000),
        ("cc", "cross_dedup", "dropped:duplicate_across_sources"): (1, 1_000),
        ("cc", "cross_dedup", "candidate_pairs"): (4, 0),
    }
    return list(r.items())


@pytest.fixture
def synthetic_out(tmp_path):
    out = tmp_path / "out"
    order = {"cc": ["read", "line_dedup", "lid", "perplexity", "wikiref", "url_filter", "pii", "cross_dedup"]}
    stats = assemble_stats(stat_rows(), order)
    examples = {"k": 3, "sources": {"cc": {
        "url_filter": {"url_blocklist": [{"id": "cc/1", "host": "bad.example", "bytes": 500, "sensitive": True}]},
        "lid": {"lang": [{"id": "cc/2", "url": "https://fi.example/a?b=<c>", "bytes": 300, "excerpt": "Hyvää <päivää>",
                          "fields": {"lang": "fi", "lang_score": 0.97}}]},
    }}}
    store = Store(out)
    store.write_json(".stages/pipeline-output.json", {"created_by": "python -m pipeline run ..."})
    store.write_json(".stages/curate.json", {"stage": "curate", "key": "k", "outputs": {
        "stats": "stats.json", "examples": "report/examples.json"}})
    store.write_json("stats.json", stats)
    store.write_json("report/examples.json", examples)
    store.write_json("run.json", {"config": {"cc": {"wikiref": {"threshold": 0.25},
                                                    "perplexity": {"keep": ["head", "middle"]}}},
                                  "code_version": "abc123", "libraries": {"python": "3.11"}, "models": {}})
    write_report(store)
    return out, stats


def test_histograms_and_cutoffs_from_the_stats(synthetic_out):
    out, stats = synthetic_out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "head &lt; 515.8" in html and "656.1 &lt;= tail" in html  # the cutoffs drawn on the histogram
    assert "threshold 0.25" in html  # the wikiref threshold from the config
    assert "buckets: head <b>20</b>, middle <b>20</b>, tail <b>20</b> · kept: head, middle" in html
    assert "1,500 of 4,000 removed (37.5%)" in html  # line dedup
    assert "2 languages predicted among the documents LID saw, 1 kept." in html


def test_stages_and_reasons_it_never_heard_of(synthetic_out):
    out, stats = synthetic_out
    html = (out / "report.html").read_text(encoding="utf-8")
    page = read_page(html)
    drops = rows(page, "drops-cc-cross_dedup", "data-reason")
    assert drops["duplicate_across_sources"]["docs"] == 1
    funnel = rows(page, "funnel-cc", "data-stage")
    assert list(funnel) == ["read", "line_dedup", "lid", "perplexity", "wikiref", "url_filter", "pii", "cross_dedup"]
    keys = {(a.get("data-metric"), a.get("data-key")) for _, a, _ in page.tagged if a.get("data-metric")}
    assert {("blocked_domain", "adult"), ("pii_masked", "email"), ("pii_masked", "ip"), ("candidate_pairs", None)} <= keys
    assert 'data-reason="duplicate_across_sources"' in html and "no example recorded" in html


def test_sensitive_examples_show_id_and_host_only_and_text_is_escaped(synthetic_out):
    out, _ = synthetic_out
    html = (out / "report.html").read_text(encoding="utf-8")
    sensitive = html[html.index('data-reason="url_blocklist"'):]
    sensitive = sensitive[:sensitive.index("</details>")]
    assert "bad.example" in sensitive and "text withheld" in sensitive and "<pre>" not in sensitive
    assert "Hyvää &lt;päivää&gt;" in html and "https://fi.example/a?b=&lt;c&gt;" in html


@pytest.mark.parametrize("ppl", [1.0, 3.7, 99.9, 100.0, 515.8, 1777.0, 56234.1])
def test_perplexity_bins_match_the_stage(ppl):
    label = ppl_bin(ppl)
    assert bin_label(bin_index(float(label))) == label
    assert 10 ** (bin_index(float(label)) / 4) <= ppl * (1 + 1e-9)


def test_charts_on_edge_cases_are_well_formed_svg():
    charts = [
        svg.bars([], [("x", "s0")], title="empty"),
        svg.bars([("a" * 80, [0, 0])], [("x", "s0"), ("y", "s1")], title="zeros & <long labels>"),
        svg.stacked([("only", [(0, "kept", "")], "")], title="zero"),
        svg.histogram([], title="no bins", x_title="x"),
        svg.histogram([("1", 5)], title="one", x_title="x", marks=[(-3, "left", "mark", "end"), (9, "r", "mark", "start")],
                      regions=[(-1, 0.5, "head", "region-head"), (0.5, 4, "tail", "region-tail")]),
        svg.lines([("train", [(1, 9.0)], "s0", False)], title="one point", x_title="step", y_title="loss"),
        svg.lines([("train", [(0, 2.0), (10, 2.0)], "s0", False)], title="flat", x_title="step", y_title="loss",
                  hlines=[(2.0, "ref", "ref")]),
    ]
    for chart in charts:
        root = ET.fromstring(chart)
        for element in root.iter():
            for value in element.attrib.values():
                assert "nan" not in value.lower() and "inf" not in value.lower(), chart
    assert svg.nice_ticks(0, 7) == [0, 2, 4, 6, 8] and svg.nice_ticks(6.1, 9.0)[0] <= 6.1
    assert all(math.isfinite(t) for t in svg.nice_ticks(5, 5))
