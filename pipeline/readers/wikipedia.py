"""MediaWiki XML dumps (pages-articles*.xml[.bz2]) -> one Document per <page>.

Dumps are tens of GB, so the file is streamed: bz2 (multi-stream too) is
decompressed chunk by chunk and the byte stream is cut at the `<page>` and
`</page>` tags, which cannot occur anywhere else in well-formed dump XML (markup
in wikitext is escaped as `&lt;`). Each page is then parsed on its own with
ElementTree. Memory stays at one page plus one read chunk, and a bad page is a
located, counted skip (`Malformed`) after which reading resumes at the next
`<page>`, which a single streaming XML parser cannot do (expat stops at the first
error). A truncated file yields a `Malformed` for the unfinished page and stops.

The encoding is sniffed after decompression: UTF-8, or UTF-16 with a BOM (gensim's
Bulgarian sample), whose tags are searched for in their UTF-16 form.

Every page is yielded, articles or not, so `filters.wikitext.WikipediaFilter`
counts what it drops. `Malformed.offset` is the page's index in the file (0-based);
the error message adds its byte offset in the decompressed stream.
"""
from __future__ import annotations

import bz2
import codecs
import os
import re
import xml.etree.ElementTree as ET
from typing import BinaryIO, Iterator
from urllib.parse import urlsplit

from filters.document import Document
from pipeline.readers.base import Malformed

SOURCE = "wikipedia"
READ_CHUNK = 1 << 20  # compressed bytes per read
MAX_PAGE_BYTES = 64 << 20  # MediaWiki caps an article at 2 MiB of wikitext; 64 MiB is surely broken
_BZ2_MAGIC = b"BZh"


