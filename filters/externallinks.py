"""URLs cited by Wikipedia, from its `externallinks` table dump (Beam-free).

Wikimedia publishes the table as `<wiki>-<date>-externallinks.sql.gz`: MySQL dump
lines `INSERT INTO `externallinks` VALUES (...),(...);`. Two schemas exist:

- up to MediaWiki 1.40 (the 2022 dumps LLaMA-era work used):
  `(el_id, el_from, el_to, el_index, el_index_60)`, `el_to` the URL as written;
- from 1.41: `(el_id, el_from, el_to_domain_index, el_to_path)`, the host stored
  reversed (`https://org.example.www.`) and the path apart.

`urls_in_line` yields the URLs of one dump line under either schema; any other line
(plain text files of URLs, one a line or TSV with the URL first) yields its first
field when that is a URL (so a dump's DDL and comments yield nothing).
"""
from __future__ import annotations

import re
from typing import Iterator

_INSERT = "INSERT INTO"
# One field of a tuple: a quoted string with MySQL escapes, or a bare token (number, NULL).
_FIELD = re.compile(r"'((?:[^'\\]|\\.)*)'|([^,()']+)", re.DOTALL)
_TUPLE_START = re.compile(r"\(")
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_DOMAIN_INDEX = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*:)?//(?P<host>[^/:]*)(?P<port>:\d+)?$")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _tuples(line: str) -> Iterator[list[str | None]]:
    """The value tuples of an INSERT line, fields as strings (None for NULL)."""
    pos = line.find(" VALUES ")
    if pos < 0:
        return
    pos += len(" VALUES ")
    n = len(line)
    while pos < n:
        start = _TUPLE_START.search(line, pos)
        if start is None:
            return
        pos = start.end()
        fields: list[str | None] = []
        while pos < n:
            m = _FIELD.match(line, pos)
            if m is None:  # an empty field or a malformed tuple: give up on this line
                return
            if m.group(1) is not None:
                fields.append(_unescape(m.group(1)))
            else:
                token = m.group(2).strip()
                fields.append(None if token == "NULL" else token)
            pos = m.end()
            if pos < n and line[pos] == ",":
                pos += 1
                continue
            if pos < n and line[pos] == ")":
                pos += 1
                yield fields
                break
            return  # malformed


def url_from_domain_index(domain_index: str, path: str) -> str | None:
    """`https://org.example.www.` + `/a` -> `https://www.example.org/a` (MediaWiki 1.41+)."""
    m = _DOMAIN_INDEX.match(domain_index)
    if m is None:
        return None
    labels = [label for label in m.group("host").split(".") if label]
    if not labels:
        return None
    host = ".".join(reversed(labels))
    scheme = m.group("scheme") or ""
    return f"{scheme}//{host}{m.group('port') or ''}{path}"


def urls_in_line(line: str) -> Iterator[str]:
    """URLs in one line of an externallinks dump, or of a plain URL list."""
    if not line.startswith(_INSERT):
        first = line.split("\t", 1)[0].strip()
        if "://" in first or first.startswith("//"):  # not the dump's DDL and comments
            yield first
        return
    if "`externallinks`" not in line[:64]:
        return
    for fields in _tuples(line):
        if len(fields) == 5 and fields[2]:  # el_id, el_from, el_to, el_index, el_index_60
            yield fields[2]
        elif len(fields) == 4 and fields[2] is not None:  # el_id, el_from, el_to_domain_index, el_to_path
            url = url_from_domain_index(fields[2], fields[3] or "")
            if url:
                yield url
