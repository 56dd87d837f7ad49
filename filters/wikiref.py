"""The Wikipedia-reference classifier (LLaMA-1, section 2, CommonCrawl).

LLaMA "trained a linear model to classify pages used as references in Wikipedia
v.s. randomly sampled pages, and discarded pages not classified as references".
The model is a fastText supervised classifier with two labels, `__label__wiki` and
`__label__cc` (trained by `pipeline.reference_models`). `wikiref_score` is the
probability of `wiki`; a document scoring below the threshold is dropped
(reason `wikiref`). LLaMA does not publish its threshold; 0.25 is this project's
default (configurable).

Training and scoring see the same text: `classifier_text` (lowercased, one line).
Models are cached per process by path.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from filters.base import DocumentFilter, Drop
from filters.document import Document
from filters.lid import load_model

__all__ = ["LABEL_WIKI", "LABEL_CC", "classifier_text", "training_line", "wiki_probability", "WikiRefFilter"]

LABEL_WIKI = "__label__wiki"
LABEL_CC = "__label__cc"


def classifier_text(text: str) -> str:
    """The document as the classifier reads it: lowercased, on one line.

    Deliberately cheaper than the LM's normalisation (a second pass of that would
    cost ~40% of the quality stages' time); fastText splits words on any whitespace.
    """
    return text.lower().replace("\n", " ")


def training_line(label: str, text: str) -> str:
    """One line of fastText's supervised training format."""
    return f"{label} {classifier_text(text)}"


def wiki_probability(model, text: str) -> float:
    """P(wiki) for one document, in [0, 1]."""
    # k=-1: every label, so P(wiki) is read even when `cc` wins. A list, not a
    # string: fastText's single-string predict breaks under NumPy 2.
    labels, probs = model.predict([classifier_text(text)], k=-1)
    for label, prob in zip(labels[0], probs[0]):
        if label == LABEL_WIKI:
            return min(max(float(prob), 0.0), 1.0)  # fastText's softmax can exceed 1 by 1e-5
    raise ValueError(f"the wikiref model has no {LABEL_WIKI} label (labels: {list(labels[0])})")


class WikiRefFilter(DocumentFilter):
    """Sets `doc.wikiref_score` = P(wiki); drops documents scoring below `threshold`.

    `apply` writes the score on the document it is given, kept or dropped, so a
    rejected document shows its score (as `LanguageIdFilter` does); Beam forbids
    mutating inputs, so `pipeline.stages.wikiref.WikiRef` hands it copies.
    """

    stage = "wikiref"
    reasons = ("wikiref",)
    model_paths = ("model_path",)

    def __init__(self, model_path: str | Path, threshold: float = 0.25):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"cc.wikiref.threshold must be in [0, 1], got {threshold!r}")
        self.model_path = str(model_path)
        self.threshold = float(threshold)
        self._model = None

    def __getstate__(self):
        return {**self.__dict__, "_model": None}  # a C object: workers reload it in setup()

    def setup(self) -> None:
        self._model = load_model(self.model_path)

    def apply(self, doc: Document) -> Document | Drop:
        if self._model is None:
            self.setup()
        doc.wikiref_score = round(wiki_probability(self._model, doc.text), 4)
        return Drop("wikiref") if doc.wikiref_score < self.threshold else doc


def heldout_metrics(model, lines: Iterable[str], threshold: float) -> dict:
    """Precision and recall of `wiki` on held-out fastText lines ("__label__x text"), predicting
    wiki when P(wiki) >= threshold."""
    tp = fp = fn = tn = 0
    for line in lines:
        label, _, text = line.partition(" ")
        predicted = wiki_probability(model, text) >= threshold
        actual = label == LABEL_WIKI
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {"threshold": threshold, "precision": None if precision is None else round(precision, 4),
            "recall": None if recall is None else round(recall, 4),
            "wiki": tp + fn, "cc": fp + tn, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
