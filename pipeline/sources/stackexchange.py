"""StackExchange curation: posts -> question threads (Beam shuffle) -> the site/Q&A filter.

    posts -> key by (site, question id) -> GroupByKey -> one document per thread
          -> stackexchange filter (sites, post types, orphans, no answers) -> kept

Pairing is global (an answer can be anywhere in a tens-of-GB Posts.xml, before or
after its question), so it goes through the shuffle rather than a dict of questions.
A group holds a question and its answers; the thread document takes the question's
id, its text is the Q:/A: layout of filters.stackexchange.format_thread, and its
meta lists the answers in the order written. What is not a thread also becomes a
document, so the filter stage accounts for it: an answer whose question is missing
(`orphan_answer`), a post of another type (`post_type`), a second copy of a post id
(`duplicate_post`, e.g. the same dump given twice).

Stat rows: the filter stage's in/kept/dropped (documents are threads), plus
(stackexchange, "pairing", "posts" / "answers_paired") -> (count, bytes) measurements.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from filters.document import Document
from filters.stackexchange import (
    ANSWER, LARGEST_SITES, QUESTION, Answer, StackExchangeFilter, format_thread, sort_answers,
)
from pipeline.readers.stackexchange import parse_posts
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import FilterStage
from pipeline.stats import StageResult, sum_pairs

NAME = "stackexchange"
PAIRING = "pairing"


@dataclass(frozen=True, kw_only=True)
class StackExchangeSettings:
    """Config `stackexchange`."""

    # LLaMA-1 kept the 28 largest sites (filters.stackexchange.LARGEST_SITES); None keeps every site.
    sites: tuple[str, ...] | None = LARGEST_SITES

_PAIR_STATS = "pair_stats"


def thread_key(doc: Document) -> tuple[str, int]:
    """Questions by their own id, answers by their question's; other posts by their own."""
    m = doc.meta
    return m["site"], m["parent_id"] if m["post_type"] == ANSWER else m["post_id"]


def _as(doc: Document, kind: str, **extra) -> Document:
    return Document(id=doc.id, source=doc.source, text=doc.text, url=doc.url,
                    meta={**doc.meta, "kind": kind, **extra})


def build_threads(key, posts) -> list[Document]:
    """One group of posts (site, question id) -> thread / orphan / other documents."""
    site, _ = key
    by_id: dict[int, Document] = {}
    out: list[Document] = []
    # Smallest (id, text) first, so which copy of a repeated post survives is deterministic.
    for post in sorted(posts, key=lambda d: (d.meta["post_id"], d.text)):
        if post.meta["post_id"] in by_id:
            out.append(_as(post, "duplicate_post"))
        else:
            by_id[post.meta["post_id"]] = post
    questions = [p for p in by_id.values() if p.meta["post_type"] == QUESTION]
    answers = [p for p in by_id.values() if p.meta["post_type"] == ANSWER]
    out += [_as(p, "other_post") for p in by_id.values() if p.meta["post_type"] not in (QUESTION, ANSWER)]
    if not questions:
        out += [_as(a, "orphan_answer") for a in answers]
        return out
    (q,) = questions  # ids are unique per site; the key is the question's id
    accepted = q.meta.get("accepted_answer_id")
    ranked = [Answer(a.meta["post_id"], a.meta["score"], a.text, a.meta["post_id"] == accepted) for a in answers]
    text = format_thread(q.meta.get("title") or "", q.text, ranked)
    order = [a.post_id for a in sort_answers(ranked)]
    meta = {
        "kind": "thread", "site": site, "question_id": q.meta["post_id"], "title": q.meta.get("title"),
        "tags": q.meta.get("tags", []), "score": q.meta["score"], "accepted_answer_id": accepted,
        "answer_count": len(answers), "answer_ids": order,
        "answer_scores": [next(a.score for a in ranked if a.post_id == i) for i in order],
        "creation_date": q.meta.get("creation_date"), "content_license": q.meta.get("content_license"),
        "dump_file": q.meta.get("dump_file"),
    }
    out.append(Document(id=q.id, source=NAME, text=text, url=q.url, meta=meta))
    return out


class _Pair(beam.DoFn):
    def process(self, element):
        key, posts = element
        posts = list(posts)
        docs = build_threads(key, posts)
        for d in docs:
            if d.meta["kind"] == "thread" and d.meta["answer_count"]:
                ids = set(d.meta["answer_ids"])
                nbytes = sum({p.meta["post_id"]: p.nbytes for p in posts if p.meta["post_id"] in ids}.values())
                yield beam.pvalue.TaggedOutput(
                    _PAIR_STATS, ((NAME, PAIRING, "answers_paired"), (d.meta["answer_count"], nbytes)))
        yield from docs


class PairPosts(beam.PTransform):
    """Post documents -> thread documents (and the leftovers, marked by meta["kind"])."""

    def expand(self, posts):
        out = (
            posts
            | "KeyByThread" >> beam.Map(lambda d: (thread_key(d), d))
            | "GroupByThread" >> beam.GroupByKey()
            | "BuildThreads" >> beam.ParDo(_Pair()).with_outputs(_PAIR_STATS, main="docs")
        )
        posts_in = (
            posts
            | "OnePost" >> beam.Map(lambda d: ((NAME, PAIRING, "posts"), (1, d.nbytes)))
        )
        stats = (posts_in, out[_PAIR_STATS]) | "FlattenPairStats" >> beam.Flatten() \
            | "SumPairStats" >> beam.CombinePerKey(sum_pairs)
        return out.docs, stats


class CurateStackExchange(beam.PTransform):
    """PairPosts -> FilterStage(StackExchangeFilter)."""

    def __init__(self, settings: StackExchangeSettings):
        super().__init__()
        self._filter = StackExchangeFilter(settings.sites)

    def expand(self, posts) -> StageResult:
        threads, pair_stats = posts | "Pair" >> PairPosts()
        result = threads | "Filter" >> FilterStage(self._filter, NAME)
        stats = (result.stats, pair_stats) | "AllStats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)


SOURCE = Source(
    name=NAME,
    settings=StackExchangeSettings,
    parser=lambda se: parse_posts,
    curate=lambda se, cards: CurateStackExchange(se),
    stages=lambda se: (PAIRING, StackExchangeFilter.stage),
    llama=LlamaShare(0.020, 1.03, "78 GB"),
)
