"""The whole job on the bundled real sample, through the real CLIs: raw files of all
seven sources -> models -> curated Parquet -> tokenizer -> shards -> a trained tiny model."""
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.slow


def _cc_net_documents(paths):
    """The sample's WET pages as cc_net reads them (min_len 300): cc_net's reading, written
    independently of pipeline.readers (tests/cc_net_reference.py)."""
    import gzip

    from tests import cc_net_reference as ref

    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield from ref.read_wet(f, min_len=300)


def _table(path: Path):
    files = sorted(path.glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    if not (SAMPLE / "MANIFEST.json").exists():
        pytest.fail("data/sample is missing: `make test` builds it (make sample)")
    out = tmp_path_factory.mktemp("e2e") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", "configs/sample.yaml", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc.stdout


@pytest.fixture(scope="module")
def trained(demo_out):
    out, _ = demo_out
    run = out.parent / "train"
    proc = subprocess.run(
        [sys.executable, "-m", "training_entry", "train", "--data", str(out / "shards"), "--preset", "tiny",
         "--steps", "200", "--eval-every", "100", "--ckpt-every", "100", "--out", str(run)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return run, proc.stdout + proc.stderr


def test_outputs_follow_the_design_layout(demo_out):
    out, _ = demo_out
    sources = ["cc", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange"]
    for path in ["models/cards.json", "stats.json", "run.json", "tokenizer/tokenizer.model",
                 "tokenizer/tokenizer.vocab", "tokenizer/tokenizer.json", "shards/manifest.json",
                 *[f"curated/{s}" for s in sources], *[f"rejected/{s}" for s in sources]]:
        assert (out / path).exists(), path
    for source in sources:
        assert _table(out / "curated" / source), f"nothing curated for {source}"
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["inputs"]["cc"] == ["data/sample/cc/*.warc.wet.gz"]
    assert set(run["stages"]) == {"models", "curate", "tokenizer", "shards"}
    assert len(run["models"]["lid"]["sha256"]) == 64
    assert set(run["models"]["perplexity"]) == {"en"} and run["models"]["wikiref"]["heldout"]
    assert sorted(p.name for p in (out / "shards").glob("*.bin"))[0] == "train-00000.bin"
    assert not list(out.glob(".tmp-*")), "staging directories left behind"


def test_outputs_equal_the_golden_digest(demo_out):
    """Refactors must not change what the demo writes (tools/output_digest.py; `make golden`).

    A change meant to alter outputs updates tests/golden/sample.json in the same commit:
    `python tools/output_digest.py OUT --write tests/golden/sample.json`."""
    from tools.output_digest import differences, digest

    out, _ = demo_out
    expected = json.loads((ROOT / "tests" / "golden" / "sample.json").read_text())
    assert differences(expected, digest(out)) == []


def test_every_stage_balances_and_the_summary_reports_it(demo_out):
    out, stdout = demo_out
    stats = json.loads((out / "stats.json").read_text())
    cc = stats["sources"]["cc"]
    previous_kept = cc["read"]["documents"]["count"]
    for stage in ["min_length", "line_dedup", "lid"]:  # cc.line_dedup.mode cc_net: no exact_dedup
        assert "exact_dedup" not in cc
        entry = cc[stage]
        dropped = sum(d["documents"] for d in entry["dropped"].values())
        assert entry["in"]["documents"] == entry["kept"]["documents"] + dropped
        assert entry["in"]["documents"] == previous_kept, f"{stage} did not receive what the previous stage kept"
        previous_kept = entry["kept"]["documents"]
    assert cc["min_length"]["dropped"]["too_short"]["documents"] > 0
    assert cc["line_dedup"]["dropped"]["empty"]["documents"] > 0  # the planted duplicate pages, both copies
    assert cc["line_dedup"]["mode"] == {"cc_net": 1} and cc["perplexity"]["scoring"] == {"cc_net": 1}
    assert cc["lid"]["dropped"]["lang"]["documents"] >= 20
    assert len(cc["lid"]["lang_before"]) >= 20 and set(cc["lid"]["lang_after"]) == {"en"}
    assert cc["line_dedup"]["lines_removed"]["count"] > 0
    # The quality stages follow LID, and drop documents on the sample.
    assert cc["perplexity"]["in"]["documents"] == cc["lid"]["kept"]["documents"]
    assert cc["wikiref"]["in"]["documents"] == cc["perplexity"]["kept"]["documents"]
    assert cc["perplexity"]["dropped"]["perplexity"]["documents"] > 0
    assert cc["wikiref"]["dropped"]["wikiref"]["documents"] > 0
    # Every stage of every source balances, and each later stage receives what the one before kept.
    for source, stages in stats["sources"].items():
        counted = [e for e in stages.values() if "in" in e]
        assert counted, source
        for entry in counted:
            dropped = sum(d["documents"] for d in entry["dropped"].values())
            assert entry["in"]["documents"] == entry["kept"]["documents"] + dropped, source
        curated = _table(out / "curated" / source)
        assert len(curated) == counted[-1]["kept"]["documents"], source
    for needle in ["== cc ==", "== c4 ==", "== github ==", "== wikipedia ==", "== books ==", "== arxiv ==",
                   "== stackexchange ==", "lines removed", "lang before LID", "dropped lang", "wikiref: fastText",
                   "bytes/token", "LLaMA", "epochs", "mode cc_net: cc_net's deduplicate_two_pass",
                   "scoring cc_net: cc_net's SentencePiece.do"]:
        assert needle in stdout, needle


def test_planted_lines_and_languages_on_the_real_sample(demo_out):
    from tests import cc_net_reference as ref

    out, _ = demo_out
    # cc_net's rule: a line whose hash is in two or more documents as read goes everywhere.
    docs_with_line = defaultdict(set)
    for i, doc in enumerate(_cc_net_documents(sorted((SAMPLE / "cc").glob("*.warc.wet.gz")))):
        for line in doc["raw_content"].split("\n"):
            docs_with_line[ref.line_hash(line)].add(i)
    curated = _table(out / "curated" / "cc")
    assert curated and all(row["lang"] == "en" for row in curated)
    kept_lines = {ref.line_hash(line) for row in curated for line in row["text"].split("\n")}
    repeated = {h for h, docs in docs_with_line.items() if len(docs) >= 2}
    # No line seen in two or more input documents survives anywhere (blank lines included).
    assert not (kept_lines & repeated)
    # Lines seen in one document only survive in the kept documents (none was removed).
    singles_in_kept = sum(1 for row in curated for line in row["text"].split("\n")
                          if len(docs_with_line[ref.line_hash(line)]) == 1)
    assert singles_in_kept > 1000
    assert all(json.loads(row["meta"])["title"] for row in curated)  # the WET title, kept apart from the text
    rejected = _table(out / "rejected" / "cc")
    by_reason = defaultdict(list)
    for row in rejected:
        by_reason[(row["stage"], row["reason"])].append(row)
    assert all(row["lang"] != "en" for row in by_reason[("lid", "lang")])
    assert len({row["lang"] for row in by_reason[("lid", "lang")]}) >= 19
    assert by_reason[("line_dedup", "empty")] and by_reason[("min_length", "too_short")]
    assert not by_reason[("exact_dedup", "duplicate_document")]


def test_a_rerun_with_the_same_config_skips_finished_stages(demo_out):
    out, _ = demo_out
    before = (out / "stats.json").stat().st_mtime_ns
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", "configs/sample.yaml", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "already finished with this config" in proc.stderr
    assert (out / "stats.json").stat().st_mtime_ns == before
    # The rerun still shows each stage's summary, rebuilt from what the stages wrote.
    for needle in ["wikiref: fastText", "== cc ==", "dropped lang", "bytes/token", "LLaMA"]:
        assert needle in proc.stdout, needle


def test_the_shards_hold_every_source_and_train_a_model_below_the_unigram_entropy(demo_out, trained):
    out, _ = demo_out
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    tokens = {source: row["tokens"] for source, row in manifest["mixture"]["sources"].items()}
    assert set(tokens) == {"cc", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange"}
    assert all(n > 0 for n in tokens.values())
    run, log = trained
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_val_loss"] < summary["val_unigram_entropy"], summary
    assert "final validation loss" in log
    proc = subprocess.run(
        [sys.executable, "-m", "training_entry", "generate", "--checkpoint", str(run), "--prompt", "The",
         "--max-new-tokens", "8", "--mode", "greedy"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[greedy] The" in proc.stdout


def test_the_run_report_shows_the_run_and_the_training(demo_out, trained):
    """`pipeline run` wrote OUT/report.html; `pipeline report --train` adds the training; the CommonCrawl
    cutoffs and threshold drawn are the stats' (the page's numbers in full: tests/pipeline/report)."""
    out, printed = demo_out
    assert f"report: {out / 'report.html'}" in printed
    run, _ = trained
    proc = subprocess.run(
        [sys.executable, "-m", "training_entry", "generate", "--checkpoint", str(run), "--prompt", "The",
         "--max-new-tokens", "8", "--mode", "greedy", "--save", str(run / "generations.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "pipeline", "report", "--output", str(out), "--train", str(run),
                           "--screenshot"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    stats = json.loads((out / "stats.json").read_text())
    cutoffs = stats["sources"]["cc"]["perplexity"]["cutoff"]
    assert f"head &lt; {cutoffs['en:head']:g}" in html and f"{cutoffs['en:tail']:g} &lt;= tail" in html
    assert "threshold 0.25" in html and 'id="signals-cc"' in html
    summary = json.loads((run / "summary.json").read_text())
    assert f'data-k="final_val_loss" data-v="{summary["final_val_loss"]}"' in html
    assert "[greedy]" in html and "unigram entropy" in html
    from pipeline.report import browser

    if browser.unavailable():
        assert "screenshot skipped" in proc.stdout
    else:
        assert "0 console errors, 0 network requests" in proc.stdout
        assert browser.blank_share(out / "report.png") < 0.9
