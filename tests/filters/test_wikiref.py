"""filters.wikiref on a tiny real fastText classifier trained here.

The two classes use disjoint vocabularies, so the expected decisions follow from
the training data; expected scores come from fastText's own `predict` on the text,
which is already in normalised form (lowercase ASCII words).
"""
from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys

import fasttext
import pytest

from filters.document import Document
from filters.wikiref import LABEL_CC, LABEL_WIKI, WikiRefFilter, classifier_text, training_line, wiki_probability

WIKI_WORDS = "the river flows through the valley and the city was founded in the century by settlers".split()
CC_WORDS = "buy now cheap deals click here login cart free shipping subscribe cookie policy offer".split()


def train(train_file, model_file, **args):
    """Train in a fresh process: fasttext-numpy2-wheel 0.9.2 can diverge (NaN) on a second
    training in one process, or after another model was loaded (pytest's process has)."""
    script = ("import fasttext, json, sys; fasttext.train_supervised(input=sys.argv[1], verbose=0, "
              "**json.loads(sys.argv[3])).save_model(sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(train_file), str(model_file), json.dumps(args)], check=True)
    return fasttext.load_model(str(model_file))


def lines(label, words, n, rng):
    return [f"{label} " + " ".join(rng.choice(words) for _ in range(12)) for _ in range(n)]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    rng = random.Random(0)
    examples = lines(LABEL_WIKI, WIKI_WORDS, 60, rng) + lines(LABEL_CC, CC_WORDS, 60, rng)
    rng.shuffle(examples)
    d = tmp_path_factory.mktemp("wikiref")
    (d / "train.txt").write_text("\n".join(examples) + "\n")
    # wordNgrams + bucket: without hashed rows this wheel's training on a tiny vocabulary is flaky (NaN).
    train(d / "train.txt", d / "wikiref.bin", epoch=25, lr=0.5, dim=10, wordNgrams=2, bucket=10000, thread=1, seed=0)
    return d / "wikiref.bin"


def doc(text):
    return Document(id="cc/1", source="cc", text=text, lang="en")


def test_classifier_text_is_lowercase_and_on_one_line():
    assert classifier_text("The River 1999\n\n«Flows»\tON") == "the river 1999  «flows»\ton"
    assert training_line(LABEL_WIKI, "A\nB") == "__label__wiki a b"


def test_wiki_probability_reads_the_wiki_label_even_when_cc_wins(model_path):
    model = fasttext.load_model(str(model_path))
    for text in ("the river flows through the valley", "buy now cheap deals click here"):
        labels, probs = model.predict([text], k=-1)
        expected = dict(zip(labels[0], probs[0]))[LABEL_WIKI]
        assert wiki_probability(model, text) == pytest.approx(min(float(expected), 1.0))
    assert wiki_probability(model, "the city was founded by settlers") > 0.9
    assert wiki_probability(model, "free shipping subscribe now") < 0.1


def test_filter_keeps_references_and_drops_the_rest_with_their_score(model_path):
    f = WikiRefFilter(model_path, threshold=0.25)
    f.setup()
    wiki, shop = doc("The river flows\nthrough the valley."), doc("Buy now! Cheap deals,\nclick here")
    kept = f.apply(wiki)
    assert kept is wiki and wiki.wikiref_score > 0.9
    assert f.apply(shop).reason == "wikiref"
    assert shop.wikiref_score < 0.1  # the rejected document shows its score
    assert f.reasons == ("wikiref",)


def test_threshold_decides_at_the_boundary(model_path):
    model = fasttext.load_model(str(model_path))
    text = "the river buy now cheap valley"  # mixed: somewhere in between
    score = round(wiki_probability(model, text), 4)
    assert WikiRefFilter(model_path, threshold=score).apply(doc(text)).wikiref_score == score  # >= keeps
    assert WikiRefFilter(model_path, threshold=min(score + 1e-3, 1.0)).apply(doc(text)).reason == "wikiref"


def test_filter_pickles_without_its_model(model_path):
    f = WikiRefFilter(model_path)
    f.setup()
    clone = pickle.loads(pickle.dumps(f))
    assert clone._model is None
    assert clone.apply(doc("the river flows")).wikiref_score > 0.9


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_is_validated(model_path, threshold):
    with pytest.raises(ValueError, match="cc.wikiref.threshold"):
        WikiRefFilter(model_path, threshold=threshold)


def test_a_model_without_the_wiki_label_is_a_clear_error(tmp_path):
    rng = random.Random(1)
    (tmp_path / "t.txt").write_text("\n".join(lines("__label__a", WIKI_WORDS, 60, rng) + lines("__label__b", CC_WORDS, 60, rng)))
    model = train(tmp_path / "t.txt", tmp_path / "t.bin", epoch=5, dim=10, wordNgrams=2, bucket=10000, thread=1)
    with pytest.raises(ValueError, match="__label__wiki"):
        wiki_probability(model, "x y")
