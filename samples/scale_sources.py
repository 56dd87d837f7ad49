"""The scale corpus's six other sources, in the sample's formats, from its real text.

Each source is written in parts of at most `file_bytes` of text; a part is one task
of samples/scale_corpus.py, with its own `Random(f"{seed}/{source}/{part}")`, so the
output does not depend on how tasks are spread over workers. Prose comes from the
word models of samples/scale_text.py; structure from the sample's real files:

    c4             English pages (title, paragraphs, a per-site footer of three
                   sentences) through C4's own rules (filters.c4.C4Rules), as the
                   sample's C4 was made; some pages read twice; 1% not English
    github         repositories of the sample's real files (six, click, requests,
                   Warcat, attrs) with identifiers renamed per repository, and their
                   real LICENSE files; some files vendored unchanged into other repos
    wikipedia      articles in wikitext for LLaMA's 20 languages, redirects and talk
                   pages among them, under the sample enwiki's <siteinfo>
    books          novels in chapters from a model of the sample's Gutenberg books,
                   most wrapped in Gutenberg's header and footer; some are a second
                   edition of another (a near-duplicate); some in a Books3-style tarball
    arxiv          the sample's LaTeX papers with their prose rewritten, as .tar.gz,
                   .gz and .tex, named by arXiv ids
    stackexchange  questions with answers (HTML bodies, scores, accepted answers,
                   orphans, tag wikis), one site of the 28 largest per part, as
                   <site>.7z or <site>/Posts.xml

Text bytes (what is measured against LLaMA's proportions): C4 "text", file contents,
wikitext, book text, LaTeX, post titles and bodies.
"""
from __future__ import annotations

import builtins
import bz2
import datetime as dt
import functools
import gzip
import hashlib
import html
import io
import json
import keyword
import math
import re
import tarfile
import tempfile
import xml.sax.saxutils as saxutils
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from random import Random

from filters.c4 import C4Rules, load_bad_words
from samples.build_c4_books import gutenberg_wrap
from samples.build_code_qa_tex import _row as posts_row
from samples.scale_text import WordModel, ascii_words, book_lines, slug

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("c4", "github", "wikipedia", "books", "arxiv", "stackexchange")
EPOCH = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Part:
    """One task: a share of one source's bytes."""
    source: str
    index: int
    count: int
    budget: int          # text bytes to write
    seed: int
    out: Path            # the corpus directory
    sample: Path

    @property
    def rng(self) -> Random:
        return Random(f"{self.seed}/{self.source}/{self.index}")


# Names for the generated StackExchange sites (one site a file): real site names, so
# paths look like a dump's; the pipeline ranks sites by the posts it finds.
SITE_NAMES: tuple[str, ...] = (
    "stackoverflow.com", "math.stackexchange.com", "superuser.com", "askubuntu.com", "serverfault.com",
    "unix.stackexchange.com", "tex.stackexchange.com", "electronics.stackexchange.com",
    "physics.stackexchange.com", "stats.stackexchange.com", "english.stackexchange.com",
    "mathoverflow.net", "apple.stackexchange.com", "gaming.stackexchange.com", "gis.stackexchange.com",
    "softwareengineering.stackexchange.com", "salesforce.stackexchange.com", "ell.stackexchange.com",
    "codereview.stackexchange.com", "magento.stackexchange.com", "dba.stackexchange.com",
    "wordpress.stackexchange.com", "diy.stackexchange.com", "mathematica.stackexchange.com",
    "security.stackexchange.com", "scifi.stackexchange.com", "sharepoint.stackexchange.com",
    "drupal.stackexchange.com",
)

def plan_parts(budgets: dict[str, int], file_bytes: int, seed: int, out: Path, sample: Path) -> list[Part]:
    """Each source cut into parts of at most `file_bytes` (StackExchange: at least 3
    sites, at most 28)."""
    parts = []
    for src in SOURCES:
        n = max(1, math.ceil(budgets[src] / file_bytes))
        if src == "stackexchange":
            n = min(max(n, 3), len(SITE_NAMES))
        for i in range(n):
            share = budgets[src] // n + (budgets[src] % n if i == n - 1 else 0)
            parts.append(Part(src, i, n, share, seed, out, sample))
    return parts


