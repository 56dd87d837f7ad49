"""arXiv LaTeX sources to training text, as LLaMA-1 and RedPajama cleaned them.

LLaMA-1 (section 2): "We removed everything before the first section, as well as the
bibliography. We also removed the comments from the .tex files, and inline-expanded
definitions and macros written by users to increase consistency across papers."

Here, for one paper:
  * `decode_tex`: UTF-8, else latin-1 (old arXiv sources are often latin-1; latin-1
    never fails, so malformed bytes survive as characters); the caller counts it.
  * `strip_comments`: a `%` not escaped by an odd number of backslashes starts a
    comment to the end of the line; a line that was only a comment goes entirely.
    Inside verbatim-like environments and `\\verb` a `%` is text and stays.
    `\\begin{comment}...\\end{comment}` blocks go too.
  * `find_main` / `inline_inputs`: the main file of a multi-file source is the one
    with `\\documentclass` and `\\begin{document}`; its `\\input` / `\\include` /
    `\\subfile` of files present in the source are inlined (RedPajama keeps only the
    main file, which loses every chapter kept in its own file).
  * `expand_macros`: `\\newcommand{\\x}{...}`, `\\renewcommand`, `\\providecommand`,
    `\\def\\x{...}` WITHOUT arguments are expanded where used, and their definitions
    removed. Macros with arguments stay as written (RedPajama does the same).
    A definition whose braces do not balance is left alone.
  * `cut_preamble`: everything before the first `\\section` (or `\\chapter`/`\\part`
    for books and theses) goes; no section at all means the paper is dropped.
  * `cut_bibliography`: from the first `\\bibliography{}` (or the
    `\\bibliographystyle{}` just before it), `thebibliography`
    environment or `\\printbibliography` to the end goes, appendices placed after the
    bibliography included; `\\end{document}` and after go in any case.
"""
from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from filters.base import DocumentFilter, Drop
from filters.document import Document

_VERBATIM_ENVS = ("verbatim", "verbatim*", "Verbatim", "lstlisting", "minted", "alltt", "comment")
_BEGIN_VERB = re.compile(r"\\begin\{(" + "|".join(re.escape(e) for e in _VERBATIM_ENVS) + r")\}")
_VERB_INLINE = re.compile(r"\\verb\*?([^a-zA-Z\s*])(.*?)\1")
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}[ \t]*\n?", re.DOTALL)


