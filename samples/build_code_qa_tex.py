"""Build the GitHub, StackExchange and ArXiv samples from files that registries ship.

    python -m samples.build_code_qa_tex --out data/sample [--force]

    OUT/github/<name>-<version>.tar.gz     real PyPI sdists, as downloaded (one
                                           repository each: MIT, BSD-3, Apache-2.0, GPL-3.0;
                                           six in two versions, which share files)
    OUT/github/bigquery-export.jsonl       the attrs sdist as rows {"repo_name", "path",
                                           "content", "license"}, the BigQuery-export layout
    OUT/stackexchange/pythonfaq.stackexchange.com.7z
                                           the Python FAQ (Debian python3.11-doc) in the
                                           dump's Posts.xml schema, 7z-compressed like the dump
    OUT/stackexchange_plain/pythonfaq.stackexchange.com/Posts.xml
                                           the same Posts.xml, uncompressed (reader tests)
    OUT/stackexchange/edgecases.stackexchange.com/Posts.xml
                                           hand-written rows with the dump's full attribute
                                           set and its edge cases
    OUT/arxiv/*.tar.gz, OUT/arxiv/*.tex    real LaTeX from Debian texlive-publishers-doc
                                           and texlive-science-doc (see ARXIV_PICKS)
    OUT/MANIFEST_code_qa_tex.json          every file's sha256 and size, the builder's digest

Deterministic: fixed dates, sorted inputs, gzip and 7z written without timestamps
that change. Cached: when the manifest names this builder's digest and every file
is there with its size, nothing is done (`--force` rebuilds). The provenance table
(samples/README_code_qa_tex.md) is written from the same data.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import registries
from samples import fixtures

log = logging.getLogger("samples.build_code_qa_tex")

MANIFEST = "MANIFEST_code_qa_tex.json"
README = Path(__file__).resolve().parent / "README_code_qa_tex.md"
DEFAULT_OUT = registries.ROOT / "data" / "sample"

# name, version, licence as the project states it
GITHUB_SDISTS = [
    ("six", "1.16.0", "MIT"),
    ("six", "1.17.0", "MIT"),
    ("click", "8.1.7", "BSD-3-Clause"),
    ("requests", "2.31.0", "Apache-2.0"),
    ("Warcat", "2.2.5", "GPL-3.0-or-later"),
]
JSONL_SDIST = ("attrs", "23.2.0", "MIT", "python-attrs/attrs")
DUMP_DATE = "2023-03-08T00:00:00.000"  # a fixed creation date for the FAQ posts
FAQ_SITE = "pythonfaq.stackexchange.com"
EDGE_SITE = "edgecases.stackexchange.com"


# --- helpers ------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _builder_digest() -> str:
    return sha256_bytes(Path(__file__).read_bytes())[:16]


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


# --- GitHub -------------------------------------------------------------------------------


def build_github(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    sources = []
    for name, version, licence in GITHUB_SDISTS:
        src = registries.pypi(name, version, sdist=True)
        shutil.copyfile(src, out / src.name)
        sources.append({"file": f"github/{src.name}", "from": f"PyPI sdist {name}=={version}",
                        "licence": licence, "sha256_of_source": registries.sha256_of(src)})
    name, version, licence, repo = JSONL_SDIST
    src = registries.pypi(name, version, sdist=True)
    rows = []
    with tarfile.open(src) as tar:
        for m in sorted((m for m in tar if m.isfile()), key=lambda m: m.name):
            data = tar.extractfile(m).read()
            try:
                content = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # BigQuery's contents table has no text for binary files either
            rel = m.name.split("/", 1)[1]
            # BigQuery's licence column: lower-case SPDX id, one per repository.
            rows.append({"repo_name": repo, "path": rel, "content": content, "license": licence.lower()})
    (out / "bigquery-export.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                               encoding="utf-8")
    sources.append({"file": "github/bigquery-export.jsonl", "from": f"PyPI sdist {name}=={version}, "
                    f"{len(rows)} text files as JSON lines", "licence": licence,
                    "sha256_of_source": registries.sha256_of(src)})
    return sources


# --- StackExchange ------------------------------------------------------------------------


class _Sections(HTMLParser):
    """Sphinx's <section id=...> tree of a page: heading text and own HTML per section."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.sections: list[dict] = []  # in document order
        self._stack: list[dict] = []
        self._heading: dict | None = None
        self._in_body = 0

    def _emit(self, raw: str):
        if self._heading is not None:
            return
        if self._stack:
            self._stack[-1]["html"].append(raw)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            sec = {"id": attrs.get("id", ""), "title": [], "html": [], "depth": len(self._stack)}
            self._stack.append(sec)
            self.sections.append(sec)
            return
        if tag in ("h1", "h2", "h3", "h4") and self._stack and not self._stack[-1]["title"]:
            self._heading = self._stack[-1]
            return
        self._emit(self.get_starttag_text())

    def handle_endtag(self, tag):
        if tag == "section":
            if self._stack:
                self._stack.pop()
            return
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self._heading = None
            return
        self._emit(f"</{tag}>")

    def handle_data(self, data):
        if self._heading is not None:
            self._heading["title"].append(data)
        else:
            self._emit(data)

    def handle_entityref(self, name):
        self.handle_data(f"&{name};")

    def handle_charref(self, name):
        self.handle_data(f"&#{name};")