def write_part(part: Part, models: dict[str, WordModel]) -> dict:
    """Write one part; returns {"entries": [file entries], "text_bytes": n, "stats": Counter}."""
    writer = {"c4": write_c4, "github": write_github, "wikipedia": write_wikipedia, "books": write_books,
              "arxiv": write_arxiv, "stackexchange": write_stackexchange}[part.source]
    stats: Counter = Counter()
    rels, text_bytes = writer(part, models, stats)
    entries = [file_entry(part.out, rel) for rel in sorted(rels)]
    return {"entries": entries, "text_bytes": text_bytes, "stats": stats}


def file_entry(out: Path, rel: str) -> dict:
    digest, size = hashlib.sha256(), 0
    with open(out / rel, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"path": rel, "bytes": size, "sha256": digest.hexdigest()}


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def short_of(total: int, budget: int) -> bool:
    """Another item while the part is more than 1% short of its budget."""
    return total < 0.99 * budget


def timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- C4

C4_START = dt.datetime(2019, 4, 18, 9, 0, 0, tzinfo=dt.timezone.utc)  # C4 is the April 2019 crawl
C4_SITES = 400          # English sites per part whose footers repeat
C4_READ_TWICE = 0.02    # pages in the file twice (same URL and text): c4_dedup's duplicate_document
C4_NOT_ENGLISH = 0.01   # langdetect let a few through; our LID stage drops them


def c4_footer(seed: int, site: int, model: WordModel) -> tuple[str, str]:
    """(host, three footer sentences) of a C4 site: the spans C4's dedup removes."""
    rng = Random(f"{seed}/c4-site/{site}")
    host = "-".join(ascii_words(model.phrase(rng, 2))[:3]) or f"site{site}"
    return f"{host}.{rng.choice(('com', 'org', 'net'))}", " ".join(model.sentence(rng) for _ in range(3))


def c4_page(rng: Random, model: WordModel, footer: str) -> str:
    """Whole-page text before C4's rules: a title, paragraphs of a few sentences, the footer."""
    lines = [model.phrase(rng, rng.randint(2, 8))]
    for _ in range(int(rng.lognormvariate(math.log(6), 0.8)) + 1):
        lines.append(model.paragraph(rng, rng.randint(1, 4)))
    return "\n".join([*lines, footer])


def write_c4(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng, eng = part.rng, models["eng"]
    rules = C4Rules(bad_words=load_bad_words(ROOT / "configs" / "c4_badwords_en.txt"))
    others = sorted(k for k in ("deu", "fra", "spa", "ita", "nld", "por") if k in models)
    rel = f"c4/c4-train.{part.index:05d}-of-{part.count:05d}.json.gz"
    text_bytes, earlier = 0, []
    with gzip.GzipFile(part.out / rel, "wb", mtime=0, compresslevel=6) as f:
        while text_bytes < part.budget:
            if earlier and rng.random() < C4_READ_TWICE:
                record = rng.choice(earlier)
                stats["read_twice"] += 1
            else:
                site = rng.randrange(C4_SITES)
                host, footer = c4_footer(part.seed, part.index * C4_SITES + site, eng)
                model = models[rng.choice(others)] if others and rng.random() < C4_NOT_ENGLISH else eng
                result = rules.clean(c4_page(rng, model, footer))
                if result.reason is not None:
                    stats[f"dropped_by_rules:{result.reason}"] += 1
                    continue
                n = stats["pages"]
                when = C4_START + dt.timedelta(seconds=7 * n + part.index * 10 ** 7)
                record = {"text": result.text, "timestamp": timestamp(when),
                          "url": f"https://{host}/{slug(result.text.split(chr(10))[0])}-{part.index}x{n}"}
                stats["not_english"] += model is not eng
                if len(earlier) < 64:
                    earlier.append(record)
            f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            stats["pages"] += 1
            text_bytes += nbytes(record["text"])
    return [rel], text_bytes


# --------------------------------------------------------------------------- GitHub

# The sample's archives and the licence their project states (samples/README_code_qa_tex.md).
GITHUB_LICENCES = {"six": "MIT", "click": "BSD-3-Clause", "requests": "Apache-2.0", "Warcat": "GPL-3.0-or-later"}
# Licence mix of the repositories: GPL and unlicensed ones are what the licence stage drops.
LICENCE_MIX = (("MIT", 0.45), ("Apache-2.0", 0.25), ("BSD-3-Clause", 0.15), ("GPL-3.0-or-later", 0.10),
               (None, 0.05))
VENDORED = 0.08   # files copied unchanged from the sample (exact duplicates across repositories)
JSONL_SHARE = 0.25
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{3,}\b")
_KEEP = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "None", "True", "False", "cls", "args",
                                                                 "kwargs", "import", "from", "return"}


