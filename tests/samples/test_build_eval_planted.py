"""The eval sets and planted cases of samples/build_eval_planted.py: well-formed, and each planted page
holds exactly the contamination its MANIFEST.json entry promises."""
import gzip
import json

import pytest

from filters.decontamination import EvalIndex
from pipeline.stages.decontamination import read_eval_set
from samples.build_eval_planted import build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    return out / "planted-eval", build(out)


def test_the_eval_sets_parse_in_both_formats(built):
    root, manifest = built
    for name, entry in manifest["eval_sets"].items():
        examples = list(read_eval_set((name, [str(root / entry["file"])]), "text"))
        assert len(examples) == entry["examples"] > 20
        assert [e.index for e in examples] == list(range(len(examples)))
    assert root.joinpath("eval/jc_speakers.jsonl").read_text().startswith('{"text": "Which character')


def test_each_planted_page_holds_the_contamination_it_promises(built):
    root, manifest = built
    examples = [e for name, entry in sorted(manifest["eval_sets"].items())
                for e in read_eval_set((name, [str(root / entry["file"])]), "text")]
    index = EvalIndex.build(examples)
    with gzip.open(root / "c4" / "c4-planted.json.gz", "rt", encoding="utf-8") as f:
        pages = [json.loads(line) for line in f]
    for case in manifest["planted"]:
        text = pages[case["record"]]["text"] if case["source"] == "c4" else (root / case["file"]).read_text()
        refs = {ref for h, _ in index.find(text) for ref in index.refs(h)}
        if "contaminated_by" in case:
            assert refs == {(case["contaminated_by"]["eval_set"], case["contaminated_by"]["index"])}, case
        elif "contaminated_examples" in case:
            assert len(refs) == case["contaminated_examples"]
        else:
            assert refs == set(), case  # the blocked page and the control page quote nothing


def test_a_second_build_is_a_no_op(built):
    root, manifest = built
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert build(root.parent) == manifest
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
