"""Real text per language from the built sample, and word n-gram models over it.

The scale corpus (samples/scale_corpus.py) needs far more text than the sample holds
(the UDHR gives ~10 KB per language), with lines that do not repeat. So each
language gets a Markov model over all of its real text in `data/sample/`:

    eng        the Python docs pages, the iana.org / example.com captures, the English
               UDHR (cc/*.warc.gz), enwiki (wikitext -> text), the Gutenberg books
    bul        bgwiki and the Bulgarian UDHR
    the rest   their UDHR translations (532 files, ~450 languages and scripts)

Keys are ISO 639-3 codes (CommonCrawl's WARC-Identified-Content-Language uses
them), plus the script where the UDHR has one language in two (`srp_cyrl`,
`cmn_hant`). A model emits sentences token by token from the followers seen after
the previous one or two tokens, and swaps a small share of tokens for a random
token of the language (drawn by frequency), so long lines almost never repeat.
Languages written without spaces (Chinese, Japanese, Thai, ...) use characters as
tokens.

Everything is deterministic: inputs are read in sorted order, and every random
choice comes from the `random.Random` passed in.
"""
from __future__ import annotations

import bz2
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Iterator
from pathlib import Path
from random import Random

from fastwarc.warc import ArchiveIterator, WarcRecordType

from filters.wikitext import wikitext_to_text
from samples.build_sample import content_type_of, extract_text

# Token 0 marks both ends of a sentence.
EDGE = 0
SENTENCE_END = frozenset(".!?。！？।॥۔؟።။")
# Order 3 (two tokens of context) only with enough text: on ~10 KB it copies the
# source verbatim, which would make lines repeat across pages.
TRIGRAM_MIN_TOKENS = 200_000
# English has ~20 MB in the sample; more adds memory and start-up time, not variety.
MAX_CHARS_PER_LANGUAGE = 8_000_000
MIN_CHARS_PER_LANGUAGE = 2_000
# A paragraph this short gets another sentence (a few words alone recur by chance).
MIN_PARAGRAPH_CHARS = 60
# Label tokens (headings, menu items) a language needs for labels of its own.
RICH_LABEL_TOKENS = 5_000

# The docs quote placeholder Latin in examples (textwrap, doctest): not language.
_PLACEHOLDER = re.compile(r"(?i)\b(lorem|ipsum|dolor sit|consectetur|adipiscing|pulvinar|gravida|ullamcorper|"
                          r"tincidunt|feugiat|aliquam|rutrum)\b")
_UDHR_URL = re.compile(r"https?://unicode\.org/udhr/d/udhr_")
_HTML_TAG = re.compile(rb"<html\b[^>]*>", re.I)
_ATTR = re.compile(rb'(data-code|data-iso6393)="([^"]*)"')
# Parts of a UDHR file code that name an edition, not a language: deu_1996, por_BR, oci_2.
_EDITION = re.compile(r"\d+|[A-Z]{2}")


# --------------------------------------------------------------------------- real text

def udhr_key(html: bytes) -> str | None:
    """The language key of a UDHR page, from its <html data-code data-iso6393>.

    Editions of one language share a key (deu_1901 and deu_1996 -> deu; por_BR and
    por_PT -> por); scripts and dialects keep theirs (srp_cyrl, cmn_hans_beijing).
    The numbered files are further dialects: <iso>_<number> (068 -> fra_068).
    Undetermined languages (und) are skipped.
    """
    m = _HTML_TAG.search(html[:2048])
    attrs = dict(_ATTR.findall(m.group(0))) if m else {}
    iso = attrs.get(b"data-iso6393", b"").decode("ascii")
    code = attrs.get(b"data-code", b"").decode("ascii")
    if not re.fullmatch(r"[a-z]{3}", iso) or iso == "und" or not code:
        return None
    if code.isdigit():
        return f"{iso}_{code}"
    rest = [p for p in code.split("_")[1:] if not _EDITION.fullmatch(p)]
    return "_".join([iso, *rest])  # the file code's own first part may be "gsw1", "tha2"


def iso639_3(key: str) -> str:
    """The ISO 639-3 part of a language key (srp_cyrl -> srp)."""
    return key.split("_", 1)[0]