@dataclass(frozen=True)
class CodeBase:
    files: tuple[tuple[str, str], ...]     # (path below the project root, text)
    licences: dict                         # SPDX id -> (file name, text)


@functools.cache
def code_base(sample: Path) -> CodeBase:
    """The text files of the sample's GitHub archives and JSON lines, and their licence files."""
    files, licences = [], {}
    for path in sorted((sample / "github").glob("*.tar.gz")):
        project = path.name.split("-", 1)[0]
        with tarfile.open(path) as tar:
            for m in sorted((m for m in tar if m.isfile()), key=lambda m: m.name):
                rel = m.name.split("/", 1)[1] if "/" in m.name else m.name
                try:
                    text = tar.extractfile(m).read().decode("utf-8")
                except UnicodeDecodeError:
                    continue  # binary: BigQuery has no text for it either
                if rel in ("LICENSE", "LICENSE.rst", "COPYING.txt") and project in GITHUB_LICENCES:
                    licences.setdefault(GITHUB_LICENCES[project], (rel, text))
                elif rel != "PKG-INFO":
                    files.append((rel, text))
    for path in sorted((sample / "github").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            files.append((row["path"], row["content"]))
    return CodeBase(tuple(files), licences)


def new_identifier(rng: Random, old: str, model: WordModel) -> str:
    """A name of the same style (CamelCase, UPPER, snake) from words of the language."""
    words = [w for _ in range(rng.randint(1, 2)) for w in ascii_words(model.word(rng))[:1] if w.isalpha()]
    words = words or ["item"]
    if old.isupper():
        return "_".join(words).upper()
    if old[:1].isupper():
        return "".join(w.capitalize() for w in words)
    return ("_" if old.startswith("_") else "") + "_".join(words)


def rename_map(rng: Random, texts: list[str], model: WordModel) -> dict[str, str]:
    """About 40% of the repository's identifiers, each to a new name."""
    idents = sorted({m for t in texts for m in _IDENT.findall(t)} - _KEEP)
    return {old: new_identifier(rng, old, model) for old in idents if not old.startswith("__") and rng.random() < 0.4}


def renamed_path(rel: str, renames: dict[str, str]) -> str:
    """The path with its module and package names renamed as the code refers to them."""
    parts = []
    for part in rel.split("/"):
        stem, py = (part[:-3], ".py") if part.endswith(".py") else (part, "")
        parts.append(renames.get(stem, stem) + py)
    return "/".join(parts)


def make_repository(rng: Random, base: CodeBase, model: WordModel, budget: int) -> tuple[str, str | None, list]:
    """(name, SPDX licence or None, [(path, text, vendored)])."""
    name = f"{slug(model.phrase(rng, 2), 3)}-{rng.randint(0, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    licence = rng.choices([l for l, _ in LICENCE_MIX], [w for _, w in LICENCE_MIX])[0]
    picked = rng.sample(base.files, min(len(base.files), rng.randint(4, 40)))
    renames = rename_map(rng, [t for _, t in picked], model)
    files, size = [], nbytes(base.licences[licence][1]) if licence else 0
    for rel, text in picked:
        if files and size + nbytes(text) > budget:
            continue  # keep to the budget: a smaller file may still fit
        vendored = rng.random() < VENDORED or not renames
        if not vendored:
            text = _IDENT.sub(lambda m: renames.get(m.group(0), m.group(0)), text)
            rel = renamed_path(rel, renames)
        files.append((rel, text, vendored))
        size += nbytes(text)
    if licence is not None:
        files.insert(0, (*base.licences[licence], False))
    return name, licence, files


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic .tar.gz: sorted names, zero times and owners."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def write_github(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng, base, eng = part.rng, code_base(part.sample), models["eng"]
    jsonl = f"github/bigquery-export-{part.index:05d}.jsonl"
    rels, text_bytes, seen = [jsonl], 0, set()
    with open(part.out / jsonl, "w", encoding="utf-8") as rows:
        while short_of(text_bytes, part.budget):
            # The first repository takes half the budget at most, so that there are two.
            room = part.budget - text_bytes if text_bytes else part.budget // 2
            name, licence, files = make_repository(rng, base, eng, room)
            if name in seen:
                continue
            seen.add(name)
            stats["repositories"] += 1
            stats[f"licence:{licence or 'none'}"] += 1
            stats["files"] += len(files)
            stats["vendored_files"] += sum(v for _, _, v in files)
            text_bytes += sum(nbytes(t) for _, t, _ in files)
            # The first two repositories of a part take one form each, so that both exist.
            k = stats["repositories"]
            if k == 2 or (k > 2 and rng.random() < JSONL_SHARE):
                owner = slug(eng.phrase(rng, 1), 1)
                for rel, text, _ in files:
                    rows.write(json.dumps({"repo_name": f"{owner}/{name}", "path": rel, "content": text,
                                           "license": licence.lower() if licence else None}, ensure_ascii=False) + "\n")
                stats["jsonl_repositories"] += 1
            else:
                rel = f"github/{name}.tar.gz"
                (part.out / rel).write_bytes(tar_bytes({f"{name}/{p}": t.encode("utf-8") for p, t, _ in files}))
                rels.append(rel)
    return rels, text_bytes


# --------------------------------------------------------------------------- Wikipedia

# LLaMA-1's 20 Wikipedia languages, weighted roughly by the size of their article text.
WIKI_LANGUAGES = {"en": ("eng", 40), "de": ("deu", 10), "fr": ("fra", 9), "es": ("spa", 7), "ru": ("rus", 7),
                  "it": ("ita", 6), "pl": ("pol", 3.5), "nl": ("nld", 3.5), "pt": ("por", 3.5),
                  "uk": ("ukr", 3), "sv": ("swe", 2.5), "ca": ("cat", 1.5), "cs": ("ces", 1.5),
                  "sr": ("srp_cyrl", 1.2), "hu": ("hun", 1.2), "ro": ("ron", 1), "bg": ("bul", 0.7),
                  "da": ("dan", 0.6), "hr": ("hrv", 0.5), "sl": ("slv", 0.5)}
WIKI_REDIRECTS, WIKI_TALK = 0.08, 0.02


@functools.cache
def wiki_header(sample: Path) -> str:
    """The <mediawiki> start and <siteinfo> of the sample's enwiki export."""
    path = next(p for p in sorted((sample / "wikipedia").glob("enwiki-*.xml.bz2")))
    with bz2.open(path, "rt", encoding="utf-8") as f:
        head = f.read(1 << 16)
    return head[: head.index("</siteinfo>") + len("</siteinfo>")] + "\n"


def site_header(header: str, lang: str) -> str:
    return (header.replace("<dbname>enwiki</dbname>", f"<dbname>{lang}wiki</dbname>")
            .replace("https://en.wikipedia.org/", f"https://{lang}.wikipedia.org/")
            .replace('xml:lang="en"', f'xml:lang="{lang}"'))


def linked(rng: Random, paragraph: str, model: WordModel) -> str:
    """A paragraph with a few of its words as [[links]], as articles have."""
    if model.chars:
        return paragraph
    words = paragraph.split(" ")
    for _ in range(min(3, len(words) // 8)):
        i = rng.randrange(len(words))
        if words[i].isalpha():
            words[i] = f"[[{words[i]}]]"
    return " ".join(words)


def article(rng: Random, title: str, model: WordModel, room: int) -> str:
    """An article's wikitext: lead, sections (fewer when `room` bytes are left), references, categories."""
    lead = linked(rng, model.paragraph(rng, rng.randint(2, 5)), model)
    parts = [f"{{{{Short description|{model.phrase(rng, 4)}}}}}", f"'''{title}''' {lead}"]
    for _ in range(int(rng.lognormvariate(math.log(3), 0.7))):
        if sum(map(nbytes, parts)) > room:
            break
        parts.append(f"== {model.phrase(rng, rng.randint(1, 4))} ==")
        parts += [linked(rng, model.paragraph(rng, rng.randint(2, 6)), model) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:
            parts.append("\n".join(f"* {model.phrase(rng, rng.randint(2, 6))}" for _ in range(rng.randint(2, 6))))
    parts += ["== References ==", "{{Reflist}}",
              "\n".join(f"[[Category:{model.phrase(rng, rng.randint(1, 3))}]]" for _ in range(rng.randint(1, 4)))]
    return "\n\n".join(parts)


def base36_sha1(text: str) -> str:
    n = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest(), "big")
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(31, "0")


def page_xml(title: str, ns: int, page_id: int, text: str, when: dt.datetime, redirect: str | None) -> str:
    esc = saxutils.escape
    redirect_el = f'    <redirect title="{esc(redirect, {chr(34): "&quot;"})}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{esc(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{redirect_el}"
            f"    <revision>\n      <id>{page_id * 7 + 1000}</id>\n      <timestamp>{timestamp(when)}</timestamp>\n"
            f"      <contributor>\n        <username>ScaleCorpusBot</username>\n        <id>1</id>\n"
            f"      </contributor>\n      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f'      <text bytes="{nbytes(text)}" xml:space="preserve">{esc(text)}</text>\n'
            f"      <sha1>{base36_sha1(text)}</sha1>\n    </revision>\n  </page>\n")


def write_wikipedia(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng = part.rng
    langs = [(code, key) for code, (key, _) in WIKI_LANGUAGES.items() if key in models]
    weights = [WIKI_LANGUAGES[code][1] for code, _ in langs]
    header = wiki_header(part.sample)
    writers: dict[str, bz2.BZ2File] = {}
    rels: list[str] = []
    titles: dict[str, list[str]] = {}
    text_bytes, page_id = 0, part.index * 10 ** 8 + 1
    try:
        while short_of(text_bytes, part.budget):
            code, key = rng.choices(langs, weights)[0]
            model, known = models[key], titles.setdefault(code, [])
            if code not in writers:
                rel = f"wikipedia/{code}wiki-20260701-pages-articles{part.index + 1}.xml.bz2"
                writers[code] = bz2.BZ2File(part.out / rel, "wb")
                rels.append(rel)
                writers[code].write(site_header(header, code).encode("utf-8"))
            title = f"{model.phrase(rng, rng.randint(1, 4))}"
            if title in known:
                continue
            r, redirect, ns = rng.random(), None, 0
            if known and r < WIKI_REDIRECTS:
                redirect = rng.choice(known)
                text = f"#REDIRECT [[{redirect}]]"
                stats["redirects"] += 1
            elif r < WIKI_REDIRECTS + WIKI_TALK:
                ns, title = 1, f"Talk:{title}"
                text = model.paragraph(rng, rng.randint(1, 3)) + " ~~~~"
                stats["talk_pages"] += 1
            else:
                text = article(rng, title, model, part.budget - text_bytes)
                known.append(title)
                stats["articles"] += 1
            when = EPOCH - dt.timedelta(seconds=rng.randrange(10 ** 8))
            writers[code].write(page_xml(title, ns, page_id, text, when, redirect).encode("utf-8"))
            stats[f"pages:{code}"] += 1
            page_id += 1
            text_bytes += nbytes(text)
    finally:
        for w in writers.values():
            w.write(b"</mediawiki>\n")
            w.close()
    return rels, text_bytes


# --------------------------------------------------------------------------- books

BOOK_MEDIAN_BYTES, BOOK_SIGMA = 300_000, 0.6
BOOK_MIN_BYTES, BOOK_MAX_BYTES = 5_000, 2_000_000
BOOK_EDITIONS = 0.1      # second editions of an earlier book: near-duplicates at Jaccard > 0.9
BOOK_WRAPPED = 0.6       # in Gutenberg's header and footer
BOOKS3_SHARE = 0.15      # in the part's Books3-style tarball
BOOK_FORMS = (("books3", "gutenberg", "plain"), (BOOKS3_SHARE, BOOK_WRAPPED, 1 - BOOKS3_SHARE - BOOK_WRAPPED))
GUTENBERG_BYTES = 3_000  # about what Gutenberg's header and footer add to a book
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
          (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


@functools.cache
def book_model(sample: Path) -> WordModel:
    """A model of the sample's books only (Shakespeare, Milton): a book's voice."""
    return WordModel("eng", book_lines(sample))


def roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        while n >= value:
            out, n = out + letters, n - value
    return out


def wrap(paragraph: str, width: int = 70) -> str:
    """Lines of at most `width` characters, as Gutenberg's plain texts are set."""
    lines, line = [], ""
    for word in paragraph.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def book_body(rng: Random, model: WordModel, size: int) -> str:
    """Chapters of 8 to 30 paragraphs, set at 70 columns, until `size` bytes."""
    parts, total, chapter, left = [], 0, 0, 0
    while total < size:
        if left == 0:
            chapter, left = chapter + 1, rng.randint(8, 30)
            block = f"\n\nCHAPTER {roman(chapter)}.\n\n{model.phrase(rng, rng.randint(2, 6)).upper()}"
        else:
            block, left = wrap(model.paragraph(rng, rng.randint(1, 8))), left - 1
        parts.append(block)
        total += nbytes(block) + 2
    return "\n\n".join(parts).lstrip("\n") + "\n"


def new_edition(rng: Random, body: str, model: WordModel) -> str:
    """The same book re-set: about 1% of its words replaced."""
    words = body.split(" ")
    for _ in range(len(words) // 100):
        words[rng.randrange(len(words))] = model.word(rng)
    return " ".join(words)


def new_book(rng: Random, model: WordModel, earlier: list, room: int, stats: Counter) -> tuple[str, str, str]:
    """(title, author, body): a second edition of an earlier book that fits, or a new one."""
    editions = [b for b in earlier if nbytes(b[2]) <= room]
    if editions and rng.random() < BOOK_EDITIONS:
        title, author, body = rng.choice(editions)
        stats["second_editions"] += 1
        return title, author, new_edition(rng, body, model)
    title = model.phrase(rng, rng.randint(1, 5)).title()
    author = " ".join(w.capitalize() for w in model.phrase(rng, 2).split()[:2])
    size = int(rng.lognormvariate(math.log(BOOK_MEDIAN_BYTES), BOOK_SIGMA))
    body = book_body(rng, model, max(BOOK_MIN_BYTES, min(size, BOOK_MAX_BYTES, room - GUTENBERG_BYTES)))
    if len(earlier) < 8:
        earlier.append((title, author, body))
    return title, author, body


def write_books(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng, model = part.rng, book_model(part.sample)
    rels, books3, earlier, text_bytes, n = [], {}, [], 0, 0
    while short_of(text_bytes, part.budget):
        n += 1
        # The first three: Gutenberg-wrapped, plain, in the tarball; then at random.
        form = ("gutenberg", "plain", "books3")[n - 1] if n <= 3 else rng.choices(*BOOK_FORMS)[0]
        # Room for this book: a share of what is left, so that there are three at least.
        room = (part.budget - text_bytes) // max(1, 4 - n)
        title, author, body = new_book(rng, model, earlier, room, stats)
        number = str(60000 + part.index * 10000 + n)
        text = gutenberg_wrap(body, title, author, number) if form == "gutenberg" else body
        name = f"{slug(title, 5)}-{part.index}x{n}.txt"
        if form == "books3":
            books3[name] = text.encode("utf-8")
        else:
            (part.out / "books" / name).write_bytes(text.encode("utf-8"))
            rels.append(f"books/{name}")
        stats["books"] += 1
        stats[f"form:{form}"] += 1
        text_bytes += nbytes(text)
    if books3:
        rel = f"books/books3-{part.index:05d}.tar.gz"
        (part.out / rel).write_bytes(tar_bytes(books3))
        rels.append(rel)
    return rels, text_bytes


# --------------------------------------------------------------------------- arXiv

_VERBATIM_ENVS = re.compile(r"\\(begin|end)\{(equation|align|eqnarray|gather|multline|tabular|table|figure|"
                            r"verbatim|lstlisting|thebibliography|tikzpicture|array|displaymath|math)\*?\}")
_TEX_SPECIAL = str.maketrans({c: "\\" + c for c in "%&$#_{}"} | {"\\": " ", "^": " ", "~": " "})


@functools.cache
def tex_templates(sample: Path) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Each sample paper as ((member name, LaTeX), ...): tarballs with all their .tex."""
    papers = []
    for path in sorted((sample / "arxiv").iterdir()):
        data = path.read_bytes()
        if path.name.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                files = [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile() and m.name.endswith(".tex")]
        elif path.name.endswith(".gz"):
            files = [(path.name[:-3] + ".tex", gzip.decompress(data))]
        else:
            files = [(path.name, data)]
        papers.append(tuple((name, decode(raw)) for name, raw in sorted(files)))
    return tuple(papers)


def tex_bytes(template) -> int:
    return sum(nbytes(tex) for _, tex in template)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # turnstile_artigo.tex


def is_prose(line: str) -> bool:
    s = line.strip()
    return len(s) >= 40 and s[0].isalpha() and s.count("\\") <= 2 and "&" not in s and "$$" not in s


def rewrite_tex(rng: Random, tex: str, model: WordModel) -> str:
    """The file with each prose line replaced by new sentences of about its length;
    commands, math, tables and comments kept."""
    out, depth = [], 0
    for line in tex.split("\n"):
        for m in _VERBATIM_ENVS.finditer(line):
            depth = max(0, depth + (1 if m.group(1) == "begin" else -1))
        if depth == 0 and is_prose(line):
            new = ""
            while len(new) < 0.8 * len(line):
                new = f"{new} {model.sentence(rng)}".strip()
            line = new.translate(_TEX_SPECIAL)
        out.append(line)
    return "\n".join(out)


def write_arxiv(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng, eng, templates = part.rng, models["eng"], tex_templates(part.sample)
    yymm = f"{EPOCH:%y%m}"
    rels, text_bytes, n = [], 0, 0
    while short_of(text_bytes, part.budget):
        # Papers are about their template's size: take one that fits what is left.
        fitting = [t for t in templates if tex_bytes(t) <= part.budget - text_bytes]
        if not fitting and text_bytes:
            break
        template = rng.choice(fitting or [min(templates, key=tex_bytes)])
        files = {name: rewrite_tex(rng, tex, eng) for name, tex in template}
        arxiv_id = f"{yymm}.{part.index * 20000 + n:05d}"
        n += 1
        form = ("tar.gz", "gz", "tex")[n - 1] if n <= 3 else rng.choice(("tar.gz", "gz", "tex"))
        if len(files) > 1 or form == "tar.gz":
            rel, data = f"arxiv/{arxiv_id}.tar.gz", tar_bytes({k: v.encode("utf-8") for k, v in files.items()})
        elif form == "gz":
            rel, data = f"arxiv/{arxiv_id}.gz", gzip.compress(next(iter(files.values())).encode("utf-8"), mtime=0)
        else:
            rel, data = f"arxiv/{arxiv_id}.tex", next(iter(files.values())).encode("utf-8")
        (part.out / rel).write_bytes(data)
        rels.append(rel)
        stats["papers"] += 1
        stats[f"format:{rel.split('.', 2)[-1]}"] += 1
        text_bytes += sum(nbytes(t) for t in files.values())
    return rels, text_bytes


# --------------------------------------------------------------------------- StackExchange

DUMP_DATE = dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)
ANSWER_COUNTS = (0, 1, 1, 1, 2, 2, 3, 4)


def question_body(rng: Random, model: WordModel, base: CodeBase) -> str:
    paras = [f"<p>{html.escape(model.paragraph(rng, rng.randint(1, 3)))}</p>" for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        _, text = rng.choice(base.files)
        lines = text.split("\n")
        start = rng.randrange(len(lines))
        paras.append(f"<pre><code>{html.escape(chr(10).join(lines[start:start + rng.randint(3, 10)]))}\n</code></pre>")
    return "\n".join(paras) + "\n"


def post_rows(rng: Random, qid: int, model: WordModel, base: CodeBase) -> list[dict]:
    """A question and its answers (or, now and then, a tag wiki or an orphan answer)."""
    when = timestamp(DUMP_DATE - dt.timedelta(seconds=rng.randrange(10 ** 8))).replace("Z", ".000")
    r = rng.random()
    if r < 0.01:
        return [{"Id": qid, "PostTypeId": rng.choice((4, 5)), "CreationDate": when, "Score": 0,
                 "Body": f"<p>{html.escape(model.sentence(rng))}</p>\n", "OwnerUserId": -1,
                 "LastActivityDate": when, "CommentCount": 0, "ContentLicense": "CC BY-SA 4.0"}]
    n_answers = rng.choice(ANSWER_COUNTS)
    answer_ids = [qid + 1 + i for i in range(n_answers)]
    accepted = rng.choice(answer_ids) if answer_ids and rng.random() < 0.5 else None
    tags = "".join(f"<{slug(model.word(rng), 2) or 'general'}>" for _ in range(rng.randint(1, 4)))
    question = {"Id": qid, "PostTypeId": 1, "AcceptedAnswerId": accepted, "CreationDate": when,
                "Score": int(rng.paretovariate(1.2)) - 1 - (rng.random() < 0.1) * 3,
                "ViewCount": int(rng.paretovariate(0.8) * 30), "Body": question_body(rng, model, base),
                "OwnerUserId": rng.randrange(1, 10 ** 6), "LastActivityDate": when,
                "Title": model.phrase(rng, rng.randint(4, 12)) + "?", "Tags": tags, "AnswerCount": n_answers,
                "CommentCount": rng.randrange(5), "ContentLicense": "CC BY-SA 4.0"}
    rows = [] if r < 0.02 else [question]  # a deleted question leaves its answers orphaned
    for aid in answer_ids:
        rows.append({"Id": aid, "PostTypeId": 2, "ParentId": qid, "CreationDate": when,
                     "Score": int(rng.paretovariate(1.1)) - 2, "Body": question_body(rng, model, base),
                     "OwnerUserId": rng.randrange(1, 10 ** 6), "LastActivityDate": when,
                     "CommentCount": rng.randrange(4), "ContentLicense": "CC BY-SA 4.0"})
    return rows


def write_stackexchange(part: Part, models: dict[str, WordModel], stats: Counter) -> tuple[list[str], int]:
    rng, eng, base = part.rng, models["eng"], code_base(part.sample)
    site = SITE_NAMES[part.index]
    plain = part.index % 3 == 2  # the others as the dump ships them, 7z
    with tempfile.TemporaryDirectory(dir=part.out) as tmp:
        posts = Path(tmp) / "Posts.xml"
        text_bytes, qid = 0, 1
        with open(posts, "w", encoding="utf-8", newline="") as f:
            f.write('<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n')
            while text_bytes < part.budget:
                rows = post_rows(rng, qid, eng, base)
                for row in rows:
                    f.write(posts_row(row))
                    text_bytes += nbytes(row["Body"]) + nbytes(row.get("Title", ""))
                    stats[{1: "questions", 2: "answers"}.get(row["PostTypeId"], "other_posts")] += 1
                if rows and rows[0]["PostTypeId"] == 2:
                    stats["answers_of_deleted_questions"] += len(rows)
                qid = max((r["Id"] for r in rows), default=qid) + 1
            f.write("</posts>\r\n")
        if plain:
            rel = f"stackexchange/{site}/Posts.xml"
            (part.out / rel).parent.mkdir(parents=True, exist_ok=True)
            posts.rename(part.out / rel)
        else:
            rel = f"stackexchange/{site}.7z"
            write_7z(part.out / rel, posts)
    stats["sites"] += 1
    return [rel], text_bytes


def write_7z(dest: Path, posts: Path) -> None:
    """A .7z holding Posts.xml, as the dump ships it (LZMA2; the member time is fixed)."""
    import os

    import py7zr

    stamp = DUMP_DATE.timestamp()
    os.utime(posts, (stamp, stamp))
    with py7zr.SevenZipFile(dest, "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 1}]) as archive:
        archive.write(posts, "Posts.xml")
