"""One WARC/WET record to a Document: what `pipeline.readers.warc` does with each record FastWARC frames.

  response, HTTP 200, text/html or application/xhtml+xml
      -> transfer/content encodings undone -> charset (BOM, HTTP header, <meta>,
         detection) -> resiliparse (main content, or the whole page's text)
  conversion (WET plain text) -> the text as is
  anything else -> not a document; a `Skipped` marker names why (when asked for)

With `cc_net` (CommonCrawl in `cc.line_dedup.mode: cc_net`), a conversion record is
read as cc_net's `process_wet_file.group_by_docs` and `parse_doc` read it
(`cc_net_wet_text`): every line stripped, the first line is the title (kept in
`meta["title"]`, not in the text), and the text keeps the other lines, blank ones
included, as cc_net's `raw_content`. cc_net read WET files only, so a `response`
record is an error (`CcNetInputError`) that says what to do instead.
"""
from __future__ import annotations

import codecs
import io
import os
import re
import zlib

from fastwarc.stream_io import BrotliReader, ChunkedReader, ZstdReader
from fastwarc.warc import WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

from filters.document import Document, digest_id
from pipeline.readers.base import Malformed, Skipped

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Why a record is not a document: its WARC type, or for a response what was wrong.
SKIP_KINDS = (
    "warcinfo", "request", "metadata", "revisit", "resource", "continuation", "unknown",
    "not_http",  # a response that is not an HTTP(S) capture (dns:, file:///, no HTTP block)
    "status_not_200",  # redirects, errors: no page text (LLaMA/CCNet keep 200s only)
    "not_html",  # images, CSS, scripts, PDFs...
    "no_text",  # HTML (or WET text) with nothing left after extraction
)

# An HTML body is read (and decompressed) up to this size: far beyond any real page
# (CommonCrawl stores at most 1-5 MiB), small enough that a gzip bomb cannot hurt.
MAX_HTML_BYTES = 64 << 20


