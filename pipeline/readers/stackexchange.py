"""StackExchange dump: Posts.xml (plain, or inside the site's .7z) -> one Document per post.

The official dump (Internet Archive `stackexchange/`) has one archive per site,
`<site>.7z` (stackoverflow.com is split: `stackoverflow.com-Posts.7z`), holding
`Posts.xml`: `<posts>` with one self-closing `<row .../>` per post, attributes Id,
PostTypeId (1 question, 2 answer, 3-8 wiki and other pages), ParentId (answers),
AcceptedAnswerId, CreationDate, Score, ViewCount, Body (HTML, XML-escaped),
OwnerUserId, LastActivityDate, Title, Tags ("<a><b>", or "|a|b|" since 2024),
AnswerCount, CommentCount, ContentLicense, ...

Dumps are tens of GB, so the file is streamed: a .7z member is decompressed by
py7zr in a background thread into a small bounded queue (py7zr pushes chunks to a
writer; we pull lines). The dump writes each row on its own line (newlines inside
attributes are escaped as &#xA;), so rows are framed by line and each parsed on
its own with ElementTree: a bad row is a located, counted skip (`Malformed`, offset =
its byte offset in Posts.xml) and reading goes on with the next line, which a single
streaming XML parser cannot do (expat stops at the first error). A file that ends
before `</posts>` is reported as truncated.

The site is named by the path: `.../stackoverflow.com/Posts.xml`,
`math.stackexchange.com.7z`, `stackoverflow.com-Posts.7z`. Questions are paired with
their answers later, on Beam's shuffle (pipeline/sources/stackexchange.py).
"""
from __future__ import annotations

import posixpath
import queue
import re
import threading
import xml.etree.ElementTree as ET
from typing import BinaryIO, Iterator

from filters.document import Document
from pipeline.readers.base import Malformed

SOURCE = "stackexchange"
READ_CHUNK = 1 << 20
MAX_ROW_BYTES = 16 << 20  # the largest real posts are ~100 KB; a row this long is broken framing
_QUEUE_CHUNKS = 8  # 8 MB in flight between the 7z thread and the parser


def site_of(path: str) -> str | None:
    """The site a dump file belongs to, from its path; None if the path does not say."""
    parts = path.replace("\\", "/").rstrip("/").split("/")
    name = parts[-1]
    low = name.lower()
    if low.endswith(".7z"):
        stem = name[:-3]
        stem = re.sub(r"(?i)-posts$", "", stem)
        return stem.lower() or None
    if low == "posts.xml":
        return parts[-2].lower() if len(parts) >= 2 and parts[-2] else None
    m = re.match(r"(?i)(.+?)[-_.]posts\.xml$", name)
    return m.group(1).lower() if m else None


