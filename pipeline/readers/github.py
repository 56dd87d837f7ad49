"""GitHub code: repository archives (.tar.gz/.tgz/.tar/.tar.bz2/.tar.xz/.zip) and JSON lines.

One Document per regular file. `parse_github(path, fileobj)` is the Beam-free parser
`pipeline.read.ReadDocuments` runs on each input file:

* an archive is one repository (a GitHub tarball or zipball, or an sdist: one
  top-level directory, which is the repository root). Its licence comes from the
  LICENSE / LICENCE / COPYING files at that root, matched against the standard texts
  by `filters.licenses.LicenseDetector`. Tar archives are read twice (gzip cannot
  seek): first the member headers and the licence files, then the files, so memory
  stays at one file whatever the archive's size.
* a `.jsonl` / `.json` (optionally `.gz`) file has one file per line, as exported from
  BigQuery's GitHub dataset: {"repo_name", "path", "content", "license"}. The
  licence is the row's value (BigQuery's, from GitHub's licensee), as LLaMA used it.

Nothing is ever written to disk, but an archive is untrusted input, so these are
refused and reported as `Malformed(path, offset, "member '<name>': ...")`, naming the
member, and counted: paths that leave the archive (`../x`, `/etc/x`, `C:\\x`),
symbolic and hard links whose target leaves it, device files, and decompression
bombs: more than `max_members` members, or a declared uncompressed total above
`max_total_bytes` or above `max_ratio` times the archive's size on disk (checked from
the headers, before anything is decompressed; for zip also per member). A bomb stops
the whole archive, before any document from it is emitted.

Offsets: for tar members, the member header's byte offset in the uncompressed tar
stream; for zip, the member's local header offset; for JSON lines, the line's byte
offset in the (uncompressed) file.
"""
from __future__ import annotations

import functools
import gzip
import json
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from filters.document import Document, digest_id
from filters.github import MAX_FILE_BYTES
from filters.licenses import COMMON_LICENSES, DEFAULT_THRESHOLD, LicenseDetector, is_license_file, normalize_license_id
from pipeline.readers.base import Malformed

