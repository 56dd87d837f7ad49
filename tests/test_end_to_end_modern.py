"""The modern stages end to end on the bundled sample (configs/sample-modern.yaml, what `make demo`
runs), through the real CLI: every case planted by samples/build_planted.py (near-dedup, cross-source)
and samples/build_eval_planted.py (URL blocklist, decontamination; its MANIFEST.json says what must
happen) is found with its reason, real addresses in the sample are masked, and the outputs are the
same with two worker processes."""
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLANTED = ROOT / "data" / "sample" / "planted" / "MANIFEST.json"
CONFIG = "configs/sample-modern.yaml"
TWO_WORKERS = ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]

pytestmark = pytest.mark.slow


def curate(out: Path, *beam_args: str) -> str:
    for stage in ("models", "curate"):
        proc = subprocess.run([sys.executable, "-m", "pipeline", stage, "--config", CONFIG, "--output", str(out),
                               *beam_args], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@pytest.fixture(scope="module")
def modern(tmp_path_factory):
    if not PLANTED.exists():
        pytest.fail("data/sample/planted is missing: `make sample` builds it (samples/build_planted.py)")
    out = tmp_path_factory.mktemp("modern") / "out"
    return out, curate(out), json.loads(PLANTED.read_text())["cases"]


@pytest.fixture(scope="module")
def modern_out(modern):
    from samples.build_eval_planted import build

    out, summary, _ = modern
    return out, build(ROOT / "data" / "sample"), summary


def rows(out: Path, kind: str, source: str) -> dict[str, dict]:
    return {r["id"]: r for f in sorted((out / kind / source).glob("*.parquet")) for r in pq.read_table(f).to_pylist()}


def verdicts(out: Path, source: str, stage: str) -> dict[str, tuple[str, str]]:
    """id -> (reason, duplicate_of) of the documents `stage` dropped."""
    return {i: (r["reason"], json.loads(r["meta"]).get("duplicate_of"))
            for i, r in rows(out, "rejected", source).items() if r["stage"] == stage}


def test_the_planted_near_duplicates_are_grouped_by_connected_components(modern):
    out, summary, cases = modern
    dropped = verdicts(out, "cc", "near_dedup")
    kept, copy = sorted(cases["pair_over"]["ids"])
    assert dropped.get(copy) == ("near_duplicate", kept) and kept not in dropped
    assert not set(cases["pair_under"]["ids"]) & set(dropped)  # under the threshold: both stay
    a, b, c = cases["chain"]["ids"]
    assert b > max(a, c)  # so Books' pairwise rule would keep both ends
    smallest = min(a, c)
    assert {i: dropped.get(i) for i in (a, b, c) if i != smallest} == {
        i: ("near_duplicate", smallest) for i in (a, b, c) if i != smallest}
    assert smallest not in dropped
    entry = json.loads((out / "stats.json").read_text())["sources"]["cc"]["near_dedup"]
    assert entry["cluster_sizes"] == {"2": 1, "3": 1} and entry["dropped"]["near_duplicate"]["documents"] == 3
    assert len(entry["label_changes"]) == 2 and "unconverged_documents" not in entry
    assert "2 near-duplicate clusters (5 documents; clusters of n: 1 of 2, 1 of 3)" in summary
    assert "labels settled after 2 of at most 10 rounds" in summary


def test_the_planted_cross_source_copies_go_from_the_lower_source(modern):
    out, summary, cases = modern
    dropped = verdicts(out, "cc", "cross_source")
    mirror, both = cases["wikipedia_mirror"], cases["c4_and_cc"]
    assert dropped[mirror["id"]] == ("in_other_source", mirror["duplicate_of"])
    assert dropped[both["cc_id"]] == ("in_other_source", both["c4_id"])
    assert both["c4_id"] in rows(out, "curated", "c4")  # the higher source keeps its copy
    assert mirror["duplicate_of"] in rows(out, "curated", "wikipedia")
    by = json.loads((out / "stats.json").read_text())["sources"]["cc"]["cross_source"]["duplicate_of"]
    assert by["wikipedia"] == 1 and by["c4"] >= 1
    assert "in_other_source, by the source that keeps the text: c4" in summary


def _parquet_rows(folder: Path) -> list[dict]:
    return [row for f in sorted(folder.glob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def test_every_planted_case_is_found(modern_out):
    out, manifest, _ = modern_out
    for case in manifest["planted"]:
        source = case["source"]
        rejected, kept = _parquet_rows(out / "rejected" / source), _parquet_rows(out / "curated" / source)
        if source == "c4":
            mine = [r for r in rejected + kept if r["url"] == case["url"]]
        else:
            mine = [r for r in rejected + kept if json.loads(r["meta"]).get("file") == case["file"].rsplit("/", 1)[1]]
        assert len(mine) == 1, case
        row, meta = mine[0], json.loads(mine[0]["meta"])
        if case["outcome"] == "kept":
            assert row in kept and "contaminated_by" not in meta, case
            continue
        assert (row.get("stage"), row.get("reason")) == (case["stage"], case["reason"]), case
        if "blocked_by" in case:
            assert meta["blocked_by"] == case["blocked_by"]
        if "contaminated_by" in case:
            assert case["contaminated_by"] in meta["contaminated_by"], (case, meta)
        if "contaminated_examples" in case:
            assert meta["contaminated_examples"] == case["contaminated_examples"]


def test_the_demo_blocklist_blocks_the_real_pages_it_names_before_dedup(modern_out):
    out, _, summary = modern_out
    stats = json.loads((out / "stats.json").read_text())["sources"]
    assert list(stats["cc"])[:3] == ["read", "url_filter", "min_length"]
    assert stats["cc"]["url_filter"]["blocked_domain"] == {"ohchr.org": 6, "example.com": 4}
    assert "top blocked domains: ohchr.org 6, example.com 4" in summary
    # The OHCHR pages were byte-identical copies of unicode.org pages: blocked first, they no
    # longer take the originals' lines with them in cc_net's line dedup.
    eng = [r for r in _parquet_rows(out / "rejected" / "cc") + _parquet_rows(out / "curated" / "cc")
           if r["url"] == "https://unicode.org/udhr/d/udhr_eng.html"]
    assert eng and (eng[0].get("stage"), eng[0].get("reason")) != ("line_dedup", "empty")


def test_real_addresses_are_masked_and_counted(modern_out):
    out, _, summary = modern_out
    stats = json.loads((out / "stats.json").read_text())["sources"]
    assert stats["c4"]["pii"]["pii_masked"]["email_address"] >= 1  # docs@python.org and others
    assert stats["github"]["pii"]["pii_masked"]["ip_address"] >= 1
    for source, stages in stats.items():
        assert list(stages)[-2:] == ["decontamination", "pii"], source
        assert stages["pii"]["in"]["documents"] == stages["pii"]["kept"]["documents"]
    text = "\n".join(r["text"] for r in _parquet_rows(out / "curated" / "c4"))
    assert "docs@python.org" not in text and "|||EMAIL_ADDRESS|||" in text
    assert "masked: " in summary


def documents_and_stats(out: Path) -> dict:
    """Every curated and rejected row (id, text, meta, stage, reason) sorted, and stats.json without timings."""
    stats = json.loads((out / "stats.json").read_text())
    stats.pop("seconds", None)
    tables = {f"{kind}/{folder.name}": sorted(json.dumps([r["id"], r["text"], r["meta"], r.get("stage"), r.get("reason")])
                                              for r in rows(out, kind, folder.name).values())
              for kind in ("curated", "rejected") for folder in sorted((out / kind).iterdir())}
    return {"stats": stats, **tables}


def test_two_worker_processes_write_the_same_documents_and_stats(modern, tmp_path):
    out, _, _ = modern
    two = tmp_path / "two"
    curate(two, *TWO_WORKERS)
    assert documents_and_stats(out) == documents_and_stats(two)
