"""Document near-dedup by connected components (CommonCrawl, C4) on Beam: the chain rule against
Books' pairwise rule, min-label propagation (rounds, unconverged components), and properties of
the grouping checked against a union-find on random graphs."""
from __future__ import annotations

import json
import random
import tempfile

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filters.document import Document
from filters.minhash import MinHasher, estimated_jaccard, word_shingles
from pipeline.stages.components import MinLabelComponents
from pipeline.stages.near_dedup import (
    DocumentNearDedup,
    NearDedup,
    NearDedupSettings,
    summary_lines,
)
from pipeline.summary import assemble_stats
from tests.pipeline.beam_checks import check_balanced


def words(start: int, n: int) -> list[str]:
    """n distinct words spelled in letters (shingling maps every digit to 0)."""
    def word(i: int) -> str:
        letters = ""
        while True:
            i, r = divmod(i, 26)
            letters += chr(ord("a") + r)
            if i == 0:
                return "w" + letters
    return [word(i) for i in range(start, start + n)]


def exact_jaccard(a: str, b: str) -> float:
    x, y = word_shingles(a), word_shingles(b)
    return len(x & y) / len(x | y)


def replaced(text: list[str], start: int, n: int, fresh: int) -> list[str]:
    return text[:start] + words(fresh, n) + text[start + n:]


SETTINGS = NearDedupSettings(enabled=True)  # the defaults: threshold 0.8, 20 bands x 6 rows


@pytest.fixture(scope="module")
def chain() -> dict[str, str]:
    """a ~ b ~ c with a and c apart; the middle one has the largest id, so the pairwise rule keeps a and c."""
    a = words(0, 400)
    b = replaced(a, 0, 30, 10_000)
    c = replaced(b, 370, 30, 20_000)
    docs = {"cc/1-a": " ".join(a), "cc/9-b": " ".join(b), "cc/5-c": " ".join(c)}
    hasher = MinHasher(SETTINGS.num_perm, SETTINGS.seed, SETTINGS.shingle_size)
    sig = {k: hasher.signature(t) for k, t in docs.items()}
    # The planted truth, exact and as estimated: two links over the threshold, the ends under it.
    assert exact_jaccard(docs["cc/1-a"], docs["cc/9-b"]) > 0.83 and exact_jaccard(docs["cc/9-b"], docs["cc/5-c"]) > 0.83
    assert exact_jaccard(docs["cc/1-a"], docs["cc/5-c"]) < 0.75
    assert estimated_jaccard(sig["cc/1-a"], sig["cc/9-b"]) >= 0.8 and estimated_jaccard(sig["cc/9-b"], sig["cc/5-c"]) >= 0.8
    assert estimated_jaccard(sig["cc/1-a"], sig["cc/5-c"]) < 0.8
    return docs


def cc_docs(texts: dict[str, str]) -> list[Document]:
    return [Document(id=k, source="cc", text=t) for k, t in texts.items()]


def test_a_chain_keeps_one_document_where_the_pairwise_rule_keeps_two(chain):
    other = " ".join(words(50_000, 300))
    docs = cc_docs({**chain, "cc/3-other": other, "cc/4-no-words": "!!! ..."})
    with BeamTestPipeline(runner="FnApiRunner") as p:
        created = p | beam.Create(docs)
        components = created | "Components" >> DocumentNearDedup(SETTINGS, "cc")
        pairwise = created | "Pairwise" >> NearDedup(SETTINGS.params, "cc")
        assert_that(components.kept | beam.Map(lambda d: d.id), equal_to(["cc/1-a", "cc/3-other", "cc/4-no-words"]),
                    label="components kept")
        assert_that(components.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta["duplicate_of"])),
                    equal_to([("cc/9-b", "near_dedup", "near_duplicate", "cc/1-a"),
                              ("cc/5-c", "near_dedup", "near_duplicate", "cc/1-a")]), label="components rejected")
        # Books' rule: c's only near-duplicate is b, whose id is larger, so c stays.
        assert_that(pairwise.kept | beam.Map(lambda d: d.id),
                    equal_to(["cc/1-a", "cc/5-c", "cc/3-other", "cc/4-no-words"]), label="pairwise kept")

        def check_stats(rows):
            check_balanced(rows)
            got = {key[2]: value[0] for key, value in rows}
            want = {"in": 5, "kept": 3, "dropped:near_duplicate": 2, "verified_pairs": 2, "max_rounds": 10,
                    "label_changes:1": 1, "label_changes:2": 1, "cluster_sizes:3": 1}
            for metric, n in want.items():
                if got.get(metric) != n:
                    raise BeamAssertException(f"{metric}: {got.get(metric)} != {n} in {got}")
            if any(m.startswith("unconverged") or m.startswith("label_changes:3") for m in got):
                raise BeamAssertException(f"unexpected rows {got}")

        assert_that(components.stats, check_stats, label="stats")


