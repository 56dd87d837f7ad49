"""Streaming WARC and WET reader: CommonCrawl records in, Documents out.

`parse_warc(path, fileobj)` is the Beam-free parser `pipeline.read.ReadDocuments`
runs on each file. It reads plain WARC, gzip WARC (one member per record, as
CommonCrawl writes them, or a single gzip stream) and WET files; what becomes of
each record (an HTML response's text, a WET conversion's text, or a `Skipped`
marker saying why not) is `pipeline.readers.warc_records`.

FastWARC does the parsing (it is several times faster than warcio). It stops with an
OSError at the first broken record, and silently at a truncated last record, so this
module adds what it lacks: on an error it re-frames the last good record by hand,
reports the broken bytes as `Malformed(path, offset, error)` and restarts FastWARC at
the next record it can find (the next gzip member holding a WARC header, or the next
line starting "WARC/"); at the end it checks the last record is whole. Those checks
only run on the error path and once per file, so a clean file is pure FastWARC.

Offsets are byte offsets in the file as stored: of the gzip member for a gzip WARC
(what CommonCrawl's index gives), of the record for a plain one. A single gzip stream
has no member per record, so there offsets count bytes of the decompressed stream.
"""
from __future__ import annotations

import functools
import gzip
import re
import zlib
from typing import BinaryIO, Iterator

from fastwarc.warc import ArchiveIterator

from filters.document import Document
from pipeline.readers.base import Malformed, Skipped
from pipeline.readers.warc_records import BrokenPayload, RecordConverter, describe_error

_MAX_HEADER = 32 << 10  # FastWARC's default max_header_len
# What reading a damaged single gzip stream raises; such damage ends the file (after a
# Malformed) instead of crashing it. Other OSErrors are real I/O errors and propagate,
# so that the runner retries the file.
_STREAM_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
_HEADER_END = re.compile(rb"\n\r*\n")  # tolerant: some writers end lines with \r\r\n
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r*$")
# Where to resume in a plain WARC: a version line and a header field. Not only at a line
# start: a record cut short by a crash is often followed straight by the next one.
_RECORD_START = re.compile(rb"WARC/\d\.\d+\r?\n[A-Za-z0-9-]+:")


def make_parser(main_content: bool = True, source: str = "cc", report_skipped: bool = False,
                cc_net: bool = False):
    """A picklable `parse(path, fileobj)` for ReadDocuments, bound to these settings."""
    return functools.partial(parse_warc, source=source, main_content=main_content, report_skipped=report_skipped,
                             cc_net=cc_net)


def parse_warc(path: str, fileobj: BinaryIO, *, source: str = "cc", main_content: bool = True,
               report_skipped: bool = False, cc_net: bool = False) -> Iterator[Document | Malformed | Skipped]:
    """Yield one Document per HTML response or WET conversion record of a WARC file.

    Broken records and garbage between records yield `Malformed` and reading resumes
    at the next good record; a file that is not a WARC yields one `Malformed`. With
    `report_skipped`, every other record yields a `Skipped` naming its kind, so that
    documents + skipped + malformed account for the whole file. With `cc_net`, WET
    text is read as cc_net read it and a response record raises `CcNetInputError`
    (`pipeline.readers.warc_records`).
    """
    if not fileobj.seekable():
        raise ValueError(f"{path}: WARC reading needs a seekable file (to resynchronise after bad records)")
    mode, problem = _sniff(fileobj)
    if problem:
        yield Malformed(path, 0, problem)
        return
    if mode is None:  # empty file
        return
    stream = gzip.GzipFile(fileobj=fileobj, mode="rb") if mode == "gzip_stream" else fileobj
    framing = _GzipMembers(stream) if mode == "gzip" else _PlainRecords(stream)
    convert = RecordConverter(path, source, main_content, report_skipped, cc_net)
    start: int | None = 0
    while start is not None:
        start = yield from _read_from(path, stream, framing, convert, start)


