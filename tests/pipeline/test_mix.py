"""Mixture arithmetic: the plan, the per-document copies, the validation split, the table."""
from __future__ import annotations

import random

import pytest

from pipeline.mix import (SOURCES, MixtureSettings, copies, format_mixture_table, is_validation, plan_mixture,
                          shard_key)

# LLaMA-1 Table 1, typed in from the paper.
LLAMA = {"cc": 0.67, "c4": 0.15, "github": 0.045, "wikipedia": 0.045, "books": 0.045, "arxiv": 0.025,
         "stackexchange": 0.02}
SEED = 3


# LLaMA's epochs (Table 1): the synthetic sources are sized so the largest mix reads
# them about as often as LLaMA did (Wikipedia, the scarcest, running out first).
LLAMA_EPOCHS = {"cc": 1.10, "c4": 1.06, "github": 0.64, "wikipedia": 2.45, "books": 2.23, "arxiv": 1.06,
                "stackexchange": 1.03}
# Tens of thousands of documents per source: the hash-chosen fraction then lands
# within a few tenths of a percent of its expectation.
DOCS = {"cc": 40_000, "c4": 30_000, "github": 50_000, "wikipedia": 15_000, "books": 15_000, "arxiv": 20_000,
        "stackexchange": 20_000}


def synthetic_corpus() -> dict[str, list[tuple[str, int]]]:
    """(document id, tokens) per source; each source's total is proportional to share / LLaMA epochs."""
    rng = random.Random(0)
    corpus = {}
    for source, n in DOCS.items():
        mean = 2e8 * LLAMA[source] / LLAMA_EPOCHS[source] / n
        corpus[source] = [(f"{source}/{i}", rng.randint(int(0.5 * mean), int(1.5 * mean))) for i in range(n)]
    return corpus


def mix(corpus, plan) -> dict[str, int]:
    """Tokens per source after applying each document's copies."""
    return {s: sum(n * copies(plan.rate(s), SEED, doc_id) for doc_id, n in docs) for s, docs in corpus.items()}


@pytest.fixture(scope="module")
def corpus():
    return synthetic_corpus()


def sizes_of(corpus):
    return {s: sum(n for _, n in docs) for s, docs in corpus.items()}


def test_largest_mix_hits_proportions_and_epochs_within_one_percent(corpus):
    sizes = sizes_of(corpus)
    plan = plan_mixture(sizes, LLAMA, total=None, epoch_cap=2.5)
    assert plan.mode == "max" and not plan.renormalised
    # The defining properties of the largest mix: proportions as asked, no source above
    # the cap, and the source that runs out first exactly at it.
    assert {s: p.proportion for s, p in plan.sources.items()} == pytest.approx(LLAMA, rel=1e-12)
    assert max(p.epochs for p in plan.sources.values()) == pytest.approx(2.5)
    assert plan.sources["wikipedia"].epochs == pytest.approx(2.5)
    got = mix(corpus, plan)
    total = sum(got.values())
    assert total == pytest.approx(plan.total, rel=0.01)
    for source in SOURCES:
        assert got[source] / total == pytest.approx(LLAMA[source], rel=0.01), source
        assert got[source] / sizes[source] == pytest.approx(plan.sources[source].epochs, rel=0.01), source
    assert got["wikipedia"] / sizes["wikipedia"] == pytest.approx(2.5, rel=0.01)


def test_a_token_budget_is_met_within_one_percent(corpus):
    sizes = sizes_of(corpus)
    budget = 0.8 * plan_mixture(sizes, LLAMA, total=None, epoch_cap=2.5).total
    plan = plan_mixture(sizes, LLAMA, total=budget, epoch_cap=2.5)
    assert plan.mode == "budget"
    got = mix(corpus, plan)
    assert sum(got.values()) == pytest.approx(budget, rel=0.01)
    for source in SOURCES:
        assert got[source] / budget == pytest.approx(LLAMA[source], rel=0.01), source
        # epochs = share * budget / size, computed here from the definition
        assert got[source] / sizes[source] == pytest.approx(LLAMA[source] * budget / sizes[source], rel=0.01), source


def test_a_budget_beyond_the_epoch_cap_is_refused_with_the_largest_that_fits():
    sizes = {"cc": 1000, "wikipedia": 10}
    # wikipedia at 0.045/0.715 of the mix: 2.5 epochs of 10 tokens allow at most 397.2 tokens in all.
    with pytest.raises(ValueError, match=r"wikipedia; at most 397 fit"):
        plan_mixture(sizes, LLAMA, total=1000, epoch_cap=2.5)


def test_missing_sources_renormalise_and_say_so():
    plan = plan_mixture({"cc": 10_000, "wikipedia": 2_000, "github": 0}, LLAMA, total=None, epoch_cap=2.5)
    assert list(plan.sources) == ["cc", "wikipedia"]
    assert plan.sources["cc"].proportion == pytest.approx(0.67 / 0.715)
    assert plan.sources["wikipedia"].proportion == pytest.approx(0.045 / 0.715)
    assert plan.sources["cc"].requested == 0.67
    assert plan.missing == ["c4", "github", "books", "arxiv", "stackexchange"]
    assert plan.renormalised and "renormalised over cc, wikipedia" in plan.note()
    # cc binds: 2.5 * 10000 / (0.67/0.715) = 26679.1 tokens in all.
    assert plan.total == pytest.approx(26679.10, abs=0.01)
    assert plan.rate("github") == 0 and plan.rate("books") == 0