def crawl_texts(cc_dir: Path) -> Iterator[tuple[str, str]]:
    """(language key, page text) for the sample crawl's pages, each text once.

    The docs' /3/ alias and the ohchr.org copies repeat other pages, so they are skipped.
    """
    for path in sorted(cc_dir.glob("*.warc.gz")):
        if path.name.endswith(".wet.gz"):
            continue
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False):
                url = record.headers.get("WARC-Target-URI", "")
                if "docs.python.org/3/" in url or "ohchr.org" in url:
                    continue
                block = record.reader.read()
                head, _, body = block.partition(b"\r\n\r\n")
                key = udhr_key(body) if _UDHR_URL.match(url) else "eng"
                if key:
                    yield key, extract_text(body, content_type_of(head + b"\r\n\r\n"))


def wiki_texts(wiki_dir: Path) -> Iterator[tuple[str, str]]:
    """(language key, article text) for the sample's Wikipedia pages (articles only)."""
    keys = {"enwiki": "eng", "bgwiki": "bul"}
    for path in sorted(wiki_dir.glob("*.xml.bz2")):
        key = keys.get(path.name.split("-", 1)[0])
        if key is None:
            continue
        root = ET.fromstring(bz2.decompress(path.read_bytes()))  # the samples are a few MB
        ns = {"m": root.tag[1:].split("}")[0]}
        for page in root.iterfind("m:page", ns):
            if page.findtext("m:ns", namespaces=ns) != "0" or page.find("m:redirect", ns) is not None:
                continue
            yield key, wikitext_to_text(page.findtext("m:revision/m:text", "", ns))