def decode_tex(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (a BOM removed), else latin-1."""
    try:
        return data.decode("utf-8").lstrip("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _comment_start(line: str) -> int:
    """Index of the first unescaped % of a line outside \\verb, or -1."""
    protected = [(m.start(), m.end()) for m in _VERB_INLINE.finditer(line)] if "\\verb" in line else []
    i = line.find("%")
    while i >= 0:
        backslashes = len(line[:i]) - len(line[:i].rstrip("\\"))
        if backslashes % 2 == 0 and not any(a <= i < b for a, b in protected):
            return i
        i = line.find("%", i + 1)
    return -1


def strip_comments(text: str) -> str:
    text = _COMMENT_ENV.sub("", text)
    out = []
    in_verbatim: str | None = None
    for line in text.split("\n"):
        if in_verbatim:
            out.append(line)
            if f"\\end{{{in_verbatim}}}" in line:
                in_verbatim = None
            continue
        begin = _BEGIN_VERB.search(line)
        cut = _comment_start(line)
        if begin and (cut < 0 or begin.start() < cut):
            out.append(line)
            if f"\\end{{{begin.group(1)}}}" not in line[begin.end():]:
                in_verbatim = begin.group(1)
            continue
        if cut < 0:
            out.append(line)
        elif line[:cut].strip():
            out.append(line[:cut].rstrip() if not line[:cut].endswith("\\\\") else line[:cut])
        # else: a comment-only line disappears entirely
    return "\n".join(out)


# --- main file and inputs -----------------------------------------------------------------

_DOCUMENTCLASS = re.compile(r"\\document(?:class|style)\b")
_BEGIN_DOCUMENT = re.compile(r"\\begin\s*\{document\}")
_INPUT = re.compile(r"\\(input|include|subfile)\s*(?:\{\s*([^{}]+?)\s*\}|(?<=input)\s+([^\s{}\\%]+))")


def is_main(text: str) -> bool:
    return bool(_DOCUMENTCLASS.search(text) and _BEGIN_DOCUMENT.search(text))


def _resolve(name: str, base_dir: str, files: dict[str, str]) -> str | None:
    name = name.strip().strip('"')
    candidates = []
    for root in (base_dir, ""):
        path = f"{root}/{name}" if root else name
        candidates += [path, f"{path}.tex"]
    for c in candidates:
        norm = re.sub(r"(^|/)\./", r"\1", c)
        if norm in files:
            return norm
    return None


def input_names(text: str) -> list[str]:
    return [(m.group(2) or m.group(3)) for m in _INPUT.finditer(text)]


def find_main(files: dict[str, str]) -> str | None:
    """The main .tex of a source: \\documentclass + \\begin{document}; if several,
    the one no other candidate inputs, then the one inputting most files, then the
    largest, then the first by name."""
    mains = [n for n, t in files.items() if is_main(t)]
    if not mains:
        return None
    inputted = {_resolve(x, n.rpartition("/")[0], files) for n in mains for x in input_names(files[n])}
    roots = [n for n in mains if n not in inputted] or mains

    def reach(n: str) -> int:
        return sum(_resolve(x, n.rpartition("/")[0], files) is not None for x in input_names(files[n]))

    return sorted(roots, key=lambda n: (-reach(n), -len(files[n]), n))[0]


def inline_inputs(main: str, files: dict[str, str], max_depth: int = 8) -> tuple[str, list[str]]:
    """The main file with \\input/\\include/\\subfile of files present inlined, and
    the names inlined. Cycles and depth past `max_depth` are left as written."""
    used: list[str] = []

    def expand(name: str, stack: tuple[str, ...]) -> str:
        base = name.rpartition("/")[0]

        def repl(m: re.Match) -> str:
            target = _resolve(m.group(2) or m.group(3), base, files)
            if target is None or target in stack or len(stack) >= max_depth:
                return m.group(0)
            used.append(target)
            body = expand(target, stack + (target,))
            return f"\n{body}\n" if m.group(1) == "include" else body

        return _INPUT.sub(repl, files[name])

    return expand(main, (main,)), used


# --- macros -------------------------------------------------------------------------------

_DEF_START = re.compile(
    r"\\(?:(?:re)?newcommand\*?|providecommand\*?|DeclareRobustCommand\*?)\s*(?:\{\s*(\\[a-zA-Z@]+)\s*\}|(\\[a-zA-Z@]+))"
    r"|\\(?:g|e|x)?def\s*(\\[a-zA-Z@]+)"
)


def _braced(text: str, i: int) -> int | None:
    """End index (exclusive) of the {...} group starting at text[i] == "{", or None."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


def collect_macros(text: str) -> tuple[dict[str, str], str]:
    """(name -> body) of argument-free definitions, and the text without them."""
    macros: dict[str, str] = {}
    out = []
    pos = 0
    for m in _DEF_START.finditer(text):
        if m.start() < pos:
            continue  # inside a definition already consumed
        name = m.group(1) or m.group(2) or m.group(3)
        j = m.end()
        while j < len(text) and text[j] in " \t\n":
            j += 1
        if j >= len(text) or text[j] != "{":
            continue  # arguments ([n] or #1) or an unbraced body: left as written
        end = _braced(text, j)
        if end is None:
            continue  # unbalanced braces: malformed, left alone
        body = text[j + 1:end - 1]
        if "#" in body:
            continue  # refers to parameters: not a plain macro
        if "providecommand" in m.group(0):  # defines only what is not defined yet
            macros.setdefault(name, body)
        else:
            macros[name] = body
        out.append(text[pos:m.start()])
        pos = end
    out.append(text[pos:])
    return macros, "".join(out)


def expand_macros(text: str, rounds: int = 5) -> str:
    macros, text = collect_macros(text)
    # A macro that uses itself would never finish: leave those as written.
    macros = {k: v for k, v in macros.items() if not re.search(re.escape(k) + r"(?![a-zA-Z@])", v)}
    if not macros:
        return text
    names = sorted(macros, key=len, reverse=True)
    pattern = re.compile("(" + "|".join(re.escape(n) for n in names) + r")(?![a-zA-Z@])(?:\{\})?")
    for _ in range(rounds):  # bodies may use other macros
        new = pattern.sub(lambda m: macros[m.group(1)], text)
        if new == text:
            break
        text = new
    return text


# --- sections and bibliography --------------------------------------------------------------

_FIRST_SECTION = re.compile(r"\\(?:part|chapter|section)\*?\s*[\[{]")
_END_DOCUMENT = re.compile(r"\\end\s*\{document\}")
_BIB_MAIN = re.compile(r"\\bibliography\s*\{[^{}]*\}|\\begin\s*\{thebibliography\}|\\printbibliography\b(?:\s*\[[^\]]*\])?")
_BIB_STYLE = re.compile(r"\\bibliographystyle\s*\{[^{}]*\}")
_THEBIB_ENV = re.compile(r"\\begin\s*\{thebibliography\}.*?\\end\s*\{thebibliography\}", re.DOTALL)


_VERBATIM_BLOCK = re.compile(
    r"\\begin\{(" + "|".join(re.escape(e) for e in _VERBATIM_ENVS) + r")\}.*?\\end\{\1\}", re.DOTALL)


def _masked(text: str) -> str:
    """The text with verbatim environments and \\verb spans blanked (same length), so
    that a `\\verb|\\bibliography|` in the prose is not taken for the bibliography."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    return _VERB_INLINE.sub(blank, _VERBATIM_BLOCK.sub(blank, text))


def cut_preamble(text: str) -> str | None:
    m = _FIRST_SECTION.search(_masked(text))
    return text[m.start():] if m else None


def cut_bibliography(text: str) -> str:
    """Cut from the paper's bibliography to the end.

    The bibliography is the *last* one: theses print a list of own publications in
    the front matter (biblatex refsections) or one per chapter, and cutting at the
    first would lose every chapter after it. Earlier ones are removed in place. A
    \\bibliographystyle between the previous bibliography and the last goes with it.
    """
    end = _END_DOCUMENT.search(_masked(text))
    if end:
        text = text[: end.start()]
    masked = _masked(text)
    mains = list(_BIB_MAIN.finditer(masked))
    if not mains:
        return text
    cut = mains[-1].start()
    after_previous = mains[-2].end() if len(mains) > 1 else 0
    styles = [m.start() for m in _BIB_STYLE.finditer(masked, after_previous, cut)]
    if styles:
        cut = styles[0]
    head, masked_head = text[:cut], masked[:cut]
    # Earlier bibliographies: environments whole, commands alone.
    spans = [m.span() for m in _THEBIB_ENV.finditer(masked_head)]
    spans += [m.span() for m in _BIB_MAIN.finditer(masked_head) if not any(a <= m.start() < b for a, b in spans)]
    for a, b in sorted(spans, reverse=True):
        head = head[:a] + head[b:]
    return head


def clean_latex(text: str) -> str | None:
    """The whole recipe; None when the text has no section to start from."""
    text = strip_comments(text)
    text = expand_macros(text)
    body = cut_preamble(text)
    if body is None:
        return None
    body = cut_bibliography(body)
    body = re.sub(r"[ \t]+\n", "\n", body)
    return re.sub(r"\n{3,}", "\n\n", body).strip()


class ArxivFilter(DocumentFilter):
    """Stage "arxiv": clean one paper's LaTeX; drop papers with nothing usable.

    Reasons: `no_tex` (a source with no .tex file, e.g. a PDF-only submission),
    `no_main_file` (.tex files, none with \\documentclass and \\begin{document}),
    `no_section` (no \\section/\\chapter/\\part to start from). What is kept starts
    with that section command, so it is never empty.
    """

    stage: ClassVar[str] = "arxiv"
    reasons: ClassVar[tuple[str, ...]] = ("no_tex", "no_main_file", "no_section")

    def apply(self, doc: Document) -> Document | Drop:
        if not doc.meta.get("tex_files", True):
            return Drop("no_tex")
        if doc.meta.get("main_file", "") is None:
            return Drop("no_main_file")
        text = clean_latex(doc.text)
        if text is None:
            return Drop("no_section")
        return dataclasses.replace(doc, text=text)
