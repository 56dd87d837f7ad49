"""arXiv LaTeX sources -> one Document per paper (its main file, inputs inlined).

Inputs, as arXiv distributes them:
  * `<id>.tar.gz` / `.tgz` / `.tar`: a multi-file source (several .tex, figures, .bbl);
  * `<id>.gz`: what arXiv serves for a single-file submission, a gzipped .tex (or, in
    some cases, a gzipped tar: the content decides, not the name);
  * `<id>.tex` / `<id>.tex.gz`: a plain LaTeX file;
  * `arXiv_src_YYMM_NNN.tar` (the bulk source dump): a tar of `YYMM/<id>.gz` members,
    each one paper as above (PDF-only papers are members `<id>.pdf`).

Each file's bytes are decoded by `filters.latex.decode_tex` (UTF-8, else latin-1;
meta["encoding"] says which), its comments stripped, then the main file is chosen
(`filters.latex.find_main`) and the \\input / \\include files it names are inlined.
Cleaning (macros, preamble, bibliography) is the ArxivFilter's job; a paper with no
.tex, or no main file, is still a Document (text "") so that the filter counts it.

Only .tex-like members are read; total .tex bytes per paper are capped
(`MAX_TEX_BYTES`), and a paper above the cap, a truncated or corrupt archive or a
gzip that does not decompress is a `Malformed(path, offset, ...)`: offset 0 for a
paper file, the member's header offset in the bulk tar for a paper inside one.
"""
from __future__ import annotations

import io
import posixpath
import re
import tarfile
import zlib
from typing import BinaryIO, Iterator

from filters.document import Document, digest_id
from filters.latex import decode_tex, find_main, inline_inputs, strip_comments
from pipeline.readers.base import Malformed

SOURCE = "arxiv"
MAX_TEX_BYTES = 64 << 20  # the largest arXiv sources hold a few MB of LaTeX
_TEX_EXT = (".tex", ".ltx", ".latex")
_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError)
# New-style (2101.00001, 2101.00001v2) and old-style (hep-th/9901001, as hep-th9901001) ids.
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/?\d{7}(?:v\d+)?)$")


def arxiv_id(path: str) -> str | None:
    """The arXiv id a source file is named after (2101.00001.tar.gz -> 2101.00001), or None."""
    name = posixpath.basename(path.replace("\\", "/"))
    stem = re.sub(r"(?i)(\.tar\.gz|\.tgz|\.tar|\.tex\.gz|\.gz|\.tex|\.ltx|\.pdf)$", "", name)
    return stem if _ARXIV_ID.match(stem) else None


def paper_id(path: str) -> str:
    """The document id: arxiv/<arXiv id> when the file is named by one, else a path digest."""
    aid = arxiv_id(path)
    return f"{SOURCE}/{aid}" if aid else digest_id(SOURCE, path)


def parse_arxiv(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    name = posixpath.basename(path.replace("\\", "/")).lower()
    if name.startswith("arxiv_src_") and name.endswith(".tar"):
        yield from _bulk(path, fileobj)
        return
    try:
        data = fileobj.read()
        yield _paper(path, data, name)
    except _PaperError as e:
        yield Malformed(path, 0, str(e))


class _PaperError(Exception):
    pass


def _paper(path: str, data: bytes, name: str) -> Document:
    """One paper from the bytes of its source file (any of the single-paper forms)."""
    if name.endswith((".gz", ".tgz")):
        try:
            data = _gunzip(data)
        except _ERRORS as e:
            raise _PaperError(f"cannot decompress: {e} (truncated or corrupt gzip)") from None
    if not data:
        raise _PaperError("empty file (or an empty compressed stream): no paper")
    if _is_tar(data):
        files = _tar_tex(data)
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        raise _PaperError("not a tar archive (truncated or corrupt)")
    elif data[:5] == b"%PDF-":
        files = {}
    else:
        if len(data) > MAX_TEX_BYTES:
            raise _PaperError(f"{len(data)} bytes of LaTeX exceed the {MAX_TEX_BYTES}-byte cap")
        stem = re.sub(r"(?i)\.gz$", "", posixpath.basename(path))
        files = {stem if stem.lower().endswith(_TEX_EXT) else f"{stem}.tex": data}
    return _document(path, files)


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, MAX_TEX_BYTES * 4)
    if d.unconsumed_tail:
        raise ValueError(f"more than {MAX_TEX_BYTES * 4} bytes once decompressed")
    if not d.eof:
        raise EOFError("compressed data ends before the end-of-stream marker")
    return out


def _is_tar(data: bytes) -> bool:
    """A POSIX/GNU tar ("ustar" magic) or an old v7 tar (only its header checksum tells)."""
    if len(data) < 512:
        return False
    return data[257:262] == b"ustar" or _tar_checksum_ok(data[:512])


def _tar_checksum_ok(header: bytes) -> bool:
    try:
        stored = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(header[:148]) + 256 + sum(header[156:512])


def _tar_tex(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar:
                name = m.name.lstrip("./")
                if not m.isfile() or not name.lower().endswith(_TEX_EXT) or ".." in name.split("/"):
                    continue
                total += m.size
                if total > MAX_TEX_BYTES:
                    raise _PaperError(f"more than {MAX_TEX_BYTES} bytes of LaTeX (member {m.name!r})")
                files[name] = tar.extractfile(m).read()
    except _ERRORS as e:
        raise _PaperError(f"truncated or corrupt tar archive: {e}") from None
    return files


def _document(path: str, raw: dict[str, bytes]) -> Document:
    files: dict[str, str] = {}
    encodings = set()
    for name, data in raw.items():
        text, enc = decode_tex(data)
        files[name] = strip_comments(text)
        encodings.add(enc)
    main = find_main(files)
    if main is None and len(files) == 1:
        main = next(iter(files))  # a lone .tex is the paper, \documentclass or not
    text, inlined = inline_inputs(main, files) if main else ("", [])
    meta = {
        "arxiv_id": arxiv_id(path),
        "source_file": posixpath.basename(path.replace("\\", "/")),
        "tex_files": sorted(files),
        "main_file": main,
        "inlined": inlined,
        "encoding": "latin-1" if "latin-1" in encodings else "utf-8",
    }
    return Document(id=paper_id(path), source=SOURCE, text=text, meta=meta)


def _bulk(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    """arXiv_src_YYMM_NNN.tar: one paper per member."""
    offset = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            for m in tar:
                offset = m.offset
                if not m.isfile():
                    continue
                inner = m.name.rsplit("/", 1)[-1]
                data = tar.extractfile(m).read()
                try:
                    yield _paper(inner, data, inner.lower())
                except _PaperError as e:
                    yield Malformed(path, m.offset, f"member {m.name!r}: {e}")
    except _ERRORS as e:
        yield Malformed(path, offset, f"truncated or corrupt tar archive after offset {offset}: {e}")