def book_texts(books_dir: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(books_dir.glob("*.txt")):
        yield "eng", path.read_text(encoding="utf-8")


def distinct_lines(texts) -> list[str]:
    """The distinct non-blank lines of the texts, in reading order, spaces collapsed."""
    seen, out = set(), []
    for text in texts:
        for line in text.splitlines():
            line = " ".join(line.split()).lstrip("•").strip()
            if line and line not in seen and not _PLACEHOLDER.search(line):
                seen.add(line)
                out.append(line)
    return out


def book_lines(sample: Path) -> list[str]:
    """The lines of the sample's books (Gutenberg texts), for a model of their voice."""
    return distinct_lines(text for _, text in book_texts(sample / "books"))


def language_lines(sample: Path) -> dict[str, list[str]]:
    """Language key -> its distinct non-blank lines, in reading order, capped in size.

    Dropping repeated lines keeps a site's navigation (the docs' 446 copies of it)
    from dominating the model.
    """
    lines: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    sources = (crawl_texts(sample / "cc"), wiki_texts(sample / "wikipedia"), book_texts(sample / "books"))
    for source in sources:
        for key, text in source:
            kept, known = lines.setdefault(key, []), seen.setdefault(key, set())
            for line in text.splitlines():
                line = " ".join(line.split()).lstrip("•").strip()
                if not line or line in known or size.get(key, 0) > MAX_CHARS_PER_LANGUAGE \
                        or _PLACEHOLDER.search(line):
                    continue
                known.add(line)
                kept.append(line)
                size[key] = size.get(key, 0) + len(line)
    return {k: v for k, v in sorted(lines.items()) if size.get(k, 0) >= MIN_CHARS_PER_LANGUAGE}


def ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", folded)


def slug(text: str, words: int = 6) -> str:
    """A URL path segment from a title: ASCII words joined by '-'."""
    return "-".join(ascii_words(text)[:words]) or "page"


def ascii_label(text: str, rng: Random) -> str:
    """A host name label from a site name: ASCII-folded, else punycode (an IDN)."""
    label = "-".join(ascii_words(text))[:40].strip("-")
    if len(label) >= 3:
        return label
    letters = "".join(c for c in text.lower() if c.isalnum())[:20] or f"site{rng.randrange(10 ** 6)}"
    return "xn--" + letters.encode("punycode").decode("ascii").lower().replace("_", "-").strip("-")


# --------------------------------------------------------------------------- the model

def writes_without_spaces(lines: list[str]) -> bool:
    """Chinese, Japanese, Thai, ...: few spaces per character."""
    chars = sum(len(line) for line in lines)
    return sum(line.count(" ") for line in lines) < 0.04 * chars


def ends_sentence(token: str, chars: bool) -> bool:
    """A final stop, but not a list number ("2.") or an initial ("J.")."""
    if token[-1] not in SENTENCE_END:
        return False
    if chars:  # in Chinese or Japanese an ASCII "." numbers a list ("1.")
        return token != "."
    return sum(c.isalpha() for c in token) >= 2


def sentences(line: str, chars: bool) -> Iterator[list[str]]:
    """A line cut into sentences of tokens (words, or characters); a line without a
    final stop (a heading, a menu item) is one sentence."""
    tokens = list(line) if chars else line.split()
    start = 0
    for i, tok in enumerate(tokens):
        if ends_sentence(tok, chars):
            yield tokens[start:i + 1]
            start = i + 1
    if start < len(tokens):
        yield tokens[start:]


END = -1  # the state after a sentence's last token


class Chain:
    """A Markov chain over token ids, as tables of states for a fast walk.

    A state is a context: the last two tokens (order 3) or the last one (order 2);
    `token[s]` is its last token and `succ[s]` the states that followed it in the
    text, with repeats (so a uniform pick is a pick by frequency), END for a
    sentence end. For order 3 every token also has a one-token state (`solo`), the
    back-off for a context never seen.
    """

    def __init__(self, sentences: list[list[int]], order: int):
        self.order = order
        self.ids: dict[int, int] = {}       # context key -> state
        self.token: list[int] = []
        self.succ: list[list[int]] = []
        self.solo: dict[int, int] = {}      # token -> its one-token state (order 3)
        self.start = self._state(self._key(EDGE, EDGE), EDGE)
        for sent in sentences:
            a = b = EDGE
            for t in [*sent, END]:
                here = self.ids[self._key(a, b)]
                nxt = END if t == END else self._state(self._key(b, t), t)
                self.succ[here].append(nxt)
                if order == 3 and b != EDGE:
                    self.succ[self._solo(b)].append(nxt)
                a, b = b, t

    def _key(self, a: int, b: int) -> int:
        return (a << 24 | b) if self.order == 3 else b

    def _state(self, key: int, token: int) -> int:
        s = self.ids.get(key)
        if s is None:
            s = self.ids[key] = len(self.token)
            self.token.append(token)
            self.succ.append([])
        return s

    def _solo(self, token: int) -> int:
        s = self.solo.get(token)
        if s is None:
            s = self.solo[token] = len(self.token)
            self.token.append(token)
            self.succ.append([])
        return s

    def after(self, state: int, token: int) -> int:
        """The state after `token` (swapped in) follows `state`; END if never seen."""
        s = self.ids.get(self._key(self.token[state], token))
        if s is None:
            s = self.solo.get(token, END) if self.order == 3 else END
        return s

    @property
    def size(self) -> int:
        return sum(len(x) for x in self.succ)


class WordModel:
    """Token Markov models (order 2 or 3) over one language's real lines.

    Two chains: prose, learnt from the sentences that end with a stop, and labels,
    learnt from the rest (headings, menu items, captions). A walk goes from a
    sentence start to a sentence end; with probability `swap` a token is replaced by
    a random one of the language (drawn by frequency) and the walk goes on from
    there (backing off to one token of context, or ending where there is none).
    """

    def __init__(self, key: str, lines: list[str], swap: float = 0.05):
        self.key, self.swap = key, swap
        if not 0.0 <= swap < 1.0:
            raise ValueError(f"swap must be in [0, 1), got {swap}")
        self._log_keep = math.log(1.0 - swap)
        self.chars = writes_without_spaces(lines)
        self.joiner = "" if self.chars else " "
        ids: dict[str, int] = {"": EDGE}
        self.vocab: list[str] = [""]
        self.stream = array("i")  # every token occurrence: frequency-weighted draws
        prose, labels = [], []
        for line in lines:
            for sent in sentences(line, self.chars):
                sent_ids = []
                for tok in sent:
                    t = ids.get(tok)
                    if t is None:
                        t = ids[tok] = len(self.vocab)
                        self.vocab.append(tok)
                    sent_ids.append(t)
                self.stream.extend(sent_ids)
                (prose if ends_sentence(sent[-1], self.chars) else labels).append(sent_ids)
        # On ~10 KB a context of two words copies the source verbatim; characters
        # always get two (one alone gives letter soup).
        order = 3 if self.chars or len(self.stream) >= TRIGRAM_MIN_TOKENS else 2
        self.prose = Chain(prose or labels, order)
        self.labels = Chain(labels or prose, order)
        self.rich_labels = sum(map(len, labels)) >= RICH_LABEL_TOKENS

    def walk(self, rng: Random, chain: Chain, limit: int = 60) -> list[str]:
        """One walk's tokens, from a sentence start to its end (at most `limit`)."""
        # The hot loop of the whole generator: locals only, one lookup per step.
        rand, stream, vocab = rng.random, self.stream, self.vocab
        succ, token, n_stream = chain.succ, chain.token, len(stream)
        out: list[str] = []
        s = chain.start
        swap_at = self._next_swap(rng)
        for i in range(limit):
            followers = succ[s]
            nxt = followers[int(rand() * len(followers))]
            if nxt == END:
                break
            if i == swap_at:
                nxt = chain.after(s, stream[int(rand() * n_stream)])
                if nxt == END:
                    break
                swap_at = i + 1 + self._next_swap(rng)
            out.append(vocab[token[nxt]])
            s = nxt
        return out

    def _next_swap(self, rng: Random) -> int:
        """Tokens until the next swap: geometric, so each token is swapped with
        probability `swap` (one draw per swap instead of one per token)."""
        if not self.swap:
            return 1 << 30
        return int(math.log(1.0 - rng.random()) / self._log_keep)

    def sentence(self, rng: Random) -> str:
        """A sentence of the prose chain; walks of one or two tokens ("Ham.", a
        speaker in a play) are redrawn, as alone on a line they repeat across pages."""
        for _ in range(4):
            toks = self.walk(rng, self.prose)
            if len(toks) >= (6 if self.chars else 3):
                break
        return self.joiner.join(toks)

    def paragraph(self, rng: Random, n_sentences: int) -> str:
        """`n_sentences` sentences, and more while they are short: a paragraph of a
        few words ("This function always succeeds.") would recur on other pages."""
        parts = [self.sentence(rng) for _ in range(n_sentences)]
        while sum(map(len, parts)) < MIN_PARAGRAPH_CHARS and len(parts) < n_sentences + 4:
            parts.append(self.sentence(rng))
        return self.joiner.join(filter(None, parts))

    def phrase(self, rng: Random, n_tokens: int) -> str:
        """A short label (menu item, heading): a walk of the label chain when the
        language has many labels (English), else a piece of a sentence (the UDHR's
        labels are its 30 "Article N" headings)."""
        limit = n_tokens * 3 if self.chars else n_tokens
        for attempt in range(8):
            if self.rich_labels:  # a whole label if one is short enough, else a label's start
                toks = self.walk(rng, self.labels, limit + 2)
                if len(toks) > limit and attempt < 7:
                    continue
                toks = toks[:limit]
            else:
                toks = self.piece(rng, limit)
            text = self.joiner.join(toks).strip(" .,;:!?()[]\"'«»“”„。！？、，：；،")
            if any(c.isalpha() for c in text):
                return text[:1].upper() + text[1:]
        return self.word(rng)

    def title(self, rng: Random, n_tokens: int) -> str:
        """A page or article title: a piece of a sentence, rarely seen twice."""
        text = self.joiner.join(self.piece(rng, n_tokens * 3 if self.chars else n_tokens))
        text = text.strip(" .,;:!?()[]\"'«»“”„。！？、，：；،") or self.word(rng)
        return text[:1].upper() + text[1:]

    def piece(self, rng: Random, n_tokens: int) -> list[str]:
        """`n_tokens` consecutive tokens from a random place in a new sentence."""
        for _ in range(4):
            toks = self.walk(rng, self.prose)
            if len(toks) >= n_tokens:
                break
        start = rng.randrange(max(1, len(toks) - n_tokens + 1))
        return toks[start:start + n_tokens]

    def word(self, rng: Random) -> str:
        return self.vocab[self.stream[int(rng.random() * len(self.stream))]]