def test_a_source_with_data_but_no_proportion_is_unused():
    plan = plan_mixture({"cc": 100, "github": 100}, {"cc": 1.0}, total=None, epoch_cap=1.0)
    assert plan.unused == ["github"] and plan.rate("github") == 0 and plan.total == 100
    assert not plan.renormalised


@pytest.mark.parametrize("kwargs, message", [
    ({"proportions": {"cc": -0.1, "c4": 1}}, "proportions.cc must be a number >= 0"),
    ({"proportions": {"common_crawl": 1}}, "unknown source 'common_crawl'"),
    ({"proportions": {"cc": 0}}, "at least one positive"),
    ({"epoch_cap": 0}, "epoch_cap must be > 0"),
    ({"total": -5}, "total must be > 0"),
    ({"sizes": {"github": 10}, "proportions": {"cc": 1}}, "no data for any source"),
])
def test_bad_mixture_settings_are_clear_errors(kwargs, message):
    args = {"sizes": {"cc": 100}, "proportions": LLAMA, "total": None, "epoch_cap": 2.5, **kwargs}
    with pytest.raises(ValueError, match=message):
        plan_mixture(args["sizes"], args["proportions"], total=args["total"], epoch_cap=args["epoch_cap"])


def test_copies_are_whole_epochs_then_a_deterministic_fraction():
    ids = [f"doc/{i}" for i in range(20_000)]
    assert {copies(0.0, SEED, i) for i in ids} == {0}
    assert {copies(1.0, SEED, i) for i in ids} == {1}
    got = [copies(2.3, SEED, i) for i in ids]
    assert set(got) == {2, 3}
    assert got.count(3) / len(ids) == pytest.approx(0.3, abs=0.01)
    assert got == [copies(2.3, SEED, i) for i in ids]  # deterministic
    # Downsampling keeps a hash-chosen subset; a lower rate keeps a subset of a higher one.
    low, high = ({i for i in ids if copies(r, SEED, i)} for r in (0.2, 0.5))
    assert low < high and len(low) / len(ids) == pytest.approx(0.2, abs=0.01)
    assert got != [copies(2.3, SEED + 1, i) for i in ids]  # the seed matters


def test_validation_split_is_a_hash_fraction_independent_of_mixing():
    ids = [f"doc/{i}" for i in range(50_000)]
    val = {i for i in ids if is_validation(SEED, i, 0.1)}
    assert len(val) / len(ids) == pytest.approx(0.1, abs=0.005)
    extra = {i for i in ids if copies(1.5, SEED, i) == 2}
    assert len(val & extra) / len(extra) == pytest.approx(0.1, abs=0.01)  # not correlated with the mix hash
    assert not any(is_validation(SEED, i, 0.0) for i in ids[:1000])


def test_shard_keys_differ_per_copy_and_seed():
    assert len({shard_key(SEED, "a", c) for c in range(100)}) == 100
    assert shard_key(SEED, "a", 0) != shard_key(SEED + 1, "a", 0)
    assert 0 <= shard_key(SEED, "a", 0) < 2**64


def test_mixture_settings_default_to_llama_table1_and_reject_bad_proportions():
    assert MixtureSettings().proportions == LLAMA
    with pytest.raises(ValueError, match="proportions names an unknown source 'common_crawl'"):
        MixtureSettings(proportions={"common_crawl": 1.0})
    with pytest.raises(ValueError, match="at least one positive"):
        MixtureSettings(proportions={"cc": 0})


def test_mixture_table():
    manifest = {
        "shards": {"train": [{"tokens": 900}, {"tokens": 1000}], "val": [{"tokens": 21}]},
        "mixture": {"mode": "max", "epoch_cap": 2.5, "achieved_tokens": 1900,
                    "note": "no data for c4: proportions renormalised", "sources": {
                        "cc": {"documents": 12, "tokens": 1780, "proportion": 0.937063, "achieved_proportion": 0.936842,
                               "llama_proportion": 0.67, "epochs": 1.2, "achieved_epochs": 1.19, "llama_epochs": 1.1},
                        "wikipedia": {"documents": 3, "tokens": 120, "proportion": 0.062937,
                                      "achieved_proportion": 0.063158, "llama_proportion": 0.045, "epochs": 2.5,
                                      "achieved_epochs": 2.51, "llama_epochs": 2.45}}},
    }
    lines = format_mixture_table(manifest).splitlines()
    assert lines[0].startswith("mixture (largest mix with no source above 2.5 epochs): 1,900 training tokens in 2 shards")
    assert "21 validation tokens in 1" in lines[0]
    assert lines[2].split() == ["cc", "12", "1,780", "93.7%", "93.7%", "67.0%", "1.20", "1.19", "1.10"]
    assert lines[3].split() == ["wikipedia", "3", "120", "6.3%", "6.3%", "4.5%", "2.50", "2.51", "2.45"]
    assert lines[-1] == "note: no data for c4: proportions renormalised"
