"""`python -m pipeline tokenizer`: the byte-proportional sample of the curated corpus, and training on it."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config import config_from
from pipeline.mix import is_validation
from pipeline.tokenizer_stage import format_tokenizer_summary, run_tokenizer_stage, sample_for_tokenizer
from pipeline.store import Store
from tokenizer_training import load

from .conftest import code_pieces, docstring_pieces, licence_paragraphs, write_curated

# Renormalised over cc, github and wikipedia: LLaMA's 67 / 4.5 / 4.5.
SHARE = {"cc": 0.67 / 0.76, "github": 0.045 / 0.76, "wikipedia": 0.045 / 0.76}
SEED, VAL = 7, 0.05


def corpus() -> dict[str, list[tuple[str, str]]]:
    return {"cc": docstring_pieces(), "github": code_pieces(40), "wikipedia": licence_paragraphs()}


def config(**tokenizer):
    return config_from({"seed": SEED, "tokenizer": {"vocab_size": 600, **tokenizer}, "shards": {"val_fraction": VAL}})


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    for source, docs in corpus().items():
        write_curated(out, source, docs, n_files=2)
    return out


def curated_files(out: Path) -> dict[str, list[Path]]:
    """What a finished curate stage's record lists: each source's Parquet files."""
    return {source: sorted((out / "curated" / source).glob("*.parquet")) for source in corpus()}


def sampled_bytes(out: Path, cfg: dict, tmp: Path) -> tuple[Counter, Counter, dict]:
    """Bytes per source of the sample and copies per document id, found by text lookup."""
    owner = {}
    for source, docs in corpus().items():
        for key, text in docs:
            owner.setdefault(text, (source, f"{source}/{key}"))
    texts, info = sample_for_tokenizer(cfg, curated_files(out), tmp)
    per_source, per_text = Counter(), Counter()
    for text in texts:
        source, _ = owner[text]
        per_source[source] += len(text.encode())
        per_text[text] += 1
    return per_source, per_text, info


def test_sample_follows_the_byte_proportions_up_to_the_epoch_cap(out, tmp_path):
    per_source, per_text, info = sampled_bytes(out, config(), tmp_path)
    total = sum(per_source.values())
    for source, share in SHARE.items():
        assert per_source[source] / total == pytest.approx(share, rel=0.1), source
    sizes = {s: sum(len(t.encode()) for k, t in docs if not is_validation(SEED, f"{s}/{k}", VAL))
             for s, docs in corpus().items()}
    epochs = {s: per_source[s] / sizes[s] for s in sizes}
    # cc runs out first: it alone is read epoch_cap (2.5) times.
    assert epochs["cc"] == pytest.approx(2.5, rel=0.03)
    assert epochs["wikipedia"] < 1 and epochs["github"] < 1
    assert info["mode"] == "all the epoch cap allows"
    assert "renormalised" in info["note"] and "c4" in info["note"]
    assert {s: info["sources"][s]["sampled_bytes"] for s in SHARE} == dict(per_source)


def test_validation_documents_are_never_sampled_and_copies_are_whole(out, tmp_path):
    _, per_text, _ = sampled_bytes(out, config(), tmp_path)
    ids_of = {}
    for source, docs in corpus().items():
        for key, text in docs:
            ids_of.setdefault(text, []).append(f"{source}/{key}")
    for text, n in per_text.items():
        assert not all(is_validation(SEED, i, VAL) for i in ids_of[text])
    # cc at 2.5 epochs: each document 2 or 3 times (times its duplicates in the corpus).
    cc_texts = {t for _, t in docstring_pieces() if len(ids_of[t]) == 1 and not is_validation(SEED, ids_of[t][0], VAL)}
    assert {per_text[t] for t in cc_texts} == {2, 3}


def test_a_smaller_sample_bytes_is_honoured(out, tmp_path):
    per_source, _, info = sampled_bytes(out, config(sample_bytes=400_000), tmp_path)
    assert sum(per_source.values()) == pytest.approx(400_000, rel=0.05)
    assert info["mode"] == "sample_bytes"


def test_training_does_not_depend_on_how_curation_split_the_files(out, tmp_path):
    """The same documents in one file, or shuffled over three, give the same model."""
    other = tmp_path / "other"
    for source, docs in corpus().items():
        docs = list(docs)
        random.Random(1).shuffle(docs)
        write_curated(other, source, docs, n_files=3)
    cards = [run_tokenizer_stage(config(), curated_files(o), Store(tmp_path / o.name)) for o in (out, other)]
    assert cards[0]["training_data"]["sha256"] == cards[1]["training_data"]["sha256"]
    assert cards[0]["model_sha256"] == cards[1]["model_sha256"]
    models = [(tmp_path / o.name / "tokenizer" / "tokenizer.model").read_bytes() for o in (out, other)]
    assert models[0] == models[1]


def test_stage_output_card_and_held_out_compression(out, tmp_path):
    card = run_tokenizer_stage(config(), curated_files(out), Store(tmp_path))
    written = tmp_path / "tokenizer"
    assert sorted(p.name for p in written.iterdir()) == ["tokenizer.json", "tokenizer.model", "tokenizer.vocab"]
    assert json.loads((written / "tokenizer.json").read_text()) == card
    assert card["vocab_size"] == 600 and card["settings"]["split_digits"] is True
    sp = load(written / "tokenizer.model")
    for source, docs in corpus().items():
        held = [t for k, t in docs if is_validation(SEED, f"{source}/{k}", VAL)]
        nbytes = sum(len(t.encode()) for t in held)
        tokens = sum(len(sp.encode(t)) for t in held)
        assert card["held_out"][source]["documents"] == len(held)
        assert card["held_out"][source]["bytes_per_token"] == pytest.approx(nbytes / tokens)
    summary = format_tokenizer_summary(card)
    assert "600 pieces" in summary and "wikipedia" in summary and "bytes/token" in summary


def test_without_a_finished_curate_stage_the_stage_refuses(tmp_path):
    from pipeline.driver import run_stage
    from pipeline.state import StateError

    with pytest.raises(StateError, match="the curate stage has not finished .*run `python -m pipeline curate`"):
        run_stage("tokenizer", config(), Store(tmp_path), [], force=False)
