"""Our SentencePiece model converted to tokenizer.json: transformers' AutoTokenizer gives SentencePiece's ids.

Two vocabularies: the 1000-piece model trained here (conftest `trained`), and LLaMA's own 32k
vocabulary from llama.cpp's GGUF file, converted by the same code and checked against llama.cpp's
reference tokenizations and against SentencePiece itself. SentencePiece is the reference throughout.
"""
from __future__ import annotations

import io
import os

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer_training import TokenizerSpec
from tokenizer_training.hf_tokenizer import (
    Kind, Piece, bpe_merges, byte_piece, conversion_problems, pieces_from_sentencepiece, tokenizer_json,
    vocabulary_problems, write_hf_tokenizer,
)

from .conftest import code_pieces, docstring_pieces, docstrings
from .llama_reference import BOS_ID, EOS_ID, UNK_ID, llama_pieces, reference_cases, sentencepiece_model, write_hf_dir

transformers = pytest.importorskip("transformers")  # a test-only dependency
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing from a model hub, ever

# Literal special-token text: plain text to SentencePiece, and (split_special_tokens) to ours too.
SPECIAL_TEXT = ["<s>", "</s>", "<unk>", "<s>Hello</s>", "a <s> b", "<0x41>", "\u2581"]
ENGLISH = ["the", "The", " of", "return", "function", "value", "ing", "tion", "s", "e", "-", ".", ",", "'", "(", ")"]

# Text with what tends to break converters: digits, runs of spaces, tabs, newlines, emoji (some
# of several code points), CJK, Cyrillic, any other character, and literal special-token text.
TEXT = st.lists(st.one_of(
    st.sampled_from(list("0123456789")),
    st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000"]),
    st.integers(3, 40).map(lambda n: " " * n),  # LLaMA has whitespace pieces up to 16 long
    st.sampled_from(["🦙", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "😀"]),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK unified ideographs
    st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),  # Cyrillic
    st.characters(codec="utf-8"),  # anything encodable
    st.sampled_from(SPECIAL_TEXT + ENGLISH),
), max_size=40).map("".join)


def assert_same(hf, sp: spm.SentencePieceProcessor, text: str) -> None:
    """AutoTokenizer gives SentencePiece's ids, with and without BOS, and decodes them as SentencePiece does."""
    ids = sp.encode(text)
    assert hf(text, add_special_tokens=False)["input_ids"] == ids
    assert hf(text)["input_ids"] == [sp.bos_id(), *ids]
    decoded = sp.decode(ids)
    assert hf.decode(ids) == decoded
    assert hf.decode([sp.bos_id(), *ids], skip_special_tokens=True) == decoded
    if "\u2581" not in text:  # SentencePiece's whitespace marker decodes as a space (in both)
        assert decoded == text


# ------------------------------------------------------------------ the merges, by hand

def test_bpe_merges_are_every_split_best_score_first_then_longer_left_part():
    pieces = [Piece("<unk>", 0, Kind.UNKNOWN), Piece("<s>", 0, Kind.CONTROL), Piece("<0x61>", 0, Kind.BYTE)]
    pieces += [Piece(c, -10 - i, Kind.NORMAL) for i, c in enumerate(["▁", "a", "b", "c", "<", "s", ">"])]
    pieces += [Piece("ab", -1, Kind.NORMAL), Piece("▁a", -2, Kind.NORMAL), Piece("▁ab", -3, Kind.NORMAL),
               Piece("abc", -4, Kind.NORMAL), Piece("bcd", -5, Kind.NORMAL),  # "d" and "cd" are no pieces
               Piece("▁▁", -1e9, Kind.NORMAL), Piece("▁▁▁", -1e9, Kind.NORMAL)]  # LLaMA's whitespace runs
    assert bpe_merges(pieces) == [
        ("a", "b"), ("▁", "a"), ("▁a", "b"), ("▁", "ab"), ("ab", "c"),
        ("▁▁", "▁"), ("▁", "▁"), ("▁", "▁▁"),  # equal scores: the longer left part first, then by piece
    ]  # no merge makes the control piece "<s>" or a byte piece