def _read_from(path, stream, framing, convert, start: int):
    """Run FastWARC from `start` until the end or an error; return where to resume (or None).

    The item made from the last record is held back until FastWARC moves past that
    record cleanly, so a record found broken afterwards yields Malformed instead.
    """
    try:
        stream.seek(start)
    except _STREAM_ERRORS as e:  # a single gzip stream that cannot be read up to `start`
        yield Malformed(path, start, f"unreadable: {describe_error(e)}")
        return None
    records = iter(ArchiveIterator(stream, parse_http=False, stream_detect=(framing.kind == "gzip")))
    last: int | None = None  # offset of the last record read in this run
    pending = None
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as e:  # noqa: BLE001 - FastWARC's errors are all "this input is broken"
            return (yield from _after_error(path, framing, start, last, pending, describe_error(e)))
        if pending is not None:
            yield pending
        last = record.stream_pos
        try:
            pending = convert(record)
        except BrokenPayload as e:
            yield Malformed(path, last, str(e))
            return framing.next_record(last + 1)
    if last is None:
        end = start
    else:
        end, problem = framing.check(last)
        if problem:  # e.g. a truncated last record, which FastWARC passes over in silence
            yield Malformed(path, last, problem)
            return framing.next_record(last + 1)
        if pending is not None:
            yield pending
    # FastWARC stopped without an error: make sure it did not stop early.
    if framing.at_eof(end):
        return None
    nxt = framing.next_record(end)
    if nxt == end and last is not None:
        return end
    where = f"the next record at {nxt}" if nxt is not None and nxt > end else "the end of the file"
    yield Malformed(path, end, f"no readable record from {end} up to {where}")
    return nxt if nxt is not None and nxt > end else None


def _after_error(path, framing, start: int, last: int | None, pending, error: str):
    """Locate what broke after record `last` (or at `start`), report it, return where to resume."""
    if last is None:  # the record at `start` itself is broken
        yield Malformed(path, start, error)
        return framing.next_record(start + 1)
    end, problem = framing.check(last)
    if problem:  # the last record was not whole after all
        yield Malformed(path, last, f"{problem} ({error})")
        return framing.next_record(last + 1)
    if pending is not None:
        yield pending
    nxt = framing.next_record(end)
    if nxt != end:
        where = f"up to the next record at {nxt}" if nxt is not None else "up to the end of the file"
        yield Malformed(path, end, f"garbage after the record at {last}, {where} ({error})")
    # A record starts where expected after the last one: restart there. If it is
    # broken, FastWARC fails on it at once and it is reported then (and a passing
    # read error in the stream costs nothing).
    return nxt


def _sniff(f) -> tuple[str | None, str | None]:
    """("plain" | "gzip" | "gzip_stream" | None for empty, problem) from the first bytes."""
    f.seek(0)
    head = f.read(1 << 16)
    f.seek(0)
    if not head:
        return None, None
    if head.lstrip(b"\r\n").startswith(b"WARC/"):
        return "plain", None
    if not head.startswith(_GZIP_MAGIC):
        return None, f"not a WARC file: it starts with {head[:24]!r}"
    z = zlib.decompressobj(31)
    try:
        out = z.decompress(head, 1 << 20)
    except zlib.error:
        return "gzip", None  # a broken first member: the error path reports it and moves on
    if out and not out.lstrip(b"\r\n").startswith(b"WARC/"):
        return None, f"not a WARC file: gzip content starts with {out[:24]!r}"
    m = _HEADER_END.search(out)
    cl = m and _CONTENT_LENGTH.search(out, 0, m.end())
    if cl and out[m.end() + int(cl.group(1)):].lstrip(b"\r\n").startswith(b"WARC/"):
        # The first member holds more than one record, so members do not mark records
        # (a single gzip stream): read it decompressed, with offsets in that stream.
        return "gzip_stream", None
    return "gzip", None


