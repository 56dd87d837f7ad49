"""fastText language identification, as cc_net's `split_by_lang.Classifier`.

The document's text (newlines as spaces: fastText predicts one line at a time) goes
through the model; the top label becomes `doc.lang` and its probability
`doc.lang_score`. A document is kept when that language is wanted and the score
reaches the threshold (0.5 by default, cc_net's `lang_threshold`).

The filter takes a model path only; where the default model comes from is the
pipeline's business (`pipeline.lid_model`). Models are cached per process by path.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from filters.base import DocumentFilter, Drop
from filters.document import Document

log = logging.getLogger(__name__)

_MODELS: dict[str, object] = {}  # resolved path -> fasttext model, one per process
_LOCK = threading.Lock()  # Beam runs several bundles per process in threads


def load_model(path: str | Path):
    """The fastText model at `path`, loaded once per process."""
    key = str(Path(path).resolve())
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            import fasttext  # heavy C extension: imported only where a model is used

            start = time.perf_counter()
            model = fasttext.load_model(key)
            log.info("loaded fastText model %s in %.2fs", key, time.perf_counter() - start)
            _MODELS[key] = model
    return model


def predict_language(model, text: str) -> tuple[str, float]:
    """Top language (without `__label__`) and its probability, clipped to [0, 1]."""
    # A list, not a string: fastText's single-string predict breaks under NumPy 2.
    labels, probs = model.predict([text.replace("\n", " ")], k=1)
    return labels[0][0].removeprefix("__label__"), min(float(probs[0][0]), 1.0)


class LanguageIdFilter(DocumentFilter):
    """Keep documents in one of `languages` whose top-language score is >= `threshold`.

    `apply` writes `lang` and `lang_score` on the document it is given, kept or
    dropped, so rejected documents show what they were taken for (cc_net annotates
    in place too). Beam forbids mutating inputs, so `pipeline.stages.lid.LanguageId` hands
    it copies.
    """

    stage = "lid"
    reasons = ("empty", "lang", "lang_score_low")
    model_paths = ("model_path",)

    def __init__(self, model_path: str | Path, languages: Iterable[str] = ("en",), threshold: float = 0.5):
        languages = (languages,) if isinstance(languages, str) else tuple(languages)
        if not languages or not all(isinstance(code, str) and code for code in languages):
            raise ValueError(f"lid languages must be a non-empty list of codes such as ['en'], got {languages!r}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"lid threshold must be in [0, 1], got {threshold}")
        self.model_path = str(model_path)
        self.languages = frozenset(languages)
        self.threshold = float(threshold)
        self._model = None

    def __getstate__(self):
        # The fastText model is a C object: workers reload it in setup().
        return {**self.__dict__, "_model": None}

    def setup(self) -> None:
        self._model = load_model(self.model_path)

    def measurements(self, doc: Document, kept: bool):
        """"lang_before:<lang>" for every document that got a prediction, "lang_after:<lang>" for kept ones."""
        if doc.lang:
            yield f"lang_before:{doc.lang}", 1, doc.nbytes
            if kept:
                yield f"lang_after:{doc.lang}", 1, doc.nbytes

    def apply(self, doc: Document) -> Document | Drop:
        if not doc.text.strip():
            return Drop("empty")
        if self._model is None:
            self.setup()
        doc.lang, doc.lang_score = predict_language(self._model, doc.text)
        if doc.lang not in self.languages:
            return Drop("lang")
        if doc.lang_score < self.threshold:
            return Drop("lang_score_low")
        return doc