# ------------------------------------------------------------------ our trained model

@pytest.fixture(scope="module")
def hf_dir(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf")
    write_hf_tokenizer(trained[0] / "tokenizer.model", out, model_max_length=2048)
    return out


@pytest.fixture(scope="module")
def hf(hf_dir):
    return transformers.AutoTokenizer.from_pretrained(hf_dir)


def test_autotokenizer_loads_a_fast_tokenizer_without_tokenizer_model(hf_dir, hf, trained):
    assert sorted(p.name for p in hf_dir.iterdir()) == ["tokenizer.json", "tokenizer_config.json"]
    assert hf.is_fast and isinstance(hf, transformers.PreTrainedTokenizerFast)
    assert (hf.bos_token, hf.eos_token, hf.unk_token, hf.pad_token) == ("<s>", "</s>", "<unk>", None)
    assert (hf.bos_token_id, hf.eos_token_id, hf.unk_token_id, hf.model_max_length) == (1, 2, 0, 2048)
    sp = trained[2]
    assert hf.get_vocab() == {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}


@settings(max_examples=500, deadline=None)
@given(text=TEXT)
def test_same_ids_and_text_as_sentencepiece(hf, trained, text):
    assert_same(hf, trained[2], text)


def test_special_token_text_is_plain_text_as_in_sentencepiece(hf, trained):
    sp = trained[2]
    for text in SPECIAL_TEXT:
        assert_same(hf, sp, text)
        assert not {sp.unk_id(), sp.bos_id(), sp.eos_id()} & set(hf.encode(text, add_special_tokens=False))


def held_out_texts() -> list[str]:
    """Real text the trained model never saw: docstrings of the modules after its 150, stdlib code,
    and the Universal Declaration of Human Rights in seven scripts."""
    from resiliparse.extract.html2text import extract_plain_text

    from samples.fixtures import udhr_declarations

    trained_on = {name for name, _ in docstrings(150)}
    prose = [text for key, text in docstring_pieces() if key.rsplit("-", 1)[0] not in trained_on]
    code = [text for _, text in code_pieces(20)]
    udhr = [extract_plain_text((udhr_declarations() / f"{lang}.html").read_text(encoding="utf-8"))
            for lang in ("rus", "ukr", "cmn_hans", "jpn", "kor", "hin", "arb")]
    assert len(prose) > 30 and len(code) > 700 and min(map(len, udhr)) > 3000
    return prose + code + udhr


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    return held_out_texts()


def test_held_out_real_text(hf, trained, held_out):
    sp = trained[2]
    assert [hf.encode(t, add_special_tokens=False) for t in held_out] == [sp.encode(t) for t in held_out]
    assert [hf.decode(sp.encode(t)) for t in held_out] == held_out


# ------------------------------------------------------------------ LLaMA's vocabulary

@pytest.fixture(scope="module")
def llama():
    """(the pieces of the GGUF file, SentencePiece on them)."""
    pieces = llama_pieces()
    return pieces, sentencepiece_model(pieces)


@pytest.fixture(scope="module")
def llama_hf(llama, tmp_path_factory):
    return transformers.AutoTokenizer.from_pretrained(write_hf_dir(tmp_path_factory.mktemp("llama"), llama[0]))


def test_llama_reference_tokenizations(llama, llama_hf):
    cases = reference_cases()
    assert len(cases) == 46
    expected = [ids for _, ids in cases]
    assert [llama_hf.encode(text, add_special_tokens=False) for text, _ in cases] == expected
    assert [llama_hf.encode(text) for text, _ in cases] == [[BOS_ID, *ids] for ids in expected]
    assert [llama[1].encode(text) for text, _ in cases] == expected  # SentencePiece on the GGUF vocabulary too
    assert [llama_hf.decode(ids) for ids in expected] == [text for text, _ in cases]


def test_llama_vocabulary_read_through_sentencepiece_is_the_gguf_one(llama):
    pieces, sp = llama
    assert pieces_from_sentencepiece(sp) == pieces
    assert conversion_problems(sp) == []
    kinds = [p.kind for p in pieces]
    assert (kinds.count(Kind.NORMAL), kinds.count(Kind.BYTE), kinds.count(Kind.CONTROL), kinds.count(Kind.UNKNOWN)) \
        == (31741, 256, 2, 1)


@settings(max_examples=500, deadline=None)
@given(text=TEXT)
def test_llama_same_ids_and_text_as_sentencepiece(llama, llama_hf, text):
    assert_same(llama_hf, llama[1], text)


def test_llama_held_out_real_text(llama, llama_hf, held_out):
    sp = llama[1]
    assert [llama_hf.encode(t, add_special_tokens=False) for t in held_out] == [sp.encode(t) for t in held_out]
    assert [llama_hf.decode(sp.encode(t)) for t in held_out] == held_out


def test_llama_whitespace_runs(llama, llama_hf):
    # All of LLaMA's whitespace-only pieces score -1e9: SentencePiece joins them leftmost first.
    for n in range(1, 40):
        for text in (" " * n, "a" + " " * n + "b", " " * n + "Hello\n" + " " * n):
            assert_same(llama_hf, llama[1], text)


# ------------------------------------------------------------------ what cannot be converted

def small_model(prose, **settings) -> spm.SentencePieceProcessor:
    model = io.BytesIO()
    kwargs = {**TokenizerSpec(vocab_size=400, num_threads=1).trainer_kwargs(), **settings}
    spm.SentencePieceTrainer.train(sentence_iterator=iter(prose[:40]), model_writer=model, minloglevel=2, **kwargs)
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def test_models_without_llama_settings_are_refused(prose, tmp_path):
    assert conversion_problems(small_model(prose)) == []
    assert conversion_problems(small_model(prose, model_type="unigram")) == ["model type is unigram, not bpe"]
    nfkc = conversion_problems(small_model(prose, normalization_rule_name="nmt_nfkc"))
    assert len(nfkc) == 1 and nfkc[0].startswith("normalisation is not LLaMA's")
    squeezed = conversion_problems(small_model(prose, remove_extra_whitespaces=True))
    assert len(squeezed) == 1 and squeezed[0].startswith("normalisation is not LLaMA's")

    model = tmp_path / "unigram.model"
    model.write_bytes(small_model(prose, model_type="unigram").serialized_model_proto())
    with pytest.raises(ValueError, match="model type is unigram, not bpe"):
        write_hf_tokenizer(model, tmp_path / "hf", model_max_length=64)
    assert not (tmp_path / "hf").exists()


def test_vocabularies_bpe_cannot_reproduce_are_refused(llama):
    pieces = llama[0]
    ids = {"bos_id": BOS_ID, "eos_id": EOS_ID, "unk_id": UNK_ID}
    assert vocabulary_problems(pieces, **ids) == []
    no_bytes = [p for p in pieces if p.kind != Kind.BYTE]
    assert vocabulary_problems(no_bytes, **ids) == \
        [f"no byte fallback: 256 byte pieces missing, e.g. {[byte_piece(b) for b in range(3)]}"]
    user = [Piece(p.text, p.score, Kind.USER_DEFINED) if p.text == "▁the" else p for p in pieces]
    assert vocabulary_problems(user, **ids) == ["user-defined or unused pieces, e.g. ['▁the']"]
    assert vocabulary_problems(pieces, bos_id=UNK_ID, eos_id=EOS_ID, unk_id=UNK_ID) == \
        ["bos id 0 is not a control piece"]
    with pytest.raises(ValueError, match="no byte fallback"):
        tokenizer_json(no_bytes, **ids)