def test_dissimilar_documents_are_all_kept():
    docs = cc_docs({f"cc/{i}": " ".join(words(1000 * i, 200)) for i in range(5)})
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | DocumentNearDedup(SETTINGS, "cc")
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to([d.id for d in docs]), label="kept")
        assert_that(result.rejected, equal_to([]), label="rejected")


def run_components(edges, max_rounds: int, shards: int = 1, options=None):
    """MinLabelComponents on `edges` fed as `shards` separate Creates; (labels, stat rows), read back
    from files so that any runner (worker processes too) can be used."""
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = BeamTestPipeline(runner="FnApiRunner") if options is None else beam.Pipeline(options=options)
        with pipeline as p:
            parts = [p | f"Edges{i}" >> beam.Create(edges[i::shards]) for i in range(shards)]
            labels, rows = tuple(parts) | beam.Flatten() | MinLabelComponents("cc", "near_dedup", max_rounds)
            for name, pcoll in (("labels", labels), ("rows", rows)):
                (pcoll | f"Json{name}" >> beam.Map(json.dumps)
                 | f"Write{name}" >> beam.io.WriteToText(f"{tmp}/{name}", shard_name_template="", num_shards=1))
        labels = sorted(tuple(json.loads(line)) for line in open(f"{tmp}/labels"))
        rows = [(tuple(k), tuple(v)) for k, v in (json.loads(line) for line in open(f"{tmp}/rows"))]
    return labels, rows


def union_find_labels(edges) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def summed(rows) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, _, metric), (n, _) in rows:
        out[metric] = out.get(metric, 0) + n
    return out


def test_a_long_path_converges_in_its_diameter_and_is_reported_when_it_cannot():
    nodes = [f"n{i:02d}" for i in range(9)]
    edges = list(zip(nodes, nodes[1:]))  # a path of 9: n00 is 8 hops from n08
    labels, rows = run_components(edges, max_rounds=10)
    assert labels == [(n, "n00") for n in nodes]
    metrics = summed(rows)
    assert sorted(m for m in metrics if m.startswith("label_changes")) == [f"label_changes:{r}" for r in range(1, 9)]
    assert "unconverged_documents" not in metrics and metrics["cluster_sizes:9"] == 1
    other = [f"m{i:02d}" for i in range(6)]  # a second path, 5 hops long
    labels, rows = run_components(edges + list(zip(other, other[1:])), max_rounds=3)
    metrics = summed(rows)
    assert dict(labels)["n03"] == "n00" and dict(labels)["n04"] == "n01"  # labels travel 3 hops
    # Still falling: n04..n08 and m04, m05; both components counted once (by their smallest id).
    assert metrics["unconverged_documents"] == 7 and metrics["unconverged_components"] == 2
    # Every component still keeps its smallest id, and the summary says it did not converge.
    assert ("n00", "n00") in labels and ("m00", "m00") in labels
    entry = assemble_stats(rows_as_entries(rows))["sources"]["cc"]["near_dedup"]
    lines = summary_lines(entry)
    assert any("NOT CONVERGED: 7 documents in 2 components" in line for line in lines), lines


def rows_as_entries(rows):
    totals: dict = {}
    for key, (n, b) in rows:
        c, nb = totals.get(key, (0, 0))
        totals[key] = (c + n, nb + b)
    return totals.items()


graphs = st.lists(st.tuples(st.integers(0, 14), st.integers(0, 14)).filter(lambda e: e[0] != e[1]),
                  min_size=1, max_size=25)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs, st.randoms(use_true_random=False), st.integers(1, 4))