def faq_entries() -> list[dict]:
    """(page, category, title, answer HTML) for every question of the Python FAQ."""
    root = fixtures.python_docs_html() / "faq"
    entries = []
    for page in sorted(root.glob("*.html")):
        if page.name == "index.html":
            continue
        text = page.read_text(encoding="utf-8")
        body = text[text.index('<div class="body" role="main">'): text.index('<div class="sphinxsidebar"')]
        parser = _Sections()
        parser.feed(body)
        category = ""
        for sec in parser.sections:
            title = html.unescape("".join(sec["title"])).replace("¶", "").strip()
            answer = "".join(sec["html"]).strip()
            if not title.endswith("?"):
                if sec["depth"] <= 1:
                    category = sec["id"]
                continue
            answer = re.sub(r"<div class=\"contents[^>]*>.*?</div>", "", answer, flags=re.DOTALL).strip()
            if answer:
                entries.append({"page": page.stem, "category": category, "slug": sec["id"],
                                "title": title, "answer": answer})
    return entries


def _row(attrs: dict) -> str:
    el = ET.Element("row", {k: str(v) for k, v in attrs.items() if v is not None})
    return "  " + ET.tostring(el, encoding="unicode", short_empty_elements=True) + "\r\n"


def _score(slug: str, salt: str) -> int:
    """A deterministic score in [-3, 40]: the FAQ has no votes, so we derive one."""
    return int.from_bytes(hashlib.sha256(f"{salt}:{slug}".encode()).digest()[:4], "little") % 44 - 3


def faq_posts_xml() -> tuple[bytes, int]:
    rows = []
    entries = faq_entries()
    for n, e in enumerate(entries):
        qid, aid = 2 * n + 1, 2 * n + 2
        tags = f"<python-faq><{e['page']}>" + (f"<{e['category']}>" if e["category"] else "")
        rows.append(_row({
            "Id": qid, "PostTypeId": 1, "AcceptedAnswerId": aid, "CreationDate": DUMP_DATE,
            "Score": _score(e["slug"], "q"), "ViewCount": 100 + _score(e["slug"], "v") * 37,
            "Body": f"<p>{html.escape(e['title'])}</p>\n", "OwnerUserId": -1, "LastActivityDate": DUMP_DATE,
            "Title": e["title"], "Tags": tags, "AnswerCount": 1, "CommentCount": 0, "ContentLicense": "PSF-2.0",
        }))
        rows.append(_row({
            "Id": aid, "PostTypeId": 2, "ParentId": qid, "CreationDate": DUMP_DATE,
            "Score": _score(e["slug"], "a"), "Body": e["answer"] + "\n", "OwnerUserId": -1,
            "LastActivityDate": DUMP_DATE, "CommentCount": 0, "ContentLicense": "PSF-2.0",
        }))
    xml = '<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n' + "".join(rows) + "</posts>\r\n"
    return xml.encode("utf-8"), len(entries)


def _q(id, title, body, score, tags, answers, accepted=None, views=10, comments=0):
    return {"Id": id, "PostTypeId": 1, "AcceptedAnswerId": accepted, "CreationDate": "2019-05-01T10:00:00.000",
            "Score": score, "ViewCount": views, "Body": body, "OwnerUserId": 7, "LastEditorUserId": 7,
            "LastEditDate": "2019-05-02T10:00:00.000", "LastActivityDate": "2019-05-03T10:00:00.000",
            "Title": title, "Tags": tags, "AnswerCount": answers, "CommentCount": comments,
            "ContentLicense": "CC BY-SA 4.0"}


