"""The LLaMA tokenizer properties, on a real 1000-piece model trained on stdlib docstrings and licences."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer_training import TokenizerSpec, iter_sentences, problems, train_tokenizer
from tokenizer_training.__main__ import main as cli_main
from tokenizer_training.check import WHITESPACE_MARKER

# Characters no docstring or licence contains: they can only be encoded as bytes.
UNSEEN = ["🦙", "漢字", "𓀀𓁐", "ᚠᚢᚦ", "ꦲꦏ꧀ꦱꦫ", "\u0000", "\U0010fffd"]


def byte_pieces(text: str) -> list[str]:
    return [f"<0x{b:02X}>" for b in text.encode("utf-8")]


def test_files_and_card(trained, prose):
    out, card, sp = trained
    assert {p.name for p in out.iterdir()} == {"tokenizer.model", "tokenizer.vocab", "tokenizer.json"}
    assert json.loads((out / "tokenizer.json").read_text()) == card
    assert card["model_sha256"] == hashlib.sha256((out / "tokenizer.model").read_bytes()).hexdigest()
    # The training data digest, recomputed here: every non-empty line, then "\n".
    lines = [line for text in prose for line in text.split("\n") if line]
    assert max(len(line.encode()) for line in lines) <= 4192  # so no line was cut
    expected = hashlib.sha256(b"".join(line.encode() + b"\n" for line in lines)).hexdigest()
    assert card["training_data"]["sha256"] == expected
    assert card["training_data"]["sentences"] == len(lines)
    assert card["training_data"]["documents"] == len(prose)
    llama = {"model_type": "bpe", "vocab_size": 1000, "split_digits": True, "byte_fallback": True,
             "character_coverage": 0.99995, "normalization_rule_name": "identity", "add_dummy_prefix": True,
             "remove_extra_whitespaces": False, "allow_whitespace_only_pieces": True,
             "max_sentencepiece_length": 16, "unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1}
    assert {k: card["settings"][k] for k in llama} == llama
    vocab = (out / "tokenizer.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 1000 and vocab[0].split("\t")[0] == "<unk>" and vocab[3].split("\t")[0] == "<0x00>"


def test_vocabulary_layout(trained):
    _, _, sp = trained
    assert sp.get_piece_size() == 1000
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    # LLaMA's layout: the 256 byte pieces are ids 3..258, in byte order.
    assert [sp.id_to_piece(i) for i in range(3, 259)] == [f"<0x{b:02X}>" for b in range(256)]
    assert all(sp.is_byte(i) for i in range(3, 259))
    assert max(len(sp.id_to_piece(i)) for i in range(259, 1000)) <= 16
    assert problems(sp) == []


def test_problems_finds_a_model_without_the_llama_settings(prose):
    """The checker is not vacuous: a BPE model without split_digits/byte_fallback fails it."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter_sentences(prose, 4192), model_writer=model, model_type="bpe",
                                   vocab_size=1000, minloglevel=2)
    found = problems(spm.SentencePieceProcessor(model_proto=model.getvalue()))
    assert any("byte pieces missing" in p for p in found)
    assert any("join a digit" in p for p in found)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z ]{0,5}[0-9]{1,30}[a-z .,]{0,5}", fullmatch=True))
def test_every_digit_is_its_own_piece(trained, text):
    _, _, sp = trained
    pieces = sp.encode(text, out_type=str)
    digit_pieces = [p for p in pieces if any(c.isdigit() for c in p)]
    assert digit_pieces == [c for c in text if c.isdigit()]


# Any text the pipeline can put in a Parquet string: every code point but surrogates.
# Weighted towards what breaks tokenizers: runs of whitespace, emoji, CJK, combining
# marks, NFKC-sensitive characters (identity normalisation must keep them).
TRICKY = st.sampled_from(["  ", "   ", "\t", "\t\t", " \t ", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u200b",
                          "🦙", "👩‍👩‍👧", "漢字", "한국어", "𓀀", "e\u0301", "ﬁ", "ℌ", "①", "x²", "Ａ", "\u0000", "\x7f"])
