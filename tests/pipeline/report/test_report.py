"""The run report: its numbers are the stats', the manifest's and the tokenizer card's, read back from
the HTML; it renders with sources missing, stages unfinished or no train run; it is self-contained;
it reads only small files, never curated/ or rejected/."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from filters.document import id_hash
from pipeline import cli
from pipeline.report import write_report
from pipeline.report.examples import K, PURPOSE, excerpt
from pipeline.store import Store
from tests.pipeline.report.page_tables import read_page, rows

ROOT = Path(__file__).resolve().parents[3]


def report(out: Path, *args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = cli.main(["report", "--output", str(out), *args])
    return rc, stdout.getvalue(), stderr.getvalue()


def page_of(out: Path):
    return read_page((out / "report.html").read_text(encoding="utf-8"))


def test_run_writes_the_report_and_prints_its_path(tiny_run):
    out, printed = tiny_run
    assert f"report: {out / 'report.html'}" in printed
    record = json.loads((out / ".stages" / "curate.json").read_text())
    assert record["outputs"]["examples"] == "report/examples.json" and (out / "report" / "examples.json").is_file()


def test_funnels_equal_stats_json(tiny_run):
    out, _ = tiny_run
    stats = json.loads((out / "stats.json").read_text())
    page = page_of(out)
    assert set(stats["sources"]) == {"c4", "wikipedia", "books", "arxiv"}
    overview = rows(page, "overview", "data-source")
    assert set(overview) == {*stats["sources"], "all"}
    for source, stages in stats["sources"].items():
        table = rows(page, f"funnel-{source}", "data-stage")
        assert table["read"]["docs_in"] == stages["read"]["documents"]["count"]
        assert table["read"]["bytes_in"] == stages["read"]["documents"]["bytes"]
        counted = [s for s, e in stages.items() if "in" in e]
        assert [s for s in table if s != "read"] == counted  # in run order
        for stage in counted:
            entry = stages[stage]
            assert table[stage]["docs_in"] == entry["in"]["documents"]
            assert table[stage]["docs_kept"] == entry["kept"]["documents"]
            assert table[stage]["docs_dropped"] == sum(d["documents"] for d in entry["dropped"].values())
            assert table[stage]["bytes_in"] == entry["in"]["bytes"]
            assert table[stage]["bytes_kept"] == entry["kept"]["bytes"]
        last = stages[counted[-1]]["kept"]
        assert overview[source]["curated_docs"] == last["documents"] and overview[source]["curated_bytes"] == last["bytes"]
        assert overview[source]["read_docs"] == stages["read"]["documents"]["count"]
    assert overview["all"]["read_docs"] == sum(s["read"]["documents"]["count"] for s in stats["sources"].values())


def test_drop_reasons_equal_stats_and_examples_are_the_smallest_id_hashes(tiny_run):
    out, _ = tiny_run
    stats = json.loads((out / "stats.json").read_text())
    html = (out / "report.html").read_text(encoding="utf-8")
    page = read_page(html)
    examples = json.loads((out / "report" / "examples.json").read_text())
    rejected = defaultdict(list)
    for path in (out / "rejected").rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            rejected[(row["source"], row["stage"], row["reason"])].append(row)
    reasons = 0
    for source, stages in stats["sources"].items():
        for stage, entry in stages.items():
            if not entry.get("dropped"):
                continue
            table = rows(page, f"drops-{source}-{stage}", "data-reason")
            assert set(table) == set(entry["dropped"])
            for reason, cell in entry["dropped"].items():
                reasons += 1
                assert (table[reason]["docs"], table[reason]["bytes"]) == (cell["documents"], cell["bytes"])
                docs = sorted(rejected[(source, stage, reason)], key=lambda r: (id_hash(r["id"], PURPOSE), r["id"]))
                assert len(docs) == cell["documents"]
                chosen = examples["sources"][source][stage][reason]
                assert [e["id"] for e in chosen] == [r["id"] for r in docs[:K]]
                for ex, row in zip(chosen, docs):
                    assert ex.get("excerpt", "") == excerpt(row["text"]) or ex.get("sensitive")
                    assert f'<code class="id">{ex["id"]}</code>' in html
    assert reasons >= 5


def test_mixture_tokenizer_and_shards_equal_the_manifest_and_card(tiny_run):
    out, _ = tiny_run
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    card = json.loads((out / "tokenizer" / "tokenizer.json").read_text())
    page = page_of(out)
    mixture = rows(page, "mixture", "data-source")
    for source, row in manifest["mixture"]["sources"].items():
        got = mixture[source]
        assert (got["documents"], got["tokens"]) == (row["documents"], row["tokens"])
        assert got["achieved"] == pytest.approx(row["achieved_proportion"])
        assert got["requested"] == pytest.approx(row["requested_proportion"])
        assert got["llama"] == pytest.approx(row["llama_proportion"])
        assert got["achieved_epochs"] == pytest.approx(row["achieved_epochs"])
    assert mixture["all"]["tokens"] == manifest["mixture"]["achieved_tokens"]
    shards = rows(page, "shards", "data-file")
    listed = {e["file"]: e for split in manifest["shards"].values() for e in split}
    assert set(shards) == set(listed)
    for name, entry in listed.items():
        assert shards[name]["tokens"] == entry["tokens"]
        assert shards[name]["bytes"] == (out / "shards" / name).stat().st_size
    tok = rows(page, "tokenizer", "data-source")
    for source, held in card["held_out"].items():
        assert tok[source]["bytes"] == held["bytes"]
        assert tok[source]["bytes_per_token"] == (None if held["bytes_per_token"] is None
                                                  else pytest.approx(held["bytes_per_token"], abs=1e-6))


def test_without_a_train_run_there_is_no_training_section_and_with_one_there_is(tiny_run, fake_train_run, tmp_path):
    out, _ = tiny_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="training"' not in html and 'id="mixture"' in html
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rc, printed, _ = report(copy, "--train", str(fake_train_run))
    assert rc == 0 and f"report: {copy / 'report.html'}" in printed
    html = (copy / "report.html").read_text(encoding="utf-8")
    page = read_page(html)
    assert 'id="training"' in html
    final = [a for tag, a, _ in page.tagged if a.get("data-k") == "final_val_loss"]
    assert final and float(final[0]["data-v"]) == 6.5
    assert "The &lt;river&gt;</b> flows &amp; bends" in html  # generated lines, escaped
    assert "1,151 (median over steps)" in html  # tokens/s of steps 2..300: 1002..1300
    assert "the train run" not in html  # no shard check without verified_shards.json


def test_the_report_command_refuses_what_is_not_a_run(tmp_path, tiny_run):
    rc, _, err = report(tmp_path / "nothing")
    assert rc == 2 and "holds no pipeline run" in err
    out, _ = tiny_run
    rc, _, err = report(out, "--train", str(tmp_path))
    assert rc == 2 and "not a train run directory" in err


def test_unfinished_stages_and_missing_sources_still_render(tiny_run, tmp_path):
    out, _ = tiny_run
    partial = tmp_path / "partial"
    shutil.copytree(out, partial)
    for stage in ("curate", "tokenizer", "shards"):
        (partial / ".stages" / f"{stage}.json").unlink()
    assert report(partial)[0] == 0
    html = (partial / "report.html").read_text(encoding="utf-8")
    assert "not finished in this OUT: curate, tokenizer, shards" in html
    assert "The curate stage has not finished" in html and 'id="mixture"' not in html and 'id="provenance"' in html


def test_the_page_is_self_contained(tiny_run):
    out, _ = tiny_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "<img" not in html and "@import" not in html
    assert all(target.startswith("#") for target in re.findall(r'(?:src|href)="([^"]*)"', html))
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 8
    for chart in svgs:
        ET.fromstring(chart)  # well-formed


def test_the_report_reads_only_small_files_and_takes_well_under_a_second(tiny_run, monkeypatch):
    out, _ = tiny_run
    seen = []
    for method in ("read_bytes", "list", "sizes", "open_read", "download", "is_file", "exists"):
        original = getattr(Store, method)

        def spy(self, rel="", *a, _original=original, **k):
            seen.append(rel)
            return _original(self, rel, *a, **k)

        monkeypatch.setattr(Store, method, spy)
    start = time.perf_counter()
    write_report(Store(out))
    elapsed = time.perf_counter() - start
    assert not [rel for rel in seen if rel.startswith(("curated", "rejected", "shards/train", "shards/val"))]
    assert elapsed < 1.0, elapsed


def test_the_report_of_an_out_on_s3(s3, tiny_run):
    out, _ = tiny_run
    script = ("import sys; from apache_beam.io.filesystems import FileSystems; "
              "from apache_beam.options.pipeline_options import PipelineOptions; "
              "FileSystems.set_options(PipelineOptions(sys.argv[3:])); from pipeline.store import Store; "
              "s = Store(sys.argv[1]); [s.upload_tree(sys.argv[2] + '/' + d, d) for d in "
              "('.stages', 'report', 'models', 'tokenizer', 'shards')]; s.upload(sys.argv[2] + '/stats.json', 'stats.json');"
              "s.upload(sys.argv[2] + '/run.json', 'run.json')")
    uri = "s3://bucket/report-run"
    subprocess.run([sys.executable, "-c", script, uri, str(out), *s3], cwd=ROOT, check=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "pipeline", "report", "--output", uri, *s3], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"report: {uri}/report.html" in done.stdout
    fetch = ("import sys; from apache_beam.io.filesystems import FileSystems; "
             "from apache_beam.options.pipeline_options import PipelineOptions; "
             "FileSystems.set_options(PipelineOptions(sys.argv[2:])); from pipeline.store import Store; "
             "sys.stdout.write(Store(sys.argv[1]).read_text('report.html'))")
    html = subprocess.run([sys.executable, "-c", fetch, uri, *s3], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=300).stdout
    local = page_of(out)
    remote = read_page(html)
    assert rows(remote, "overview", "data-source") == rows(local, "overview", "data-source")
    assert rows(remote, "mixture", "data-source") == rows(local, "mixture", "data-source")
