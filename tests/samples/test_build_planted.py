"""The planted cases: built from the sample's own text into files of their own, readable by the
pipeline's readers (and warcio), with every measured pair on the side of the threshold it was
planted on and the ids the readers will give the documents."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.readers.jsonl import parse_c4_json
from pipeline.readers.warc import make_parser

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from samples.build_planted import build

    if not (SAMPLE / "books" / "areopagitica.txt").exists():
        pytest.fail("data/sample is missing: `make sample` builds it")
    out = tmp_path_factory.mktemp("sample")
    for name in ("books", "wikipedia"):  # what the builder reads, from the real sample
        (out / name).symlink_to(SAMPLE / name)
    return out, build(out)


def test_the_files_are_real_wet_and_c4_json_with_the_ids_the_manifest_names(planted):
    out, manifest = planted
    wet = out / "planted" / "cc" / "planted-00000.warc.wet.gz"
    with open(wet, "rb") as f:
        docs = [d for d in make_parser(source="cc", cc_net=True)(str(wet), f) if hasattr(d, "text")]
    cases = manifest["cases"]
    ids = [*cases["pair_over"]["ids"], *cases["pair_under"]["ids"], *cases["chain"]["ids"],
           cases["wikipedia_mirror"]["id"], cases["c4_and_cc"]["cc_id"]]
    assert [d.id for d in docs] == ids
    assert all(len(d.text) >= 300 for d in docs)  # none falls to cc_net's min_len
    lines = [line for d in docs[:6] for line in d.text.split("\n")]
    assert len(lines) == len(set(lines))  # every line of a copy differs: line dedup leaves them whole
    c4 = out / "planted" / "c4" / "c4-planted.00000-of-00001.json.gz"
    with open(c4, "rb") as f:
        [page] = list(parse_c4_json(str(c4), f))
    assert page.id == cases["c4_and_cc"]["c4_id"] and page.text == docs[-1].text
    from warcio.archiveiterator import ArchiveIterator

    with open(wet, "rb") as f:
        kinds = [r.rec_type for r in ArchiveIterator(f)]
    assert kinds == ["warcinfo"] + ["conversion"] * 9
    assert gzip.decompress(c4.read_bytes()).count(b"\n") == 1


def test_each_case_is_on_its_side_of_the_threshold(planted):
    _, manifest = planted
    cases, t = manifest["cases"], manifest["threshold"]
    assert min(cases["pair_over"]["jaccard"], cases["pair_over"]["minhash"]) >= t
    assert max(cases["pair_under"]["jaccard"], cases["pair_under"]["minhash"]) < t
    chain = cases["chain"]["pairs"]
    assert min(chain["a~b"].values()) >= t and min(chain["b~c"].values()) >= t and max(chain["a~c"].values()) < t
    a, b, c = cases["chain"]["ids"]
    assert b > max(a, c)
    assert cases["wikipedia_mirror"]["minhash"] >= t and cases["c4_and_cc"]["minhash"] >= t
    assert max(cases["c4_and_cc"]["vs_article"].values()) < t


def test_a_second_build_is_a_no_op_and_identical(planted):
    from samples.build_planted import build

    out, manifest = planted
    files = {p: p.read_bytes() for p in (out / "planted").rglob("*") if p.is_file()}
    assert build(out) == manifest
    assert json.loads((out / "planted" / "MANIFEST.json").read_text()) == manifest
    rebuilt = build(out, force=True)
    assert rebuilt == manifest
    assert {p: p.read_bytes() for p in (out / "planted").rglob("*") if p.is_file()} == files
