"""filters.perplexity: cc_net's normalisation, the perplexity formula against KenLM,
the scorer on a tiny real SentencePiece + KenLM pair, percentiles and buckets.

The language model is a hand-written bigram ARPA file: every expected log10
probability below is added up by hand from its lines (KenLM's back-off rule: a
missing bigram "x y" costs backoff(x) + log10 P(y)).
"""
from __future__ import annotations

import io
import math
import pickle
import unicodedata

import kenlm
import numpy as np
import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.document import Document
from filters.perplexity import (
    UNICODE_PUNCT, PerplexityScorer, bucket_of, document_score, load_language_model, normalize_cc_net, normalize_for_lm,
    normalize_text, paragraphs, percentile, perplexity, training_lines,
)
from tests import cc_net_reference as ref

# Unigrams: log10 prob, word, log10 backoff. Bigrams: log10 prob, words.
ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30103
-0.69897\t</s>\t0
-0.52288\t{a}\t-0.2
-0.60206\t{b}\t-0.1

\\2-grams:
-0.30103\t<s> {a}
-0.39794\t{a} {b}
-0.15490\t{b} </s>

\\end\\
"""
# By hand:
#   "a b": P(a|<s>) -0.30103 + P(b|a) -0.39794 + P(</s>|b) -0.15490                  = -0.85387
#   "b a": bo(<s>) -0.30103 + P(b) -0.60206 ; bo(b) -0.1 + P(a) -0.52288 ;
#          bo(a) -0.2 + P(</s>) -0.69897                                              = -2.42494
#   "c"  : bo(<s>) -0.30103 + P(<unk>) -1.0 ; bo(<unk>) 0 + P(</s>) -0.69897          = -2.0
AB, BA, UNK = -0.85387, -2.42494, -2.0


def write_arpa(path, a="a", b="b"):
    path.write_text(ARPA.format(a=a, b=b), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hand_lm(tmp_path_factory):
    return kenlm.Model(str(write_arpa(tmp_path_factory.mktemp("lm") / "hand.arpa")))


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize("line, expected", [
    ("Page 12\tOF 3", "page 00 of 0"),  # ASCII: lowercase, digits, tab -> space
    ("  padded  ", "padded"),
    ("", ""),
    ("bell\x07char", "bellchar"),  # control characters go
    ("Café NAÏVE 2023", "cafe naive 0000"),  # accents stripped
    ("«quoted» — ok…", '"quoted"  -  ok...'),  # Unicode punctuation -> ASCII (cc_net's table)
    ("１２３。", "000."),  # full-width digits are digits (cc_net maps "１" to '"' by mistake)
    ("Йод", "иод"),  # NFD: й is и + a combining breve (Mn), stripped as cc_net does
    ("a\U0001D167b 𝔸", "ab 𝔸"),  # an astral combining mark (Mn) goes; other astral characters stay
    ("Don't stop, really!", "don't stop, really!"),  # ASCII punctuation stays: the LM sees it
])
def test_normalize_for_lm(line, expected):
    assert normalize_for_lm(line) == expected


def reference_lm_form(text: str) -> str:
    """The rule spelled out one character at a time, straight from unicodedata."""
    out = []
    for ch in unicodedata.normalize("NFD", text.lower()):
        cat = unicodedata.category(ch)
        if cat == "Mn":
            continue
        if cat == "Nd":
            out.append("0")
        elif cat == "Cc" and ch != "\n":
            out.append(" " if ch.isspace() else "")
        else:
            out.append(UNICODE_PUNCT.get(ch, ch))
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=60))
def test_normalize_text_matches_the_reference_rule_on_any_text(text):
    assert normalize_text(text) == reference_lm_form(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=60))
def test_normalize_text_ascii_fast_path_matches_the_reference(text):
    assert normalize_text(text) == reference_lm_form(text)


def test_paragraphs_are_the_normalised_non_blank_lines():
    text = "  Café 1\n\n \t \n\tX—y \r\nLast\x07 line"
    assert paragraphs(text) == ["cafe 0", "x - y", "last line"]
    assert paragraphs(text) == [n for n in (normalize_for_lm(line) for line in text.split("\n")) if n]
    assert paragraphs("plain ASCII 42\nok") == ["plain ascii 00", "ok"]


# ---------------------------------------------------------------- the formula

def test_kenlm_scores_the_hand_checked_sentences(hand_lm):
    assert hand_lm.score("a b", bos=True, eos=True) == pytest.approx(AB, abs=1e-5)
    assert hand_lm.score("b a", bos=True, eos=True) == pytest.approx(BA, abs=1e-5)
    assert hand_lm.score("c", bos=True, eos=True) == pytest.approx(UNK, abs=1e-5)


def test_document_perplexity_is_cc_nets_formula(hand_lm):
    log10_prob, length = document_score(hand_lm, ["a b", "b a", "c"])
    assert log10_prob == pytest.approx(AB + BA + UNK, abs=1e-5)
    assert length == 3 + 3 + 2  # tokens + 1 per paragraph
    assert perplexity(log10_prob, length) == pytest.approx(10 ** (-(AB + BA + UNK) / 8), rel=1e-5)


def test_one_paragraph_agrees_with_kenlms_own_perplexity(hand_lm):
    # kenlm.Model.perplexity(s) = 10 ** (-score(s) / (words + 1)): an independent check.
    for sentence in ("a b", "b a", "a b b a a"):
        assert perplexity(*document_score(hand_lm, [sentence])) == pytest.approx(hand_lm.perplexity(sentence), rel=1e-6)


# ---------------------------------------------------------------- the scorer

@pytest.fixture(scope="module")
def word_models(tmp_path_factory):
    """A word-level SentencePiece model (pieces "▁a", "▁b") and the hand ARPA over those pieces."""
    d = tmp_path_factory.mktemp("scorer")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["a b", "b a", "a a b", "b b a"] * 50), model_writer=model,
        model_type="word", vocab_size=5, hard_vocab_limit=False, minloglevel=2,
    )
    (d / "sp.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=str(d / "sp.model"))
    assert sp.encode(["a b"], out_type=str) == [["▁a", "▁b"]]
    return str(d / "sp.model"), str(write_arpa(d / "lm.arpa", "▁a", "▁b"))


def doc(text, lang="en", **kw):
    return Document(id="cc/x", source="cc", text=text, lang=lang, **kw)


def test_paragraph_scoring_normalises_splits_paragraphs_and_skips_blank_ones(word_models):
    scorer = PerplexityScorer({"en": word_models}, scoring="paragraph")
    scorer.setup()
    # "A B" -> "a b" (normalised); the empty and whitespace-only paragraphs count for nothing.
    original = doc("A B\n\n   \nB a")
    out = scorer.apply(original)
    assert out.perplexity == round(10 ** (-(AB + BA) / 6), 1)
    assert original.perplexity is None  # a copy: Beam's input is never mutated


def test_scorer_leaves_unknown_languages_and_empty_text_unscored(word_models):
    scorer = PerplexityScorer({"en": word_models})
    assert scorer.apply(doc("a b", lang="fr")).perplexity is None
    assert scorer.apply(doc(" \n\t\n")).perplexity is None
    assert scorer.reasons == ()  # it never drops


def test_scorer_pickles_without_its_models_and_reloads(word_models):
    scorer = PerplexityScorer({"en": word_models}, scoring="paragraph")
    scorer.setup()
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone.apply(doc("a b")).perplexity == round(10 ** (-AB / 3), 1)


# ---------------------------------------------------------------- cc_net's scoring
# The reference is cc_net's text_normalizer.normalize, SentencePiece.do and DocLM.do,
# re-implemented from its source (tests/cc_net_reference.py).

@pytest.mark.parametrize("text, expected", [
    ("Page 12\tOF 3", "page 00of 0"),  # the tab is deleted, gluing the words
    ("First line.\nSecond LINE", "first line.second line"),  # so is the newline: one line
    ("  Café NAÏVE 2023\n", "cafe naive 0000"),
    ("«quoted» — ok…", '"quoted"  -  ok...'),
    ("１２３。", "000."),
    ("x\x85y\u2028z", "xy\u2028z"),  # C1 controls go; U+2028 is no control
    ("", ""),
])
def test_normalize_cc_net_examples(text, expected):
    assert normalize_cc_net(text) == expected == ref.normalize(text)


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=80))
def test_normalize_cc_net_matches_cc_nets_normalize_on_any_text(text):
    assert normalize_cc_net(text) == ref.normalize(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=80))
def test_normalize_cc_net_ascii_fast_path_matches_cc_nets(text):
    assert normalize_cc_net(text) == ref.normalize(text)


def test_cc_net_scoring_glues_the_lines_into_one_sentence(word_models):
    scorer = PerplexityScorer({"en": word_models})  # scoring cc_net is the default
    scorer.setup()
    # "A B \nB A" -> "a b b a": one sentence "▁a ▁b ▁b ▁a" of 4 pieces, length 5. By hand:
    # P(a|<s>) -0.30103, P(b|a) -0.39794, bo(b) -0.1 + P(b) -0.60206, bo(b) -0.1 + P(a) -0.52288,
    # bo(a) -0.2 + P(</s>) -0.69897.
    log10 = -0.30103 - 0.39794 - 0.70206 - 0.62288 - 0.89897
    assert scorer.apply(doc("A B \nB A")).perplexity == round(10 ** (-log10 / 5), 1)
    # Per paragraph, the two lines are two sentences: another number.
    assert PerplexityScorer({"en": word_models}, "paragraph").apply(doc("A B \nB A")).perplexity == round(
        10 ** (-(AB + BA) / 6), 1)


def test_cc_net_scoring_equals_sentencepiece_do_and_doclm_do(word_models):
    import kenlm

    sp_path, lm_path = word_models
    sp = spm.SentencePieceProcessor()
    sp.load(sp_path)
    lm = kenlm.Model(lm_path)
    model = load_language_model(sp_path, lm_path)
    for text in ("a b", "A B\nB A", "b\n\n a a\tb", "c a", "Ünïcode a — b", " \n\t"):
        want = ref.perplexity(sp, lm, text)
        got = model.perplexity(text, "cc_net")
        assert (got is None) == (want is None), text
        if want is not None:
            assert got == pytest.approx(want, rel=1e-9), text
    assert model.cc_net_tokenized("A B\nB A") == ref.tokenized(sp, "A B\nB A")


def test_cc_net_scoring_leaves_what_normalises_to_nothing_unscored(word_models):
    scorer = PerplexityScorer({"en": word_models})
    assert scorer.apply(doc(" \n\x07\t ")).perplexity is None
    assert scorer.apply(doc("a b", lang="fr")).perplexity is None
    with pytest.raises(ValueError, match="scoring"):
        PerplexityScorer({"en": word_models}, scoring="sentence")


def test_training_lines_normalise_each_paragraph_as_the_scoring_does():
    text = "Café 1\tb\n\n  \nSecond — PARAGRAPH"
    assert training_lines(text, "cc_net") == ["cafe 0b", "second  -  paragraph"] == [
        ref.normalize(line) for line in text.split("\n") if ref.normalize(line)]
    assert training_lines(text, "paragraph") == paragraphs(text) == ["cafe 0 b", "second  -  paragraph"]
    with pytest.raises(ValueError):
        training_lines(text, "other")


# ---------------------------------------------------------------- percentiles and buckets

@pytest.mark.parametrize("q", [0, 10, 30, 33.3, 50, 60, 99, 100])
def test_percentile_matches_numpy(q):
    values = sorted([512.0, 3.5, 77.0, 77.0, 1e4, 250.0, 18.25])
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_rejects_bad_input():
    with pytest.raises(ValueError):
        percentile([], 30)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@pytest.mark.parametrize("ppl, bucket", [
    (99.9, "head"), (100.0, "middle"), (199.9, "middle"), (200.0, "tail"), (math.inf, "tail"),
])
def test_buckets_follow_cc_net(ppl, bucket):
    # cc_net's PerplexityBucket: < head cutoff -> head, < tail cutoff -> middle, else tail.
    assert bucket_of(ppl, 100.0, 200.0) == bucket
