"""Read a report page back: its tables (rows with their attributes and cells' data-k/data-v) and
other tagged elements, with the standard library's HTML parser."""
from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.tagged: list[tuple[str, dict, list[str]]] = []  # elements with data-* attributes, and their text
        self._table: list[dict] | None = None
        self._row: dict | None = None
        self._cell: dict | None = None
        self._open: list[tuple[str, dict, list[str]]] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or f"table-{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"k": a.get("data-k"), "v": a.get("data-v"), "text": ""}
        if any(k.startswith("data-") for k in a):
            self._open.append((tag, a, []))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._row["cells"] and any(c["k"] or c["text"] for c in self._row["cells"]):
                self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        if self._open and self._open[-1][0] == tag:
            self.tagged.append(self._open.pop())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        for _, _, texts in self._open:
            texts.append(data)


def read_page(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def number(value: str | None):
    if value is None:
        return None
    return float(value) if any(c in value for c in ".eE") else int(value)


def rows(page: _Tables, table_id: str, key_attr: str) -> dict[str, dict]:
    """{row's key attribute: {column key: exact value}} of one table, header rows left out."""
    out = {}
    for row in page.tables[table_id]:
        key = row["attrs"].get(key_attr)
        if key is not None:
            out[key] = {c["k"]: number(c["v"]) for c in row["cells"] if c["k"]}
            out[key]["_text"] = [c["text"] for c in row["cells"]]
    return out