def _a(id, parent, body, score, owner=8):
    return {"Id": id, "PostTypeId": 2, "ParentId": parent, "CreationDate": "2019-05-01T11:00:00.000",
            "Score": score, "Body": body, "OwnerUserId": owner, "LastActivityDate": "2019-05-04T10:00:00.000",
            "CommentCount": 1, "ContentLicense": "CC BY-SA 4.0"}


# Hand-written rows covering what real dumps contain (expectations in tests/pipeline/test_stackexchange.py).
EDGE_ROWS = [
    # An answer listed before its question (dumps are ordered by Id; edits move nothing).
    _a(11, 10, "<p>Use <code>sorted(xs, key=int)</code>; strings compare by character.</p>\n", "9"),
    _q(10, "Why does \"10\" sort before \"9\"?",
       "<p>Sorting <code>['9', '10']</code> gives <code>['10', '9']</code>. Why?</p>\n", 25,
       "<python><sorting>", 4, accepted=13, views=1234),
    _a(12, 10, "<p>Lexicographic order: '1' &lt; '9'.</p>\n", "10"),
    _a(13, 10, "<p>Convert first:</p>\n<pre><code>xs = ['9', '10']\nprint(sorted(xs, key=int))\n</code></pre>\n", "100"),
    _a(14, 10, "<p>Just don't store numbers as strings.</p>\n", "-1"),
    # HTML entities, double-escaped as in the dump (XML escaping of escaped HTML).
    _q(20, "What do &, < and > mean in HTML?",
       "<p>I see <code>&amp;amp;</code> and <code>&amp;lt;p&amp;gt;</code> in pages &#8212; what are they?</p>\n",
       3, "<html><html-entities>", 2, accepted=22),
    _a(21, 20, "<p>Character references: &amp;amp; is &amp;, &amp;lt; is &lt;, &amp;#8212; is &#8212;.</p>\n", "5"),
    # Ties on score: the accepted answer first, then the older one.
    _a(22, 20, "<p>They are entities; <em>browsers</em> decode them.</p>\n", "5"),
    # A question nobody answered.
    _q(30, "Is there a standard library module for TOML writing?",
       "<p>Reading TOML works with <code>tomllib</code>; writing?</p>\n", 0, "<python><toml>", 0),
    # An answer whose question was deleted: deleted posts are absent from the dump.
    _a(41, 40, "<p>This answer's question was deleted.</p>\n", "2"),
    # A tag wiki excerpt (PostTypeId 4) and a tag wiki (5): not Q&A.
    {"Id": 50, "PostTypeId": 4, "CreationDate": "2019-05-01T10:00:00.000", "Score": 0,
     "Body": "<p>Python is a programming language.</p>\n", "OwnerUserId": -1,
     "LastActivityDate": "2019-05-01T10:00:00.000", "CommentCount": 0, "ContentLicense": "CC BY-SA 4.0"},
    {"Id": 51, "PostTypeId": 5, "CreationDate": "2019-05-01T10:00:00.000", "Score": 0,
     "Body": "<p>Full tag wiki for python.</p>\n", "OwnerUserId": -1,
     "LastActivityDate": "2019-05-01T10:00:00.000", "CommentCount": 0, "ContentLicense": "CC BY-SA 4.0"},
    # Negative scores only, and a closed-question style with ClosedDate.
    {**_q(60, "How do I read a file line by line?", "<p>What is the idiom?</p>\n", -2,
          "|python|file-io|", 2), "ClosedDate": "2019-06-01T00:00:00.000"},
    _a(61, 60, "<p><code>for line in open(path):</code></p>\n", "-3"),
    _a(62, 60, "<ul>\n<li>Use <code>with open(path) as f:</code></li>\n<li>then iterate <code>f</code></li>\n</ul>\n", "-1"),
]


def edge_posts_xml() -> bytes:
    rows = "".join(_row(r) for r in EDGE_ROWS)
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n' + rows + "</posts>\r\n").encode("utf-8")


def write_7z(dest: Path, member: str, data: bytes) -> None:
    """A .7z holding one member, as the dump ships Posts.xml (LZMA2, fixed member time)."""
    import datetime as dt

    import py7zr

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / member
        src.write_bytes(data)
        stamp = dt.datetime(2023, 3, 8, tzinfo=dt.timezone.utc).timestamp()
        os.utime(src, (stamp, stamp))
        with py7zr.SevenZipFile(dest, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 9}]) as archive:
            archive.write(src, member)


