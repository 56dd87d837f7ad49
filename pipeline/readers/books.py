"""Plain-text books -> one Document per book.

Two layouts, told apart by the file name:

  *.txt, *.txt.gz (any name not below)     one book a file: Project Gutenberg's
                                           mirrors (pgNNNN.txt), or any plain text
  *.tar, *.tar.gz, *.tgz, *.tar.bz2, *.tar.xz
                                           one book per regular member ending in .txt,
                                           streamed: Books3 ships as such a tarball

Text is UTF-8 (a BOM is dropped) with line ends normalised to "\\n". Ids are
`books/<file name without .txt/.gz>`, or `books/<archive name>/<member path without
.txt>` for a tar member, so they are stable and readable; file names must be
unique across the inputs (Gutenberg's and Books3's are).

Bad input is a counted skip: a book with invalid UTF-8 or over MAX_BOOK_BYTES, a
truncated or corrupt gzip file, a truncated tar (reading that archive stops there).
`Malformed.offset` is the byte offset, in the decompressed file or tar stream, of
the invalid byte or of the broken member's header.
"""
from __future__ import annotations

import gzip
import os
import tarfile
import zlib
from typing import BinaryIO, Iterator

from filters.document import Document
from pipeline.readers.base import Malformed

SOURCE = "books"
MAX_BOOK_BYTES = 256 << 20  # the longest books are ~10 MB of text; larger is not one book
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_GZIP_MAGIC = b"\x1f\x8b"
_CORRUPT = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError, OSError)


def book_id(file_name: str, member: str | None = None) -> str:
    def stem(name: str) -> str:
        for suffix in (".gz", ".txt"):
            name = name.removesuffix(suffix)
        return name

    if member is None:
        return f"{SOURCE}/{stem(file_name)}"
    archive = file_name
    for suffix in TAR_SUFFIXES:
        if archive.endswith(suffix):
            archive = archive[: -len(suffix)]
            break
    return f"{SOURCE}/{archive}/{stem(member.lstrip('./'))}"


def _decode(data: bytes) -> str:
    text = data.decode("utf-8")
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def parse_books(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    """Yield the books of one text file or tar archive; Malformed for unreadable ones."""
    name = os.path.basename(path.rstrip("/"))
    if name.lower().endswith(TAR_SUFFIXES):
        yield from _parse_tar(path, name, fileobj)
    else:
        yield from _parse_text(path, name, fileobj)


class _Prepended:
    """A read-only stream: `head`, then the rest of `fileobj` (to sniff without seeking)."""

    def __init__(self, head: bytes, fileobj: BinaryIO):
        self._head, self._f = head, fileobj

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._f.read(n)
        if n is None or n < 0:
            out, self._head = self._head + self._f.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        return out + (self._f.read(n - len(out)) if len(out) < n else b"")


def _parse_text(path: str, name: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    try:
        head = fileobj.read(2)
        stream = _Prepended(head, fileobj)
        if head == _GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        data = stream.read(MAX_BOOK_BYTES + 1)
    except _CORRUPT as e:
        yield Malformed(path, 0, f"truncated or corrupt gzip file, book skipped: {e}")
        return
    if len(data) > MAX_BOOK_BYTES:
        yield Malformed(path, 0, f"longer than {MAX_BOOK_BYTES} bytes: not one book")
        return
    if not data:
        yield Malformed(path, 0, "empty file (or an empty compressed stream): no book")
        return
    try:
        text = _decode(data)
    except UnicodeDecodeError as e:
        yield Malformed(path, e.start, f"invalid UTF-8 at byte {e.start}: {e.reason}")
        return
    yield Document(id=book_id(name), source=SOURCE, text=text, meta={"file": name})


def _parse_tar(path: str, name: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    member_offset = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for info in tar:
                member_offset = info.offset
                if not info.isreg() or not info.name.endswith(".txt"):
                    continue
                if info.size > MAX_BOOK_BYTES:
                    yield Malformed(path, info.offset, f"member {info.name}: longer than {MAX_BOOK_BYTES} bytes")
                    continue
                data = tar.extractfile(info).read()
                if len(data) != info.size:
                    raise EOFError(f"member {info.name} ends after {len(data)} of {info.size} bytes")
                try:
                    text = _decode(data)
                except UnicodeDecodeError as e:
                    yield Malformed(path, info.offset_data + e.start,
                                    f"member {info.name}: invalid UTF-8 at byte {e.start} of the member: {e.reason}")
                    continue
                yield Document(id=book_id(name, info.name), source=SOURCE, text=text,
                               meta={"file": name, "member": info.name})
    except _CORRUPT as e:
        yield Malformed(path, member_offset,
                        f"truncated or corrupt archive after the member at byte {member_offset}, rest skipped: {e}")