SOURCE = "github"
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson", ".ndjson.gz")
_LICENSE_FILE_MAX = 256 << 10  # a licence text is a few KB; more is not a licence file
_BINARY_SNIFF = 8192


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Refuse archives that decompress to far more than they store (zip/tar bombs).

    Defaults: a real repository archive compresses text 3-10x; 100x only happens with
    padding built to blow up. 4 GiB and a million members bound one repository well
    above what LLaMA-scale GitHub repositories hold.
    """

    max_total_bytes: int = 4 << 30
    max_ratio: float = 100.0
    max_members: int = 1_000_000
    # Below this many bytes the ratio is not checked: a tiny archive of a few small
    # files (or of one file of zeros in a test) legitimately compresses very well.
    ratio_floor_bytes: int = 1 << 20

    def __post_init__(self):
        for name in ("max_total_bytes", "max_members", "ratio_floor_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not self.max_ratio > 0:
            raise ValueError(f"max_ratio must be > 0, got {self.max_ratio!r}")

    def check(self, members: int, total: int, stored: int) -> str | None:
        """Why an archive with these totals is a bomb, or None."""
        if members > self.max_members:
            return f"decompression bomb: more than {self.max_members} members"
        if total > self.max_total_bytes:
            return f"decompression bomb: {total} uncompressed bytes exceed the limit of {self.max_total_bytes}"
        if total > self.ratio_floor_bytes and stored > 0 and total / stored > self.max_ratio:
            return (f"decompression bomb: {total} uncompressed bytes from {stored} stored "
                    f"(ratio {total / stored:.0f} > {self.max_ratio:g})")
        return None


def make_parser(limits: ArchiveLimits = ArchiveLimits(), *, max_file_bytes: int = MAX_FILE_BYTES,
                license_texts_dir: str = COMMON_LICENSES, license_threshold: float = DEFAULT_THRESHOLD):
    """A picklable `parse(path, fileobj)` for ReadDocuments, bound to these settings."""
    return functools.partial(parse_github, limits=limits, max_file_bytes=max_file_bytes,
                             detector=LicenseDetector(license_texts_dir, license_threshold))


def parse_github(path: str, fileobj: BinaryIO, *, limits: ArchiveLimits = ArchiveLimits(),
                 max_file_bytes: int = MAX_FILE_BYTES,
                 detector: LicenseDetector | None = None) -> Iterator[Document | Malformed]:
    detector = detector or LicenseDetector()
    name = posixpath.basename(path.rstrip("/")).lower()
    if name.endswith(_JSON_SUFFIXES):
        yield from _parse_jsonl(path, fileobj)
    elif name.endswith(".zip"):
        yield from _parse_zip(path, fileobj, limits, max_file_bytes, detector)
    elif name.endswith(_TAR_SUFFIXES):
        yield from _parse_tar(path, fileobj, limits, max_file_bytes, detector)
    else:
        yield Malformed(path, 0, "not a GitHub input: expected .tar.gz/.tgz/.tar[.bz2|.xz]/.zip or .jsonl[.gz]")


def repo_name(path: str) -> str:
    """The repository an archive holds, from its file name: six-1.17.0.tar.gz -> six-1.17.0."""
    name = posixpath.basename(path.rstrip("/"))
    for suffix in (*_TAR_SUFFIXES, ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


# --- member safety ----------------------------------------------------------------


def _safe_member_path(name: str) -> str | None:
    """The normalised relative path of a member, or None if it is absolute or escapes."""
    if "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    parts = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _link_escapes(member_path: str, target: str, hard: bool) -> bool:
    """True if a link's target is absolute or resolves outside the archive."""
    if target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":"):
        return True
    base = "" if hard else posixpath.dirname(member_path)  # hard link targets are archive paths
    return _safe_member_path(posixpath.join(base, target) if base else target) is None


class _Root:
    """Finds the repository root: "top/" when every member lies under one top-level
    directory (GitHub tarballs, sdists), else "" (the archive root)."""

    def __init__(self):
        self._top: str | None = None
        self._nested = False
        self._single = True

    def add(self, rel: str) -> None:
        if not rel:
            return
        top, sep, _ = rel.partition("/")
        self._nested |= bool(sep)
        if self._top is None:
            self._top = top
        elif top != self._top:
            self._single = False

    @property
    def prefix(self) -> str:
        return f"{self._top}/" if self._single and self._nested and self._top else ""