def build_stackexchange(out: Path) -> list[dict]:
    posts, n = faq_posts_xml()
    shutil.rmtree(out.parent / "stackexchange_plain", ignore_errors=True)
    plain = out.parent / "stackexchange_plain" / FAQ_SITE / "Posts.xml"
    plain.parent.mkdir(parents=True, exist_ok=True)
    plain.write_bytes(posts)
    out.mkdir(parents=True, exist_ok=True)
    write_7z(out / f"{FAQ_SITE}.7z", "Posts.xml", posts)
    edge = out / EDGE_SITE / "Posts.xml"
    edge.parent.mkdir(parents=True, exist_ok=True)
    edge.write_bytes(edge_posts_xml())
    deb = registries.debian(fixtures.PYTHON_DOC_DEB)
    return [
        {"file": f"stackexchange/{FAQ_SITE}.7z", "from": f"Debian {deb.name}: usr/share/doc/python3.11/html/faq/*.html, "
         f"{n} questions, each with its answer (the FAQ entry's text); Score and ViewCount derived from a sha256 "
         "of the entry's anchor (the FAQ has no votes)", "licence": "PSF-2.0 (Python documentation)",
         "sha256_of_source": registries.sha256_of(deb)},
        {"file": f"stackexchange_plain/{FAQ_SITE}/Posts.xml", "from": "the same Posts.xml, uncompressed",
         "licence": "PSF-2.0", "sha256_of_source": registries.sha256_of(deb)},
        {"file": f"stackexchange/{EDGE_SITE}/Posts.xml", "from": "hand-written in samples/build_code_qa_tex.py "
         "(EDGE_ROWS): the dump's attribute set, answers before questions, scores 100/10/9/-1, ties, "
         "entities, a deleted parent, no answers, tag wikis, the 2024 pipe-delimited Tags", "licence": "CC0-1.0 (ours)",
         "sha256_of_source": None},
    ]


# --- ArXiv -------------------------------------------------------------------------------

TEXLIVE_DEBS = ("texlive-publishers-doc", "texlive-science-doc")
_TEXDOC = "usr/share/doc/texlive-doc/"
# Multi-file sources become arXiv-style tarballs: output name -> (package dir, members).
# Members are paths below the package dir; ".gz" is dropped (Debian compresses docs).
ARXIV_TARBALLS = {
    "hepthesis-example.tar.gz": ("latex/hepthesis/example", None),  # None: every .tex in the dir
    "classicthesis.tar.gz": ("latex/classicthesis", ("ClassicThesis.tex", "classicthesis-config.tex",
                                                     "Chapters/", "FrontBackmatter/")),
    "jacow-a4.tar.gz": ("latex/jacow", ("JACoW_LaTeX_A4.tex", "annexes-A4.tex")),
    "lion-msc.tar.gz": ("latex/lion-msc", ("lion-msc.tex", "AlexanderPRA.tex")),
}
# Single files: output name -> path below texlive-doc/. "<name>.gz" is arXiv's form
# for a one-file submission (a gzipped .tex); turnstile_artigo.tex is latin-1.
ARXIV_SINGLES = {
    "apssamp.gz": "latex/revtex4-1/sample/aps/apssamp.tex",
    "sample-sigconf.tex": "latex/acmart/samples/sample-sigconf.tex",  # appendix after the bibliography
    "mnras_template.tex": "latex/mnras/mnras_template.tex",
    "elsarticle-template-num.tex": "latex/elsarticle/elsarticle-template-num.tex",
    "sample631.tex": "latex/aastex/sample631.tex",
    "bare_jrnl.tex": "latex/ieeetran/bare_jrnl.tex",
    "quantum-template.tex": "latex/quantumarticle/quantum-template.tex",
    "turnstile_artigo.tex": "latex/turnstile/turnstile_artigo.tex",
}
_ARXIV_DIRS = sorted({d for d, _ in ARXIV_TARBALLS.values()} | {p.rsplit("/", 1)[0] for p in ARXIV_SINGLES.values()})


def texlive_files() -> Path:
    """The .tex files of the picked package dirs, gunzipped, cached under
    .cache/fixtures/<name>/<deb package>/<path below texlive-doc/>."""
    def fill(tmp: Path) -> None:
        for deb in TEXLIVE_DEBS:
            with fixtures._deb_data(registries.debian(deb)) as tar:
                for rel, data in fixtures._tar_files(tar, _TEXDOC):
                    if not any(rel.startswith(d + "/") for d in _ARXIV_DIRS):
                        continue
                    if rel.endswith(".tex.gz"):
                        rel, data = rel[:-3], gzip.decompress(data)
                    if rel.endswith(".tex"):
                        fixtures._write(tmp, f"{deb}/{rel}", data)
    return fixtures._extract_once("texlive-doc-arxiv-picks-v2", fill)