def test_each_component_keeps_exactly_one_document_whatever_the_order_and_sharding(pairs, rng, shards):
    edges = [(f"d{min(a, b):02d}", f"d{max(a, b):02d}") for a, b in pairs]
    rng.shuffle(edges)
    labels, rows = run_components(edges, max_rounds=15, shards=shards)
    expected = union_find_labels(edges)
    assert dict(labels) == expected
    kept = [node for node, label in labels if node == label]
    assert sorted(kept) == sorted(set(expected.values()))  # one document per component, its smallest id
    assert "unconverged_documents" not in summed(rows)


def test_the_same_labels_with_two_worker_processes():
    from pipeline.runner import make_options

    rng = random.Random(7)
    edges = sorted({(f"d{a:03d}", f"d{b:03d}") for a, b in ((rng.randrange(60), rng.randrange(60)) for _ in range(70))
                    if a < b})
    one = run_components(edges, max_rounds=12)
    two = run_components(edges, max_rounds=12, shards=3, options=make_options(
        ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]))
    assert one[0] == two[0] == sorted(union_find_labels(edges).items())
    assert summed(one[1]) == summed(two[1])


# ---------------------------------------------------------------- settings and wiring

@pytest.mark.parametrize("source", ["cc", "c4"])
@pytest.mark.parametrize("override, message", [
    ({"enabled": "yes"}, "near_dedup.enabled must be true or false"),
    ({"threshold": 1.5}, "near_dedup.threshold must be in (0.0, 1.0]"),
    ({"num_perm": 0}, "near_dedup.num_perm must be >= 1"),
    ({"bands": 0}, "near_dedup.bands must be >= 1"),
    ({"rows": 7}, "near_dedup.bands * rows (20 * 7) must not exceed num_perm (128)"),
    ({"shingle_size": 0}, "near_dedup.shingle_size must be >= 1"),
    ({"seed": 0.5}, "near_dedup.seed must be an integer"),
    ({"max_bucket_size": 1}, "near_dedup.max_bucket_size must be >= 2"),
    ({"max_rounds": 0}, "near_dedup.max_rounds must be >= 1"),
])
def test_bad_near_dedup_settings_name_their_key(source, override, message):
    from pipeline.config import ConfigError, config_from

    with pytest.raises(ConfigError) as error:
        config_from({source: {"near_dedup": override}})
    assert f"{source}.{message}" in str(error.value)


def test_the_stage_lists_name_near_dedup_only_when_enabled():
    from pipeline.config import config_from
    from pipeline.sources import SOURCES

    off = config_from({"c4": {"mode": "rebuild"}})
    on = config_from({"cc": {"near_dedup": {"enabled": True}}, "c4": {"mode": "rebuild", "near_dedup": {"enabled": True}}})
    cc, c4 = SOURCES["cc"], SOURCES["c4"]
    assert cc.stages(off.cc) == ("min_length", "line_dedup", "lid", "perplexity", "wikiref")
    assert cc.stages(on.cc) == ("min_length", "line_dedup", "lid", "near_dedup", "perplexity", "wikiref")
    assert c4.stages(off.c4) == ("c4_rules_v1", "lid", "c4_dedup")
    assert c4.stages(on.c4) == ("c4_rules_v1", "lid", "c4_dedup", "near_dedup")
    released = config_from({"c4": {"near_dedup": {"enabled": True}}}).c4
    assert c4.stages(released) == ("released", "near_dedup")


def test_released_c4_with_near_dedup_runs_both_stages(chain):
    from pipeline.config import config_from
    from pipeline.sources import SOURCES

    section = config_from({"c4": {"near_dedup": {"enabled": True}}}).c4
    docs = [Document(id=k.replace("cc/", "c4/"), source="c4", text=t) for k, t in chain.items()]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | SOURCES["c4"].curate(section, {})
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to(["c4/1-a"]), label="kept")

        def check(rows):
            check_balanced(rows)
            stages = {(key[1], key[2]): value[0] for key, value in rows if key[2] in ("in", "kept")}
            if stages != {("released", "in"): 3, ("released", "kept"): 3, ("near_dedup", "in"): 3,
                          ("near_dedup", "kept"): 1}:
                raise BeamAssertException(f"rows {stages}")

        assert_that(result.stats, check, label="stats")
