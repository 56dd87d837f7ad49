"""Connected components on Beam, by min-label propagation: edges (a, b) -> (node, label),
every node labelled with the smallest id of its component (used by the components rule of
pipeline.stages.near_dedup, whose docstring explains the rule and its bounds).

Each round is one GroupByKey; a node sends its label to its neighbours only in the
round after it changed. Stat rows count the label changes per round, the component
sizes, and what was still moving after `max_rounds`.
"""
from __future__ import annotations

import apache_beam as beam


def _row(at: tuple[str, str], metric: str, count: int = 1):
    """A plain stat row of (source, stage) `at`."""
    source, stage = at
    return (source, stage, metric), (count, 0)


def _both_ways(edge):
    a, b = edge
    yield a, b
    yield b, a


def _first_round(element):
    """(node, neighbours) -> (node, (label, changed, neighbours)): round 1, the smallest of the closed neighbourhood."""
    node, neighbours = element
    neighbours = tuple(sorted(set(neighbours)))
    label = min(node, neighbours[0])
    return node, (label, label != node, neighbours)


def _messages(element):
    """A node's state to itself, and its label to its neighbours if it changed last round
    (an unchanged label reached them already)."""
    node, (label, changed, neighbours) = element
    yield node, (label, neighbours)
    if changed:
        for other in neighbours:
            yield other, (label, None)


def _update(element):
    """(node, [its state and the labels sent to it]) -> (node, (smallest label, changed, neighbours))."""
    node, values = element
    label, neighbours, received = None, None, []
    for value, nbrs in values:
        if nbrs is None:
            received.append(value)
        else:
            label, neighbours = value, nbrs
    new = min([label, *received])
    return node, (new, new < label, neighbours)


class _Round(beam.PTransform):
    """One round of min-label propagation: one GroupByKey."""

    def expand(self, state):
        return (state
                | "Send" >> beam.FlatMap(_messages)
                | "Gather" >> beam.GroupByKey()
                | "Update" >> beam.Map(_update))


def _pending(element):
    """Check pass: (node, [state and labels sent]) -> the smaller label it would take next round, if any."""
    _, values = element
    label, received = None, []
    for value, nbrs in values:
        if nbrs is None:
            received.append(value)
        else:
            label = value
    if received and min(received) < label:
        yield min(received)


class MinLabelComponents(beam.PTransform):
    """Edges (a, b) -> (node, label) for every node: label = the smallest id of its
    connected component, by min-label propagation in at most `max_rounds` rounds.

    Returns (labels, stat rows). Rows of `source`'s `stage`: "label_changes:<round>"
    (documents whose label fell in that round: rounds used = the rounds listed),
    "max_rounds", "cluster_sizes:<n>" (components of n documents), and, when labels
    were still moving after the last round, "unconverged_documents" (documents whose
    label would still fall) and "unconverged_components": the roots (documents
    labelled with their own id) whose label was still spreading. Each unconverged
    component has one, its smallest id; it counts twice only if it also has another
    local minimum more than max_rounds hops away from that id.
    """

    def __init__(self, source: str, stage: str, max_rounds: int):
        super().__init__()
        self._source, self._stage, self._max_rounds = source, stage, max_rounds

    def expand(self, edges):
        at = (self._source, self._stage)  # the stat rows' source and stage
        state = (edges
                 | "BothWays" >> beam.FlatMap(_both_ways)
                 | "Neighbours" >> beam.GroupByKey()
                 | "Round1" >> beam.Map(_first_round))
        rows = [edges.pipeline | "MaxRounds" >> beam.Create([_row(at, "max_rounds", self._max_rounds)]),
                state | "Changes1" >> beam.FlatMap(_changes, at, 1)]
        for r in range(2, self._max_rounds + 1):
            state = state | f"Round{r}" >> _Round()
            rows.append(state | f"Changes{r}" >> beam.FlatMap(_changes, at, r))
        pending = (state
                   | "CheckSend" >> beam.FlatMap(_messages)
                   | "CheckGather" >> beam.GroupByKey()
                   | "Pending" >> beam.FlatMap(_pending))
        rows.append(pending | "UnconvergedDocuments" >> beam.Map(lambda _: _row(at, "unconverged_documents")))
        labels = state | "Labels" >> beam.MapTuple(lambda node, st: (node, st[0]))
        spreading = pending | "SpreadingLabels" >> beam.Distinct() | "KeySpreading" >> beam.Map(lambda l: (l, None))
        rows.append({"spreading": spreading, "label": labels}
                    | "JoinSpreading" >> beam.CoGroupByKey()
                    | "UnconvergedComponents" >> beam.FlatMap(_spreading_root, at))
        rows.append(labels
                    | "ByLabel" >> beam.MapTuple(lambda node, label: (label, 1))
                    | "ComponentSizes" >> beam.CombinePerKey(sum)
                    | "SizeRows" >> beam.MapTuple(lambda label, n: _row(at, f"cluster_sizes:{n}")))
        return labels, tuple(rows) | "AllRows" >> beam.Flatten()


def _spreading_root(element, at: tuple[str, str]):
    """A root (a document labelled with its own id) whose label is still spreading: an unconverged component."""
    node, joined = element
    if list(joined["spreading"]) and node in joined["label"]:
        yield _row(at, "unconverged_components")


def _changes(element, at: tuple[str, str], round_: int):
    _, (_, changed, _) = element
    if changed:
        yield _row(at, f"label_changes:{round_}")