ANY_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters=WHITESPACE_MARKER)
TEXT = st.lists(st.one_of(st.text(ANY_CHAR, max_size=20), TRICKY, st.text("ab cd\t", max_size=10)),
                max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_any_text_round_trips_without_unknowns(trained, text):
    _, _, sp = trained
    ids = sp.encode(text)
    assert sp.unk_id() not in ids
    assert sp.decode(ids) == text


def test_the_whitespace_marker_is_the_one_exception(trained):
    """U+2581 is SentencePiece's space marker, so it decodes as a space (as in LLaMA's tokenizer)."""
    _, _, sp = trained
    assert sp.decode(sp.encode(f"a{WHITESPACE_MARKER}b")) == "a b"


@pytest.mark.parametrize("text", UNSEEN)
def test_unseen_characters_fall_back_to_bytes(trained, text):
    _, _, sp = trained
    pieces = sp.encode(text, out_type=str)
    assert pieces[0] == "▁"  # the dummy prefix
    assert pieces[1:] == byte_pieces(text)
    assert sp.decode(sp.encode(text)) == text


def test_training_is_reproducible(tmp_path, prose):
    cards = [train_tokenizer(prose, tmp_path / name, TokenizerSpec(vocab_size=600)) for name in ("a", "b")]
    assert cards[0]["model_sha256"] == cards[1]["model_sha256"]
    assert (tmp_path / "a" / "tokenizer.model").read_bytes() == (tmp_path / "b" / "tokenizer.model").read_bytes()


def test_too_small_a_corpus_for_the_vocabulary_is_a_clear_error(tmp_path, prose):
    with pytest.raises(ValueError, match=r"too small for vocab_size 32000.*<= \d+"):
        train_tokenizer(prose[:3], tmp_path, TokenizerSpec(vocab_size=32000))


@pytest.mark.parametrize("texts", [[], ["", "\n\n"]])
def test_no_text_is_a_clear_error(tmp_path, texts):
    with pytest.raises(ValueError, match="no training text"):
        train_tokenizer(texts, tmp_path, TokenizerSpec(vocab_size=300))


@pytest.mark.parametrize("field, value", [("vocab_size", 100), ("vocab_size", 70000), ("character_coverage", 0.5),
                                          ("num_threads", 0), ("max_sentence_length", 10)])
def test_spec_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TokenizerSpec(**{field: value})


def test_long_lines_are_cut_below_the_limit_at_character_boundaries():
    line = ("naïve 漢字 " * 3000) + "x" * 9000 + "🦙" * 3000  # spaces, then no space at all, 4-byte characters
    pieces = list(iter_sentences([f"short\n\n{line}\n"], 4192))
    assert pieces[0] == "short"
    assert "".join(pieces[1:]) == line
    assert all(0 < len(p.encode()) <= 4192 for p in pieces)
    assert pieces[1].endswith(" ")  # cut after a space where there is one


def test_cli_trains_checks_and_reports_held_out_compression(tmp_path, prose, capsys):
    inputs = []
    for i, text in enumerate(prose[:80]):
        inputs.append(tmp_path / f"doc{i:03d}.txt")
        inputs[-1].write_text(text, encoding="utf-8")
    held = tmp_path / "held.txt"
    held.write_text(prose[-1], encoding="utf-8")
    out = tmp_path / "tok"
    args = ["--input", *map(str, inputs), "--out", str(out), "--vocab-size", "500", "--held-out", str(held)]
    assert cli_main(args) == 0
    assert cli_main(args) == 0  # a second run replaces the directory
    printed = capsys.readouterr().out
    assert "500 pieces" in printed and "bytes/token" in printed
    card = json.loads((out / "tokenizer.json").read_text())
    assert card["vocab_size"] == 500 and card["training_data"]["documents"] == 80
    assert 1.5 < card["held_out_bytes_per_token"][str(held)] < 6
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".tok")) == []


def test_cli_never_deletes_a_directory_it_did_not_write(tmp_path, prose, capsys):
    doc = tmp_path / "doc.txt"
    doc.write_text("\n".join(prose[:40]), encoding="utf-8")
    out = tmp_path / "tok"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file")
    args = ["--input", str(doc), "--out", str(out), "--vocab-size", "500"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: refusing to replace {out}: it is not empty") and err.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "the user's own file"

    (out / "notes.txt").unlink()  # an empty directory may be used
    assert cli_main(args) == 0
    (out / "notes.txt").write_text("added later")  # our output, plus a file of the user's: still refused
    assert cli_main(args) == 2
    assert "notes.txt" in capsys.readouterr().err and (out / "notes.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.txt", "tok"]
