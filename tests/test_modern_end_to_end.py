"""The stages beyond LLaMA-1 on the bundled sample, through the real CLI with configs/sample-modern.yaml:
every planted case of samples/build_eval_planted.py (its MANIFEST.json says what must happen) is found,
the real pages the demo blocklist names are blocked, and real addresses in the sample are masked."""
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"

pytestmark = pytest.mark.slow


def _rows(folder: Path) -> list[dict]:
    return [row for f in sorted(folder.glob("*.parquet")) for row in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def modern_out(tmp_path_factory):
    from samples.build_eval_planted import build

    manifest = build(SAMPLE)
    out = tmp_path_factory.mktemp("modern") / "out"
    for stage in ("models", "curate"):
        proc = subprocess.run([sys.executable, "-m", "pipeline", stage, "--config", "configs/sample-modern.yaml",
                               "--output", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return out, manifest, proc.stdout


def test_every_planted_case_is_found(modern_out):
    out, manifest, _ = modern_out
    for case in manifest["planted"]:
        source = case["source"]
        rejected, kept = _rows(out / "rejected" / source), _rows(out / "curated" / source)
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
    eng = [r for r in _rows(out / "rejected" / "cc") + _rows(out / "curated" / "cc")
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
    text = "\n".join(r["text"] for r in _rows(out / "curated" / "c4"))
    assert "docs@python.org" not in text and "|||EMAIL_ADDRESS|||" in text
    assert "masked: " in summary