def parse_posts(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    """Yield one Document per <row> of a Posts.xml (plain or in a .7z), Malformed for bad rows."""
    site = site_of(path)
    if site is None:
        yield Malformed(path, 0, "cannot tell the site: expected <site>/Posts.xml, <site>.7z or <site>-Posts.7z")
        return
    if path.lower().endswith(".7z"):
        chunks = _SevenZipChunks(path, fileobj)
        try:
            yield from _rows(path, site, chunks)
        finally:
            chunks.close()
    else:
        yield from _rows(path, site, iter(lambda: fileobj.read(READ_CHUNK), b""))


def _lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line without its newline) over a stream of chunks."""
    buf = b""
    base = 0
    for chunk in chunks:
        buf += chunk
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            yield base + start, buf[start:nl]
            start = nl + 1
        base += start
        buf = buf[start:]
    if buf:
        yield base, buf


def _rows(path: str, site: str, chunks) -> Iterator[Document | Malformed]:
    dump_file = posixpath.basename(path.replace("\\", "/"))
    opened = closed = False
    pending: list[bytes] = []
    pending_at = 0
    offset = 0
    try:
        for offset, raw in _lines(chunks):
            line = raw.strip()
            if pending and (line.startswith(b"<row") or line == b"</posts>"):
                # Inside a row no line can start with a tag ("<" is escaped in attribute values):
                # the pending row never ended (an unterminated attribute, a lost "/>"). Report it
                # alone and read this line as what it is, so one broken row costs only itself.
                yield Malformed(path, pending_at, f"byte {pending_at}: a <row> that never ends "
                                                  f"(an unterminated attribute or a missing />)")
                pending = []
            if pending:  # a row continued over several lines (not the dump's layout, but valid XML)
                pending.append(raw)
                if line.endswith(b"/>") or sum(map(len, pending)) > MAX_ROW_BYTES:
                    yield _row(path, pending_at, b"\n".join(pending), site, dump_file)
                    pending = []
                continue
            if not line or line.startswith(b"<?xml") or line.startswith(b"\xef\xbb\xbf<?xml"):
                continue
            if line.startswith(b"<posts"):
                opened = True
            elif line == b"</posts>":
                closed = True
            elif line.startswith(b"<row"):
                if line.endswith(b"/>"):
                    yield _row(path, offset, line, site, dump_file)
                else:
                    pending, pending_at = [raw], offset
            else:
                yield Malformed(path, offset, f"byte {offset}: not a <row> line: {line[:80]!r}")
    except _DecompressError as e:
        yield Malformed(path, offset, f"cannot decompress Posts.xml after byte {offset}: {e} (truncated or corrupt archive)")
        return
    if pending:
        yield Malformed(path, pending_at, f"byte {pending_at}: the file ends inside a <row> (truncated file)")
    elif not opened:
        yield Malformed(path, 0, "no <posts> element: not a Posts.xml")
    elif not closed:
        yield Malformed(path, offset, "the file ends before </posts> (truncated file)")


def _int(row, name: str, required: bool = False) -> int | None:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise ValueError(f"row has no {name}")
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def parse_tags(value: str | None) -> list[str]:
    """"<python><regex>" (dumps up to 2023) or "|python|regex|" (2024 on) -> ["python", "regex"]."""
    if not value:
        return []
    if value.startswith("<"):
        return re.findall(r"<([^<>]+)>", value)
    return [t for t in value.split("|") if t]


def _row(path: str, offset: int, data: bytes, site: str, dump_file: str) -> Document | Malformed:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return Malformed(path, offset, f"byte {offset}: row is not valid UTF-8 ({e.reason} at byte {e.start} of the row)")
    try:
        row = ET.fromstring(text)
        if row.tag != "row":
            raise ValueError(f"<{row.tag}> where a <row> was expected")
        post_id = _int(row, "Id", required=True)
        post_type = _int(row, "PostTypeId", required=True)
        score = _int(row, "Score") or 0
        meta = {
            "site": site,
            "post_id": post_id,
            "post_type": post_type,
            "parent_id": _int(row, "ParentId"),
            "accepted_answer_id": _int(row, "AcceptedAnswerId"),
            "score": score,
            "title": row.get("Title"),
            "tags": parse_tags(row.get("Tags")),
            "creation_date": row.get("CreationDate"),
            "content_license": row.get("ContentLicense"),
            "dump_file": dump_file,
        }
    except (ET.ParseError, ValueError) as e:
        return Malformed(path, offset, f"byte {offset}: bad <row>: {e}")
    if post_type == 2 and meta["parent_id"] is None:
        return Malformed(path, offset, f"byte {offset}: answer {post_id} has no ParentId")
    url = f"https://{site}/questions/{post_id}" if post_type == 1 else f"https://{site}/a/{post_id}"
    return Document(id=f"{SOURCE}/{site}/{post_id}", source=SOURCE, text=row.get("Body") or "", url=url, meta=meta)


# --- .7z streaming ----------------------------------------------------------------------


class _DecompressError(Exception):
    pass


_DONE = object()


class _SevenZipChunks:
    """Iterate the decompressed bytes of the Posts.xml member of a .7z archive.

    py7zr pushes decompressed data into a writer; a thread runs the extraction and
    hands chunks over a bounded queue, so memory stays at a few chunks. `close()`
    stops the thread if the reader stops early (sampling, an error downstream).
    """

    def __init__(self, path: str, fileobj: BinaryIO):
        self._path, self._fileobj = path, fileobj
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="7z-posts", daemon=True)
        self._started = False

    def _run(self):
        import py7zr
        from py7zr.io import Py7zIO, WriterFactory

        outer = self

        class _Writer(Py7zIO):
            def write(self, s):
                if outer._stop.is_set():
                    raise _Stopped()
                outer._put(bytes(s))
                return len(s)

            def read(self, size=None):
                return b""

            def seek(self, offset, whence=0):
                return 0

            def flush(self):
                pass

            def size(self):
                return 0

        class _Factory(WriterFactory):
            def create(self, filename):
                return _Writer()

        try:
            with py7zr.SevenZipFile(self._fileobj, mode="r") as archive:
                names = [n for n in archive.getnames() if posixpath.basename(n).lower() == "posts.xml"]
                if not names:
                    raise _DecompressError(f"no Posts.xml in the archive (members: {archive.getnames()[:10]})")
                archive.extract(targets=[names[0]], factory=_Factory())
            self._put(_DONE)
        except _Stopped:
            pass
        except Exception as e:  # py7zr raises many types for corrupt data: report them all
            self._put(e if isinstance(e, _DecompressError) else _DecompressError(f"{type(e).__name__}: {e}"))

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def __iter__(self):
        if not self._started:
            self._started = True
            self._thread.start()
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self):
        self._stop.set()
        if self._started:
            self._thread.join(timeout=10)


class _Stopped(Exception):
    pass