class _PlainRecords:
    """Record boundaries of an uncompressed (or decompressed) WARC, for the error path."""

    kind = "plain"

    def __init__(self, f):
        self._f = f

    def check(self, pos: int) -> tuple[int | None, str | None]:
        """(where the next record should start, None) if the record at pos is whole,
        else (None, what is wrong with it)."""
        try:
            return self._check(pos)
        except _STREAM_ERRORS as e:
            return None, f"unreadable: {describe_error(e)}"

    def next_record(self, frm: int) -> int | None:
        """Offset of the first WARC version line (followed by a header) at or after frm."""
        try:
            return self._next_record(frm)
        except _STREAM_ERRORS:
            return None

    def at_eof(self, pos: int) -> bool:
        try:
            self._f.seek(pos)
            return not self._f.read(4096).strip(b"\r\n")
        except _STREAM_ERRORS:
            return False

    def _check(self, pos: int) -> tuple[int | None, str | None]:
        f = self._f
        f.seek(pos)
        head = f.read(_MAX_HEADER + 64)
        m = _HEADER_END.search(head)
        if not m:
            if len(head) < _MAX_HEADER:
                return None, "truncated: the file ends inside the WARC header"
            return None, f"no end of the WARC header within {_MAX_HEADER} bytes"
        cl = _CONTENT_LENGTH.search(head, 0, m.end())
        if not cl:
            return None, "WARC header without a valid Content-Length"
        declared = int(cl.group(1))
        end = pos + m.end() + declared
        if declared:
            f.seek(end - 1)
            if not f.read(1):
                return None, f"truncated: Content-Length {declared} runs past the end of the file"
        f.seek(end)
        tail = f.read(64)
        if tail and tail[:1] not in b"\r\n":
            return None, f"Content-Length {declared} does not end the record: {tail[:16]!r} follows it"
        return end + len(tail) - len(tail.lstrip(b"\r\n")), None

    def _next_record(self, frm: int) -> int | None:
        f = self._f
        f.seek(frm)
        base, buf = frm, b""
        while True:
            chunk = f.read(_CHUNK)
            buf += chunk
            m = _RECORD_START.search(buf)
            if m:
                return base + m.start()
            if not chunk:
                return None
            keep = max(len(buf) - 64, 0)  # a match may straddle chunks
            base += keep
            buf = buf[keep:]


class _GzipMembers:
    """Gzip member boundaries of a one-record-per-member WARC, for the error path."""

    kind = "gzip"

    def __init__(self, f):
        self._f = f

    def check(self, pos: int) -> tuple[int | None, str | None]:
        """(end of the member at pos, None) if it inflates whole to exactly one record,
        else (None, what is wrong with it)."""
        f = self._f
        f.seek(pos)
        z = zlib.decompressobj(31)
        fed = size = 0
        head = b""
        try:
            while not z.eof:
                chunk = f.read(1 << 16)
                if not chunk:
                    return None, "truncated gzip member: the file ends inside it"
                fed += len(chunk)
                data = chunk
                while data and not z.eof:  # bounded output: a member may inflate hugely
                    out = z.decompress(data, _CHUNK)
                    size += len(out)
                    if len(head) < _MAX_HEADER + 64:
                        head += out[: _MAX_HEADER + 64 - len(head)]
                    data = z.unconsumed_tail
        except zlib.error as e:
            return None, f"gzip member does not inflate: {e}"
        end = pos + fed - len(z.unused_data)
        m = _HEADER_END.search(head)
        cl = m and _CONTENT_LENGTH.search(head, 0, m.end())
        if not cl:
            return None, "gzip member without a WARC header and Content-Length"
        declared = int(cl.group(1))
        extra = size - m.end() - declared
        if extra < 0:
            return None, f"truncated record: {-extra} bytes short of its Content-Length"
        # The block is followed by CRLF CRLF, then the member ends or (some writers)
        # another record starts in the same member.
        after = head[m.end() + declared:].lstrip(b"\r\n")
        if extra > 4 and not after.startswith(b"WARC/"):
            return None, f"Content-Length {declared} leaves {extra} bytes unread in the gzip member"
        return end, None

    def next_record(self, frm: int) -> int | None:
        """Offset of the first gzip member at or after frm that inflates to a WARC header."""
        f = self._f
        base = frm
        f.seek(base)
        buf = b""
        while True:
            chunk = f.read(_CHUNK)
            buf += chunk
            i = buf.find(_GZIP_MAGIC)
            while i >= 0:
                if self._starts_record(base + i):
                    return base + i
                i = buf.find(_GZIP_MAGIC, i + 1)
            if not chunk:
                return None
            keep = max(len(buf) - 2, 0)
            base += keep
            buf = buf[keep:]
            f.seek(base + len(buf))

    def _starts_record(self, pos: int) -> bool:
        f = self._f
        f.seek(pos)
        try:
            out = zlib.decompressobj(31).decompress(f.read(1 << 14), 16)
        except zlib.error:
            return False
        return out.startswith(b"WARC/")

    def at_eof(self, pos: int) -> bool:
        self._f.seek(pos)
        return not self._f.read(1)