def parse_mediawiki(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    """Yield a Document for every <page> of a MediaWiki XML dump, Malformed for bad ones."""
    dump_file = os.path.basename(path.rstrip("/"))
    chunks = _decompressed(fileobj)
    splitter = _PageSplitter(chunks)
    try:
        header = splitter.header()
    except (OSError, EOFError, ValueError) as e:
        yield Malformed(path, 0, f"cannot read the dump header: {e}")
        return
    if not header.strip(_BLANK) and splitter.exhausted:
        yield Malformed(path, 0, "empty file")
        return
    site = _SiteInfo.from_header(header, splitter.encoding, dump_file)
    if site.error:  # counted, then the language comes from the fallbacks
        yield Malformed(path, 0, f"bad <siteinfo> in the dump header: {site.error}")
    if site.lang is None:
        yield Malformed(path, 0, "cannot tell the wiki's language: no <dbname>, <base>, xml:lang "
                                 "or '<lang>wiki-' file name")
        return
    for index, offset, page in splitter.pages():
        if isinstance(page, str):  # an error found while splitting
            yield Malformed(path, index, f"page {index} at decompressed byte {offset}: {page}")
            continue
        try:
            yield _page_document(page.decode(splitter.encoding), site, dump_file)
        except (ET.ParseError, UnicodeDecodeError, ValueError) as e:
            yield Malformed(path, index, f"page {index} at decompressed byte {offset}: {e}")


class _SiteInfo:
    def __init__(self, lang: str | None, namespaces: dict[str, int], error: str | None):
        self.lang = lang
        self.namespaces = namespaces  # casefolded local name -> key, to infer a missing <ns>
        self.error = error

    @classmethod
    def from_header(cls, header: bytes, encoding: str, dump_file: str) -> "_SiteInfo":
        text = header.decode(encoding, errors="replace")
        namespaces: dict[str, int] = {}
        dbname = base = error = None
        m = re.search(r"<siteinfo>.*?</siteinfo>", text, re.DOTALL)
        try:
            info = ET.fromstring(m.group(0)) if m else None
        except ET.ParseError as e:
            info, error = None, str(e)
        if info is not None:
            dbname = (info.findtext("dbname") or "").strip()
            base = (info.findtext("base") or "").strip()
            for ns in info.iter("namespace"):
                if ns.text and ns.get("key", "").lstrip("-").isdigit():
                    namespaces[ns.text.strip().casefold()] = int(ns.get("key"))
        root_lang = re.search(r"<mediawiki\b[^>]*\bxml:lang=\"([^\"]+)\"", text)
        file_lang = re.match(r"([a-z_]+)wiki-", dump_file)
        lang = None
        if dbname and dbname.endswith("wiki"):  # enwiki, zh_min_nanwiki
            lang = dbname[: -len("wiki")].replace("_", "-")
        elif base and urlsplit(base).hostname:  # https://bg.wikipedia.org/wiki/...
            lang = urlsplit(base).hostname.split(".")[0]
        elif root_lang:  # <mediawiki xml:lang="en">: the content language
            lang = root_lang.group(1)
        elif file_lang:  # enwiki-20240101-pages-articles.xml.bz2
            lang = file_lang.group(1).replace("_", "-")
        return cls(lang.lower() if lang else None, namespaces, error)


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _page_document(xml_text: str, site: _SiteInfo, dump_file: str) -> Document:
    page = ET.fromstring(xml_text)
    title = (page.findtext("title") or "").strip()
    if not title:
        raise ValueError("page has no <title>")
    page_id_text = (page.findtext("id") or "").strip()
    if not page_id_text.isdigit():
        raise ValueError(f"page {title!r} has no numeric <id>: {page_id_text!r}")
    ns_text = (page.findtext("ns") or "").strip()
    if ns_text:
        ns = int(ns_text)
    else:  # dumps before schema 0.6 have no <ns>: the title's prefix names it
        prefix, sep, _ = title.partition(":")
        ns = site.namespaces.get(prefix.strip().casefold(), 0) if sep else 0
    redirect = page.find("redirect")
    revisions = page.findall("revision")
    if not revisions:
        raise ValueError(f"page {title!r} has no <revision>")
    revision = revisions[-1]  # full-history dumps list oldest first
    lang = site.lang
    return Document(
        id=f"{SOURCE}/{lang}/{page_id_text}",
        source=SOURCE,
        text=revision.findtext("text") or "",  # <text deleted="deleted"/> has none
        url=f"https://{lang}.wikipedia.org/wiki/{title.replace(' ', '_')}",
        meta={
            "title": title,
            "ns": ns,
            "page_id": int(page_id_text),
            "redirect": None if redirect is None else redirect.get("title", ""),
            "wiki_lang": lang,
            "dump_file": dump_file,
            "revision_id": _int_or_none(revision.findtext("id")),
            "timestamp": (revision.findtext("timestamp") or "").strip() or None,
        },
    )


class _PageSplitter:
    """Cuts a decompressed byte stream into the header and the raw bytes of each page.

    `_buf[_pos:]` is the unread data; it is compacted only when a chunk is appended,
    so cutting many small pages out of one chunk does not copy the chunk each time.
    """

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self._base = 0  # decompressed offset of _buf[0]
        self._eof = False
        self.encoding = "utf-8"

    def header(self) -> bytes:
        """Everything before the first <page> (the root tag and <siteinfo>)."""
        while len(self._buf) < 4 and self._fill():
            pass
        self.encoding, bom = _sniff_encoding(self._buf[:4])
        self._pos = bom
        self._start, self._end = self._encode("<page>"), self._encode("</page>")
        self._close_root = self._encode("</mediawiki>")
        cut = self._search(self._start)
        if cut < 0:  # no pages at all: stop before the root's end tag, if any
            cut = self._find(self._close_root, 0)
            cut = cut if cut >= 0 else self._pending
        header = self._buf[self._pos:self._pos + cut]
        self._pos += cut
        return header

    def pages(self) -> Iterator[tuple[int, int, bytes | str]]:
        """(page index, decompressed offset, the page's bytes or what is wrong with it)."""
        index = 0
        resyncing = False  # after an oversized page: its tail is not reported again
        try:
            while True:
                start = self._search(self._start)
                if start < 0 and not self._eof:  # MAX_PAGE_BYTES of something else
                    if not resyncing:
                        yield index, self.offset, f"no <page> within {MAX_PAGE_BYTES} bytes"
                        index += 1
                    self._pos = len(self._buf) - len(self._start) + 1  # keep a tag cut in two
                    resyncing = True
                    continue
                if start < 0:
                    problem = None if resyncing else self._trailer_problem()
                    if problem:
                        yield index, self.offset, problem
                    return
                if not resyncing and self._buf[self._pos:self._pos + start].strip(_BLANK):
                    yield index, self.offset, "unexpected content between pages (a damaged <page> tag?)"
                    index += 1
                resyncing = False
                self._pos += start
                end = self._search(self._end, len(self._start))
                limit = end if end >= 0 else self._pending
                nxt = self._find(self._start, len(self._start), limit)
                if nxt >= 0:
                    yield index, self.offset, "<page> without </page> before the next <page>"
                    self._pos += nxt
                elif end < 0 and self._eof:
                    yield index, self.offset, "file ends inside this page (truncated file)"
                    return
                elif end < 0:
                    yield index, self.offset, f"no </page> within {MAX_PAGE_BYTES} bytes"
                    self._pos = len(self._buf) - len(self._start) + 1
                    resyncing = True
                else:
                    stop = end + len(self._end)
                    yield index, self.offset, self._buf[self._pos:self._pos + stop]
                    self._pos += stop
                index += 1
        except (EOFError, OSError) as e:  # bz2: truncated or corrupt compressed data
            yield index, self.offset, f"cannot decompress: {e} (truncated or corrupt file)"

    @property
    def exhausted(self) -> bool:
        return self._eof and not self._pending

    @property
    def offset(self) -> int:
        return self._base + self._pos

    @property
    def _pending(self) -> int:
        return len(self._buf) - self._pos

    def _fill(self) -> bool:
        """Append the next chunk; False at the end of the stream."""
        if self._eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self._base += self._pos
                self._buf, self._pos = self._buf[self._pos:] + chunk, 0
                return True
        self._eof = True
        return False

    def _find(self, needle: bytes, start: int, stop: int | None = None) -> int:
        """Offset of a tag relative to _pos, or -1, without reading more. In UTF-16 a
        match must start at an even offset (a character boundary)."""
        start += self._pos
        stop = len(self._buf) if stop is None else stop + self._pos
        while (i := self._buf.find(needle, start, stop)) >= 0:
            if self.encoding == "utf-8" or (self._base + i) % 2 == 0:
                return i - self._pos
            start = i + 1
        return -1

    def _search(self, needle: bytes, start: int = 0) -> int:
        """Like _find, reading more chunks until found, the end, or MAX_PAGE_BYTES unread."""
        while (i := self._find(needle, start)) < 0:
            start = max(start, self._pending - len(needle) + 1)  # a tag may straddle chunks
            if self._pending > MAX_PAGE_BYTES or not self._fill():
                return -1
        return i

    def _trailer_problem(self) -> str | None:
        """After the last page only the root's end tag may follow."""
        while self._pending <= MAX_PAGE_BYTES and self._fill():
            pass
        rest = self._buf[self._pos:].strip(_BLANK)
        if rest == self._close_root.strip(_BLANK):  # UTF-16-LE: the last zero byte strips too
            return None
        if not rest:
            return "file ends without </mediawiki> (truncated file)"
        return "unexpected content after the last page"

    def _encode(self, tag: str) -> bytes:
        return tag.encode(self.encoding)


_BLANK = b"\x00 \t\r\n"  # whitespace, in UTF-8 or (with its zero bytes) UTF-16


def _sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec, BOM length) from the first decompressed bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    if head.startswith(b"<\x00"):  # UTF-16 without a BOM
        return "utf-16-le", 0
    if head.startswith(b"\x00<"):
        return "utf-16-be", 0
    return "utf-8", 0


def _decompressed(fileobj: BinaryIO) -> Iterator[bytes]:
    """The file's bytes, bz2-decompressed when it starts with the bz2 magic (whatever
    its name: gensim ships '.bz2' files without '.xml'). Concatenated bz2 streams
    (the "multistream" dumps) are read through. Raises EOFError if truncated."""
    head = fileobj.read(len(_BZ2_MAGIC))
    if head != _BZ2_MAGIC:
        yield head
        while chunk := fileobj.read(READ_CHUNK):
            yield chunk
        return
    decompressor = bz2.BZ2Decompressor()
    data = head
    while True:
        if decompressor.eof:  # end of one bz2 stream: another may follow
            data = decompressor.unused_data or fileobj.read(READ_CHUNK)
            if not data:
                return
            decompressor = bz2.BZ2Decompressor()
        elif decompressor.needs_input and not data:
            data = fileobj.read(READ_CHUNK)
            if not data:
                raise EOFError("compressed stream ends before its end-of-stream marker")
        # Bounded output per call keeps memory flat even for highly compressible input.
        yield decompressor.decompress(data, READ_CHUNK)
        data = b""