def _texlive_path(root: Path, rel: str) -> tuple[Path, str]:
    """(the cached copy of texlive-doc/<rel>, the Debian package that ships it)."""
    for deb in TEXLIVE_DEBS:
        if (root / deb / rel).exists():
            return root / deb / rel, deb
    raise FileNotFoundError(f"{_TEXDOC}{rel} is in none of {TEXLIVE_DEBS}")


def _tar_gz(files: dict[str, bytes]) -> bytes:
    """A deterministic .tar.gz: sorted names, zero times and owners."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return _gzip(raw.getvalue())


def build_arxiv(out: Path) -> list[dict]:
    root = texlive_files()
    out.mkdir(parents=True, exist_ok=True)
    debs = {deb: registries.debian(deb) for deb in TEXLIVE_DEBS}
    sources = []

    def origin(deb: str) -> dict:
        return {"licence": f"per TeX package, mostly LPPL-1.3c (usr/share/doc/{deb}/copyright)",
                "sha256_of_source": f"{debs[deb].name}: {registries.sha256_of(debs[deb])}"}

    for name, (pkg, members) in ARXIV_TARBALLS.items():
        base, deb = _texlive_path(root, pkg)
        picked = {}
        for p in sorted(base.rglob("*.tex")):
            rel = p.relative_to(base).as_posix()
            if members is None and "/" not in rel or members and any(
                    rel == m or (m.endswith("/") and rel.startswith(m)) for m in members):
                picked[rel] = p.read_bytes()
        (out / name).write_bytes(_tar_gz(picked))
        sources.append({"file": f"arxiv/{name}", "from": f"Debian {deb}: {_TEXDOC}{pkg}/ "
                        f"({len(picked)} .tex files)", **origin(deb)})
    for name, rel in ARXIV_SINGLES.items():
        path, deb = _texlive_path(root, rel)
        data = path.read_bytes()
        (out / name).write_bytes(_gzip(data) if name.endswith(".gz") else data)
        sources.append({"file": f"arxiv/{name}", "from": f"Debian {deb}: {_TEXDOC}{rel}", **origin(deb)})
    return sources


# --- manifest, cache, provenance ---------------------------------------------------------------


def _manifest_ok(out: Path) -> bool:
    path = out / MANIFEST
    if not path.exists():
        return False
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        return False
    if manifest.get("builder") != _builder_digest():
        return False
    return all((out / f).is_file() and (out / f).stat().st_size == meta["size"] for f, meta in manifest["files"].items())


SECTIONS = {"github": build_github, "stackexchange": build_stackexchange, "arxiv": build_arxiv}


def build(out: Path = DEFAULT_OUT, force: bool = False) -> Path:
    """Build every section under `out` unless the manifest says it is up to date."""
    out = Path(out)
    if not force and _manifest_ok(out):
        log.info("%s is up to date", out / MANIFEST)
        return out
    sources = []
    for name, fn in SECTIONS.items():
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        log.info("building %s", target)
        sources += fn(target)
    files = {}
    for section in (*SECTIONS, "stackexchange_plain"):
        for p in sorted((out / section).rglob("*")):
            if p.is_file():
                rel = p.relative_to(out).as_posix()
                files[rel] = {"size": p.stat().st_size, "sha256": registries.sha256_of(p)}
    manifest = {"builder": _builder_digest(), "files": files, "sources": sources}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    write_readme(manifest)
    return out


def write_readme(manifest: dict) -> None:
    lines = [
        "# GitHub, StackExchange and ArXiv samples",
        "",
        "Built by `python -m samples.build_code_qa_tex --out data/sample` from files that package",
        "registries ship (PyPI sdists, Debian packages). Deterministic; rebuilt only when the builder",
        "changes. This table is written by the builder.",
        "",
        "| file | from | licence | sha256 of the package |",
        "|---|---|---|---|",
    ]
    for s in manifest["sources"]:
        lines.append(f"| `{s['file']}` | {s['from']} | {s['licence']} | {s['sha256_of_source'] or '-'} |")
    lines += ["", "| output file | bytes | sha256 |", "|---|---|---|"]
    for f, meta in manifest["files"].items():
        lines.append(f"| `{f}` | {meta['size']} | `{meta['sha256']}` |")
    README.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samples.build_code_qa_tex", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="rebuild even if the manifest is up to date")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build(args.out, args.force)
    print(f"sample written under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
