"""Assertions shared by the Beam stage tests: every stage's stat rows balance."""
import apache_beam as beam
from apache_beam.testing.util import BeamAssertException, equal_to

from pipeline.stats import StageResult


def stage_results(p, docs_by_source: dict) -> dict:
    """{source: StageResult} of the given documents, no rejects and no stats: a cross-source stage's input."""
    return {source: StageResult(p | f"Docs_{source}" >> beam.Create(docs), p | f"NoRejects_{source}" >> beam.Create([]),
                                p | f"NoStats_{source}" >> beam.Create([]))
            for source, docs in docs_by_source.items()}


def b(*texts: str) -> int:
    """UTF-8 bytes of the texts, as the stats count them."""
    return sum(len(t.encode("utf-8")) for t in texts)


def check_balanced(rows):
    """Every stage: documents in == kept + dropped."""
    by_stage = {}
    for (source, stage, metric), (n, _) in rows:
        by_stage.setdefault((source, stage), {})[metric] = n
    for key, metrics in by_stage.items():
        if "in" not in metrics:
            continue
        dropped = sum(n for m, n in metrics.items() if m.startswith("dropped:"))
        if metrics["in"] != metrics.get("kept", 0) + dropped:
            raise BeamAssertException(f"{key} does not balance: {metrics}")


def stats_equal(expected):
    """An assert_that matcher: the rows balance and equal `expected`."""
    want = equal_to(expected)

    def check(rows):
        check_balanced(rows)
        want(rows)

    return check