def _tar_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Members one at a time; TarFile otherwise keeps every header it has read."""
    while (m := tar.next()) is not None:
        tar.members.clear()
        yield m


def _decode(data: bytes) -> str | None:
    """UTF-8 text, or None for binary content (a NUL byte, or not UTF-8)."""
    if b"\x00" in data[:_BINARY_SNIFF]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(slots=True)
class _Repo:
    name: str
    archive: str
    licence: list[str]
    spdx: list[str]

    def document(self, rel: str, data: bytes | None, size: int) -> Document:
        text = _decode(data) if data is not None else ""
        meta = {"repo": self.name, "path": rel, "licence": self.licence, "spdx": self.spdx,
                "size": size, "archive": self.archive}
        if data is not None and text is None:
            meta["binary"] = True
        return Document(id=digest_id(SOURCE, f"{self.name}/{rel}"), source=SOURCE, text=text or "", meta=meta)


def _licences(found: dict[str, bytes], detector: LicenseDetector) -> tuple[list[str], list[str]]:
    names = sorted(found)
    spdx = []
    for n in names:
        text = found[n].decode("utf-8", errors="replace")
        spdx.append(detector.detect(text).spdx)
    return names, spdx


def _stored_size(fileobj: BinaryIO) -> int:
    pos = fileobj.tell()
    size = fileobj.seek(0, os.SEEK_END)
    fileobj.seek(pos)
    return size


# --- tar ----------------------------------------------------------------------------


_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError)


def _parse_tar(path, fileobj, limits: ArchiveLimits, max_file_bytes: int, detector: LicenseDetector):
    if not fileobj.seekable():
        yield Malformed(path, 0, "reading a tar archive needs a seekable file (it is read twice)")
        return
    stored = _stored_size(fileobj)
    # Pass 1: headers only (plus the small licence candidates). Bombs stop here.
    root = _Root()
    candidates: dict[str, bytes] = {}
    members = total = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
            for m in _tar_members(tar):
                members += 1
                total += m.size if m.isfile() else 0
                problem = limits.check(members, total, stored)
                if problem:
                    yield Malformed(path, m.offset, f"member {m.name!r}: {problem}; archive refused")
                    return
                rel = _safe_member_path(m.name)
                if rel is None:
                    continue
                root.add(rel)
                if m.isfile() and rel.count("/") <= 1 and m.size <= _LICENSE_FILE_MAX \
                        and is_license_file(posixpath.basename(rel)):
                    candidates[rel] = tar.extractfile(m).read()
    except _TAR_ERRORS:
        pass  # pass 2 reaches the same break and reports it, after the readable files
    root = root.prefix
    found = {rel[len(root):]: data for rel, data in candidates.items()
             if rel.startswith(root) and "/" not in rel[len(root):]}
    repo = _Repo(repo_name(path), posixpath.basename(path), *_licences(found, detector))
    # Pass 2: the files.
    fileobj.seek(0)
    offset = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
            for m in _tar_members(tar):
                offset = m.offset
                rel = _safe_member_path(m.name)
                if rel is None:
                    yield Malformed(path, m.offset, f"member {m.name!r}: path leaves the archive; refused")
                    continue
                if m.issym() or m.islnk():
                    if _link_escapes(rel, m.linkname, hard=m.islnk()):
                        yield Malformed(path, m.offset, f"member {m.name!r}: link to {m.linkname!r} "
                                                        "leaves the archive; refused")
                    continue  # a link inside the archive: its target is read as itself
                if m.isdev():
                    yield Malformed(path, m.offset, f"member {m.name!r}: device or FIFO; refused")
                    continue
                if not m.isfile() or not rel.startswith(root) or rel == root.rstrip("/"):
                    continue  # directories
                rel = rel[len(root):]
                data = tar.extractfile(m).read() if m.size <= max_file_bytes else None
                yield repo.document(rel, data, m.size)
    except _TAR_ERRORS as e:
        yield Malformed(path, offset, f"truncated or corrupt tar archive after tar offset {offset}: {e}")


# --- zip ----------------------------------------------------------------------------


# What reading one zip member raises when it is damaged. RuntimeError: an encrypted
# member; NotImplementedError: an unknown compression method.
_ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError, RuntimeError)


def _parse_zip(path, fileobj, limits: ArchiveLimits, max_file_bytes: int, detector: LicenseDetector):
    stored = _stored_size(fileobj) if fileobj.seekable() else 0
    try:
        zf = zipfile.ZipFile(fileobj)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        yield Malformed(path, 0, f"not a readable zip archive (truncated or corrupt): {e}")
        return
    with zf:
        total = 0
        for n, info in enumerate(infos, 1):
            total += info.file_size
            problem = limits.check(n, total, stored)
            if problem:
                yield Malformed(path, info.header_offset, f"member {info.filename!r}: {problem}; archive refused")
                return
        tracker = _Root()
        for info in infos:
            tracker.add(_safe_member_path(info.filename) or "")
        root = tracker.prefix
        found = {}
        licence_members: dict[int, bytes] = {}  # by header offset: read once, for the licence and as documents
        for info in infos:
            rel = _safe_member_path(info.filename)
            if rel and rel.startswith(root) and "/" not in rel[len(root):] and not info.is_dir() \
                    and not _zip_is_link(info) and is_license_file(posixpath.basename(rel)) \
                    and info.file_size <= _LICENSE_FILE_MAX:
                try:
                    found[rel[len(root):]] = licence_members[info.header_offset] = zf.read(info)
                except _ZIP_MEMBER_ERRORS:
                    pass  # the second loop reads the member again and reports it as Malformed
        repo = _Repo(repo_name(path), posixpath.basename(path), *_licences(found, detector))
        for info in infos:
            where = f"member {info.filename!r}"
            rel = _safe_member_path(info.filename)
            if rel is None:
                yield Malformed(path, info.header_offset, f"{where}: path leaves the archive; refused")
                continue
            if info.is_dir():
                continue
            if info.compress_size and info.file_size > limits.ratio_floor_bytes \
                    and info.file_size / info.compress_size > limits.max_ratio:
                yield Malformed(path, info.header_offset, f"{where}: decompression bomb: {info.file_size} bytes "
                                                          f"from {info.compress_size} (ratio > {limits.max_ratio:g}); refused")
                continue
            try:
                if _zip_is_link(info):
                    target = zf.read(info)[:4096].decode("utf-8", errors="replace")
                    if _link_escapes(rel, target, hard=False):
                        yield Malformed(path, info.header_offset, f"{where}: link to {target!r} leaves the archive; refused")
                    continue
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    yield Malformed(path, info.header_offset, f"{where}: not a regular file; refused")
                    continue
                if not rel.startswith(root):
                    continue
                data = licence_members.get(info.header_offset) if info.file_size <= max_file_bytes else None
                if data is None and info.file_size <= max_file_bytes:
                    with zf.open(info) as f:
                        data = f.read(max_file_bytes + 1)
                    if len(data) > max_file_bytes:  # a header that lies about the size
                        raise zipfile.BadZipFile(f"member is larger than its declared {info.file_size} bytes")
            except _ZIP_MEMBER_ERRORS as e:
                yield Malformed(path, info.header_offset, f"{where}: cannot read: {e}")
                continue
            yield repo.document(rel[len(root):], data, info.file_size)


def _zip_is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


# --- JSON lines ---------------------------------------------------------------------


_REQUIRED = ("repo_name", "path", "content")


def _parse_jsonl(path: str, fileobj: BinaryIO) -> Iterator[Document | Malformed]:
    stream = fileobj
    if path.lower().endswith(".gz"):
        stream = gzip.GzipFile(fileobj=fileobj, mode="rb")
    offset = 0
    line_no = 0
    try:
        for raw in stream:
            line_no += 1
            here, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict):
                    raise ValueError("a line must be a JSON object")
                missing = [k for k in _REQUIRED if not isinstance(row.get(k), str)]
                if missing:
                    raise ValueError(f"missing or non-string field(s) {', '.join(missing)}")
                lic = row.get("license")
                if lic is not None and not isinstance(lic, str):
                    raise ValueError(f"license must be a string or null, got {type(lic).__name__}")
            except (UnicodeDecodeError, ValueError) as e:
                yield Malformed(path, here, f"line {line_no}: {e}")
                continue
            rel = _safe_member_path(row["path"]) or row["path"]
            spdx = normalize_license_id(row.get("license"))
            text = row["content"]
            yield Document(
                id=digest_id(SOURCE, f"{row['repo_name']}/{rel}"), source=SOURCE, text=text,
                meta={"repo": row["repo_name"], "path": rel, "licence": [row["license"]] if spdx else [],
                      "spdx": [spdx] if spdx else [], "size": len(text.encode("utf-8", "surrogatepass"))},
            )
    except (OSError, EOFError, zlib.error) as e:
        yield Malformed(path, offset, f"line {line_no + 1}: cannot decompress: {e} (truncated or corrupt file)")
