"""StackExchange curation: posts -> question threads (Beam shuffle) -> the site/Q&A filter.

    posts -> key by (site, question id) -> GroupByKey -> one document per thread
          -> stackexchange filter (sites, post types, orphans, no answers) -> kept
    posts -> posts per site (CombinePerKey) -> ranking (one global list) --side input--^

Which sites: `stackexchange.sites` is "largest:N" (default N=28, LLaMA-1's "28
largest websites"), a list of sites, or null for every site. For "largest:N" the
sites are ranked as RedPajama's count.py ranks them, by the posts of their
Posts.xml (every post type), here counted from the posts read; ties go to the
smaller site name. The ranking is one small list (a dump has a few hundred sites),
built by a global combine and handed to the filter as a side input.

Pairing is global (an answer can be anywhere in a tens-of-GB Posts.xml, before or
after its question), so it goes through the shuffle rather than a dict of questions.
A group holds a question and its answers; the thread document takes the question's
id, its text is the Q:/A: layout of filters.stackexchange.format_thread, and its
meta lists the answers in the order written. What is not a thread also becomes a
document, so the filter stage accounts for it: an answer whose question is missing
(`orphan_answer`), a post of another type (`post_type`), a second copy of a post id
(`duplicate_post`, e.g. the same dump given twice).

Stat rows: the filter stage's in/kept/dropped (documents are threads), plus
(stackexchange, "pairing", "posts" / "answers_paired") -> (count, bytes) measurements,
and on the filter stage the ranking: "site_posts:<site>" for every input site and
"site_chosen:<site>" for the sites kept (posts, bytes), and "sites_largest" (N, 0)
or "sites_listed" (sites listed, 0) saying how they were chosen. The summary prints them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import apache_beam as beam

from filters.base import Drop
from filters.document import Document
from filters.stackexchange import (
    ANSWER, DEFAULT_LARGEST, QUESTION, Answer, StackExchangeFilter, format_thread, largest_sites, rank_sites,
    sort_answers,
)
from pipeline.readers.stackexchange import parse_posts
from pipeline.settings import invalid
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import REJECTED, Judge
from pipeline.stats import STATS, StageResult, SumStats, sum_pairs

NAME = "stackexchange"
PAIRING = "pairing"
FILTER = StackExchangeFilter.stage
_LARGEST = re.compile(r"largest:([0-9]+)")


@dataclass(frozen=True, kw_only=True)
class StackExchangeSettings:
    """Config `stackexchange`."""

    # "largest:N": the N sites with the most posts in the inputs; a list: those sites; None: every site.
    sites: str | tuple[str, ...] | None = f"largest:{DEFAULT_LARGEST}"
    keep_unanswered: bool = True  # RedPajama keeps questions without answers; False drops them (no_answers)

    def __post_init__(self):
        if isinstance(self.sites, str) and not self.sites.lower().startswith("largest"):
            object.__setattr__(self, "sites", (self.sites,))  # one site, as a one-element list
        if isinstance(self.sites, str):
            m = _LARGEST.fullmatch(self.sites)
            if not m or int(m.group(1)) < 1:
                raise invalid("sites", "must be largest:N with N >= 1, a list of sites, or null", self.sites)
        elif self.sites is not None:
            if not self.sites:
                raise invalid("sites", "must name at least one site (or be largest:N, or null for every site)",
                              list(self.sites))
            if any(s.lower().startswith("largest") for s in self.sites):
                raise invalid("sites", "takes largest:N alone, not in a list", list(self.sites))

    @property
    def largest(self) -> int | None:
        """N of sites = "largest:N"; None when sites is a list or null."""
        return int(self.sites.split(":", 1)[1]) if isinstance(self.sites, str) else None


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


# --- which sites -----------------------------------------------------------------------

Ranking = list[tuple[str, int, int, bool]]  # (site, posts, bytes, chosen), most posts first


def site_ranking(settings: StackExchangeSettings, counts) -> Ranking:
    """(site, (posts, bytes)) pairs -> every site ranked by posts, marked chosen or not."""
    by_site = dict(counts)
    ranked = rank_sites((site, posts) for site, (posts, _) in by_site.items())
    if settings.largest is not None:
        chosen = set(largest_sites(ranked, settings.largest))
    elif settings.sites is None:
        chosen = set(by_site)
    else:
        chosen = {s.lower() for s in settings.sites}
    return [(site, posts, by_site[site][1], site in chosen) for site, posts in ranked]


def ranking_rows(ranking: Ranking, settings: StackExchangeSettings):
    """The ranking as stat rows of the filter stage, for stats.json and the summary."""
    if settings.largest is not None:
        yield (NAME, FILTER, "sites_largest"), (settings.largest, 0)
    elif settings.sites is not None:
        yield (NAME, FILTER, "sites_listed"), (len(settings.sites), 0)
    for site, posts, nbytes, chosen in ranking:
        yield (NAME, FILTER, f"site_posts:{site}"), (posts, nbytes)
        if chosen:
            yield (NAME, FILTER, f"site_chosen:{site}"), (posts, nbytes)


class RankSites(beam.PTransform):
    """Posts -> (the chosen sites: a one-element PCollection of a tuple, the ranking's stat rows)."""

    def __init__(self, settings: StackExchangeSettings):
        super().__init__()
        self._settings = settings

    def expand(self, posts):
        settings = self._settings
        ranking = (
            posts
            | "SiteOfPost" >> beam.Map(lambda d: (d.meta["site"], (1, d.nbytes)))
            | "PostsPerSite" >> beam.CombinePerKey(sum_pairs)
            | "AllSites" >> beam.combiners.ToList()  # one row per site: a few hundred at most
            | "Rank" >> beam.Map(lambda counts: site_ranking(settings, counts))
        )
        chosen = ranking | "Chosen" >> beam.Map(lambda r: tuple(site for site, _, _, kept in r if kept))
        rows = ranking | "RankingRows" >> beam.FlatMap(ranking_rows, settings)
        return chosen, rows


class _JudgeThreads(beam.DoFn):
    """StackExchangeFilter on each thread; the chosen sites arrive as a side input."""

    def __init__(self, keep_unanswered: bool):
        self._keep_unanswered = keep_unanswered

    def setup(self):
        self._judge = Judge(NAME, FILTER, StackExchangeFilter.reasons)
        self._chosen = self._filter = None

    def process(self, doc: Document, chosen: tuple[str, ...]):
        if chosen != self._chosen:  # the same for every thread: the filter is built once per worker
            self._chosen, self._filter = chosen, StackExchangeFilter(chosen, self._keep_unanswered)
        yield from self._judge.arrived(doc)
        result = self._filter.apply(doc)
        if isinstance(result, Drop):
            yield from self._judge.drop(doc, result.reason)
        else:
            yield from self._judge.keep(result)


class CurateStackExchange(beam.PTransform):
    """PairPosts -> the stackexchange filter, its sites chosen by RankSites."""

    def __init__(self, settings: StackExchangeSettings):
        super().__init__()
        self._settings = settings

    def expand(self, posts) -> StageResult:
        threads, pair_stats = posts | "Pair" >> PairPosts()
        chosen, ranking_stats = posts | "RankSites" >> RankSites(self._settings)
        # judged() with a side input: the sites are known only once every post is counted.
        out = threads | "Filter" >> beam.ParDo(
            _JudgeThreads(self._settings.keep_unanswered), beam.pvalue.AsSingleton(chosen),
        ).with_outputs(REJECTED, STATS, main="kept")
        stats = (out[STATS], ranking_stats, pair_stats) | "AllStats" >> SumStats()
        return StageResult(out.kept, out[REJECTED], stats)


def _summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    """The sites chosen, with their posts, in rank order; how many were left out."""
    if stage != FILTER or "site_posts" not in entry:
        return []
    posts, chosen = entry["site_posts"], entry.get("site_chosen", {})
    largest, listed = entry.get("sites_largest", {}).get("count"), entry.get("sites_listed", {}).get("count")
    if largest:
        rule = f"by largest:{largest} (the {largest} sites with the most posts)"
    elif listed:
        rule = f"by the list of {listed} in stackexchange.sites"
    else:
        rule = "(stackexchange.sites: null, every site)"
    lines = [f"{indent}sites: {len(chosen)} of {len(posts)} kept {rule}; posts per site:"]
    for rank, (site, n) in enumerate(posts.items(), start=1):
        if site in chosen:
            lines.append(f"{indent}  {rank:>3}. {site:<40} {n:>12,} posts")
    left = [(site, n) for site, n in posts.items() if site not in chosen]
    if left:
        shown = ", ".join(f"{site} {n:,}" for site, n in left[:5])
        more = f", ... {len(left) - 5} more" if len(left) > 5 else ""
        lines.append(f"{indent}  not kept ({len(left)} sites, {sum(n for _, n in left):,} posts): {shown}{more}")
    return lines


SOURCE = Source(
    name=NAME,
    settings=StackExchangeSettings,
    parser=lambda se: parse_posts,
    curate=lambda se, cards: CurateStackExchange(se),
    stages=lambda se: (PAIRING, FILTER),
    llama=LlamaShare(0.020, 1.03, "78 GB"),
    summary_lines=_summary_lines,
)
