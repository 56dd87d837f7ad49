"""C4's JSON lines (c4-train.NNNNN-of-01024.json.gz) -> one Document per line.

Each line is a JSON object {"text", "timestamp", "url"}, as AllenAI's C4 release
and TFDS's JSON export write it. RedPajama's copy keeps url and timestamp under
"meta"; both layouts are read. Files are gzip-compressed or plain (sniffed from the
magic bytes, not the name) and streamed line by line.

Bad input is a counted skip, located by file and 1-based line number
(`Malformed.offset` is the line number; the message adds the decompressed byte
offset): invalid UTF-8, invalid JSON, a line that is not an object or has no
string "text". A truncated or corrupt gzip stream yields one `Malformed` for the
line where it broke, and reading that file stops there.

Ids are `c4/<blake2b of the url>` (C4 has one page per URL), or `c4/<file>:<line>`
for a record without a URL.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from typing import BinaryIO, Iterator

from filters.document import Document, digest_id
from pipeline.readers.base import Malformed

SOURCE = "c4"
MAX_LINE_BYTES = 64 << 20  # C4 pages are < 200 kB; a longer line is a broken file
_GZIP_MAGIC = b"\x1f\x8b"


class _Prepended:
    """A read-only stream: `head`, then the rest of `fileobj` (to sniff without seeking)."""

    def __init__(self, head: bytes, fileobj: BinaryIO):
        self._head, self._f = head, fileobj

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._f.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._f.read(n - len(out))
            return out
        return self._f.read(n)

    def readable(self) -> bool:
        return True


def open_maybe_gzip(fileobj: BinaryIO):
    """A binary stream of the decompressed bytes, whether or not the input is gzip."""
    head = fileobj.read(2)
    stream = _Prepended(head, fileobj)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")
    return _LineReader(stream)


class _LineReader:
    """readline() over any object with read(), buffered."""

    def __init__(self, raw):
        self._raw, self._buf = raw, b""

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self._buf and (limit < 0 or len(self._buf) < limit):
            chunk = self._raw.read(1 << 16)
            if not chunk:
                break
            self._buf += chunk
        cut = self._buf.find(b"\n") + 1 or len(self._buf)
        if limit >= 0:
            cut = min(cut, limit)
        line, self._buf = self._buf[:cut], self._buf[cut:]
        return line


_CORRUPT = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


def parse_c4_json(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    """Yield a Document per JSON line of a C4 file, Malformed for lines that cannot be read."""
    name = os.path.basename(path.rstrip("/"))
    try:
        stream = open_maybe_gzip(fileobj)
    except _CORRUPT as e:
        yield Malformed(path, 0, f"cannot open: {e}")
        return
    lineno = 0
    offset = 0  # decompressed byte offset of the current line
    while True:
        try:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                skipped = len(raw)
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = stream.readline(1 << 20)
                    skipped += len(raw)
                lineno += 1
                yield Malformed(path, lineno, f"line {lineno} (decompressed byte {offset}): "
                                              f"longer than {MAX_LINE_BYTES} bytes")
                offset += skipped
                continue
        except _CORRUPT as e:
            yield Malformed(path, lineno + 1, f"line {lineno + 1} (decompressed byte {offset}): "
                                              f"truncated or corrupt gzip stream, rest of file skipped: {e}")
            return
        if not raw:
            return
        lineno += 1
        line_offset, offset = offset, offset + len(raw)
        where = f"line {lineno} (decompressed byte {line_offset})"
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Malformed(path, lineno, f"{where}: invalid UTF-8 at byte {e.start} of the line: {e.reason}")
            continue
        try:
            yield _record_document(json.loads(text), name, lineno)
        except json.JSONDecodeError as e:
            yield Malformed(path, lineno, f"{where}: invalid JSON: {e}")
        except ValueError as e:
            yield Malformed(path, lineno, f"{where}: {e}")


def _record_document(record, name: str, lineno: int) -> Document:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        raise ValueError('no string "text" field')
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    url = record.get("url", meta.get("url"))
    timestamp = record.get("timestamp", meta.get("timestamp"))
    if url is not None and not isinstance(url, str):
        raise ValueError(f'"url" must be a string, got {type(url).__name__}')
    doc_id = digest_id(SOURCE, url) if url else f"{SOURCE}/{name}:{lineno}"
    return Document(
        id=doc_id,
        source=SOURCE,
        text=text,
        url=url or None,
        meta={"timestamp": None if timestamp is None else str(timestamp), "file": name, "line": lineno},
    )


_WARC_NAME = re.compile(r"\.(?:warc|wet|arc)(?:\.|$)", re.IGNORECASE)


def is_warc_name(path: str) -> bool:
    """Whether a path (or glob) names WARC/WET/ARC files rather than C4 JSON lines."""
    return bool(_WARC_NAME.search(path.rstrip("/").rsplit("/", 1)[-1]))


class C4Input:
    """The parser for inputs.c4: C4 JSON lines, or WARC/WET files (by name) to rebuild C4.

    `released=True` (c4.mode: released) reads JSON only: a crawl file there is a
    configuration error (the config check refuses such patterns; this catches a
    glob that matched one), since a released C4 has no crawl files.
    """

    def __init__(self, main_content: bool = False, released: bool = False):
        # False: whole-page text, as CommonCrawl's WET (which C4 was built from) keeps
        # it; C4's line rules then remove navigation. Only WARC HTML responses use it.
        self.main_content = main_content
        self.released = released

    def __call__(self, path: str, fileobj):
        if is_warc_name(path):
            if self.released:
                raise ValueError(f"{path}: a WET/WARC file, but c4.mode is released (C4 JSON as published); "
                                 "set c4.mode: rebuild to build C4 from a crawl")
            from pipeline.readers.warc import make_parser

            return make_parser(main_content=self.main_content, source=SOURCE)(path, fileobj)
        return parse_c4_json(path, fileobj)