def describe_error(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


class CcNetInputError(ValueError):
    """WARC response input given to the cc_net reading, which takes WET files only."""


class BrokenPayload(Exception):
    """Reading a record's block failed: the record is broken and FastWARC must restart."""


# FastWARC's record types are not hashable; key by their int value.
_SKIP_TYPES = {
    int(WarcRecordType.warcinfo): "warcinfo",
    int(WarcRecordType.request): "request",
    int(WarcRecordType.metadata): "metadata",
    int(WarcRecordType.revisit): "revisit",
    int(WarcRecordType.resource): "resource",
    int(WarcRecordType.continuation): "continuation",
}


class RecordConverter:
    """One FastWARC record -> Document, Skipped (or None when skips are not reported), Malformed."""

    def __init__(self, path: str, source: str, main_content: bool, report_skipped: bool, cc_net: bool = False):
        self.path, self.source = path, source
        self.main_content, self.report_skipped = main_content, report_skipped
        self.cc_net = cc_net
        self.file = os.path.basename(path)

    def __call__(self, record):
        rtype = record.record_type
        if rtype == WarcRecordType.response:
            return self._response(record)
        if rtype == WarcRecordType.conversion:
            return self._conversion(record)
        return self._skip(record, _SKIP_TYPES.get(int(rtype), "unknown"))

    def _skip(self, record, kind: str):
        if self.report_skipped:
            return Skipped(self.path, record.stream_pos, kind, record.content_length)
        return None

    def _response(self, record):
        if self.cc_net:
            raise CcNetInputError(
                f"{self.path}: a WARC response record at offset {record.stream_pos}, but cc.line_dedup.mode "
                "cc_net reads WET files only (cc_net read CommonCrawl's WET conversion records, never WARC "
                "responses): list the .warc.wet.gz files in inputs.cc, or set cc.line_dedup.mode: normalized "
                "to extract the text of WARC HTML responses")
        if not record.is_http or not _target_uri(record).lower().startswith(("http://", "https://")):
            # e.g. dns: records, or a capture tool's file:/// screenshots and reports
            return self._skip(record, "not_http")
        try:
            # Undecoded: archived headers often claim a chunked or gzip body that the
            # crawler stored decoded, so decoding is tried in _decode_payload instead.
            record.parse_http(auto_decode="none")
        except Exception as e:  # noqa: BLE001 - a broken HTTP header in an intact record
            return Malformed(self.path, record.stream_pos, f"bad HTTP header: {describe_error(e)}")
        status = _status(record.http_headers)
        if status is None:
            line = record.http_headers.status_line
            return Malformed(self.path, record.stream_pos, f"no valid HTTP status line: {line!r}")
        if status != 200:
            return self._skip(record, "status_not_200")
        ctype = record.http_content_type or record.headers.get("WARC-Identified-Payload-Type") or ""
        ctype = ctype.split(";", 1)[0].strip().lower()
        if ctype not in HTML_TYPES:
            return self._skip(record, "not_html")
        body = _decode_payload(_read(record, MAX_HTML_BYTES), record.http_headers)
        try:
            html = bytes_to_str(body, _charset(body, record.http_charset))
            text = extract_plain_text(html, main_content=self.main_content)
        except Exception as e:  # noqa: BLE001 - one bad page must not stop the file
            return Malformed(self.path, record.stream_pos, f"HTML extraction failed: {describe_error(e)}")
        return self._document(record, text, ctype)

    def _conversion(self, record):
        text = _read(record).decode("utf-8", errors="replace")
        ctype = record.headers.get("Content-Type", "text/plain")
        if self.cc_net:
            text = _clean(text)
            if not text or text.isspace():
                return self._skip(record, "no_text")
            title, text = cc_net_wet_text(text)
            # A page of one line has no text left: a document all the same, that the
            # min_length stage drops (cc_net's min_len), so that it is counted.
            doc = self._document(record, text, ctype, allow_empty=True)
            if isinstance(doc, Document):
                doc.meta["title"] = title
        else:
            doc = self._document(record, text, ctype)
        if isinstance(doc, Document):
            refers = record.headers.get("WARC-Refers-To")
            if refers:
                doc.meta["refers_to"] = refers.strip("<>")
            langs = record.headers.get("WARC-Identified-Content-Language")
            if langs:
                doc.meta["identified_languages"] = langs
        return doc

    def _document(self, record, text: str, content_type: str, allow_empty: bool = False):
        text = _clean(text)
        if not allow_empty and (not text or text.isspace()):
            return self._skip(record, "no_text")
        record_id = (record.record_id or "").strip("<>")
        if not record_id:
            return Malformed(self.path, record.stream_pos, "record without WARC-Record-ID")
        doc_id = (f"{self.source}/{record_id[9:]}" if record_id.startswith("urn:uuid:")
                  else digest_id(self.source, record_id))
        return Document(
            id=doc_id,
            source=self.source,
            text=text,
            url=_target_uri(record) or None,
            meta={
                "warc_file": self.file,
                "offset": record.stream_pos,
                "date": record.headers.get("WARC-Date"),
                "content_type": content_type,
                "warc_type": str(record.record_type),
            },
        )


def cc_net_wet_text(text: str) -> tuple[str, str]:
    """(title, raw_content) of a WET conversion's text as cc_net read it.

    cc_net's `group_by_docs` reads a WET file line by line (universal newlines, so
    "\\r\\n" and "\\r" end lines, as `_clean` makes them "\\n"), strips every line, and
    gives `parse_doc` the lines after the record's header up to the next record: the
    block, then the empty line the record's closing CRLF CRLF adds. `parse_doc` takes
    the first line as the title, and the rest as `raw_content`, less the last two
    lines when both are empty (a block that ends with a newline). So a block that ends
    without one keeps a last empty line ("\\n" at the end of raw_content), as cc_net's.
    """
    lines = [line.strip() for line in text.split("\n")]
    lines.append("")  # the empty line after the block
    end = len(lines) - 2 if not lines[-2] else len(lines)
    return lines[0], "\n".join(lines[1:end])


def _target_uri(record) -> str:
    # wget (1.20+) writes the WARC 1.1 draft form "<https://...>".
    return (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")


def _read(record, limit: int = -1) -> bytes:
    try:
        return record.reader.read(limit)
    except Exception as e:  # noqa: BLE001
        raise BrokenPayload(f"record body unreadable: {describe_error(e)}") from e


_STATUS = re.compile(r"HTTP/\d+(?:\.\d+)?[ \t]+(\d{3})(?:[ \t]|$)")


def _status(http_headers) -> int | None:
    """The HTTP status; FastWARC gives None for a line without a reason phrase ("HTTP/1.0 302 ")."""
    if http_headers.status_code is not None:
        return http_headers.status_code
    m = _STATUS.match(http_headers.status_line or "")
    return int(m.group(1)) if m else None


def _decode_payload(body: bytes, http_headers) -> bytes:
    """Undo Transfer-/Content-Encoding where the body really is encoded (as warcio does).

    Crawlers often store the decoded body but keep the original headers (CommonCrawl
    renames them instead), so a body that does not decode is taken as it is.
    """
    if "chunked" in (http_headers.get("Transfer-Encoding") or "").lower():
        try:
            body = ChunkedReader(io.BytesIO(body)).read(MAX_HTML_BYTES)
        except Exception:  # noqa: BLE001 - not really chunked: keep it as stored
            pass
    coding = (http_headers.get("Content-Encoding") or "").strip().lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        # A gzip or zlib header (auto-detected); "deflate" is sometimes sent raw.
        for wbits in (47, -15) if coding == "deflate" else (47,):
            try:
                out = zlib.decompressobj(wbits).decompress(body, MAX_HTML_BYTES)
            except zlib.error:
                continue
            if out:  # a body cut short (CommonCrawl truncates) still gives its start
                return out
    elif coding in ("br", "zstd"):
        reader = BrotliReader if coding == "br" else ZstdReader
        try:
            return reader(io.BytesIO(body)).read(MAX_HTML_BYTES)
        except Exception:  # noqa: BLE001 - not really encoded: keep it as stored
            pass
    return body


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _charset(body: bytes, http_charset: str | None) -> str:
    """The HTML5 precedence: byte order mark, HTTP charset, <meta> charset, detection."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if http_charset:
        mapped = map_encoding_to_html5(http_charset, fallback_utf8=False)
        if mapped:
            return mapped
    return detect_encoding(body, from_html_meta=True)


def _clean(text: str) -> str:
    """"\n" line endings, no NUL bytes (the text is valid Unicode already)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text
