"""Which licence a LICENSE / COPYING file grants, by matching it to the standard texts.

LLaMA-1 kept GitHub projects "distributed under the Apache, BSD and MIT licenses",
taking the licence from Google BigQuery's GitHub dataset, whose licence column comes
from GitHub's own detector, licensee. This module does what licensee does, in
Python: normalise the file's text (case, punctuation, spelling variants such as
"licence", copyright lines, the Apache appendix that tells how to apply the licence)
and compare its *set of words* with each reference text by the Sørensen–Dice
coefficient, 2|A∩B| / (|A|+|B|). The best reference at or above `threshold` wins;
below it the text is not recognised ("NOASSERTION", SPDX's word for "cannot tell").
A file that is only an `SPDX-License-Identifier:` line is taken at its word.

Reference texts:
  * MIT, BSD-2-Clause, BSD-3-Clause and ISC are short, and not in Debian's
    /usr/share/common-licenses, so they are below: the SPDX License List texts
    (CC0-1.0; copied from npm `spdx-license-list` 6.12.0, licenses/<id>.json).
  * the long ones (Apache-2.0, GPL, LGPL, MPL) are read from `texts_dir`, by default
    Debian's /usr/share/common-licenses (package base-files, present on every Debian
    or Ubuntu machine, the Beam SDK containers included). Apache-2.0 must be there,
    since it is one of the licences LLaMA kept; the copyleft ones only sharpen the
    report (a GPL file is NOASSERTION without them, and dropped either way).

Dice on sets cannot see an added clause made of words the licence already uses
("... shall be used for Good, not Evil" turns MIT into a non-free licence), so the
best match must also pass licensee's second test in spirit: the text may not insert
more than `MAX_INSERTED_WORDS` consecutive words into the reference (difflib
alignment of the word sequences). Names in a BSD clause 3 or a title line fit in
that; an extra sentence does not.

Why Dice on word sets and not exact text: real licence files differ from the
reference in names, years, line wrapping and small edits ("Neither the name of
Pallets nor ..."); word sets absorb all of that, and BSD-2 vs BSD-3 (or MIT vs ISC)
still differ by whole clauses, so the best match is the right one.
"""
from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

NOASSERTION = "NOASSERTION"
COMMON_LICENSES = "/usr/share/common-licenses"
# LLaMA-1: "Apache, BSD and MIT licenses".
PERMISSIVE = ("Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT")
# licensee accepts at 98% after stricter normalisation; 0.90 tolerates the edits real
# files carry (a renamed BSD clause 3, a title line) while BSD-2/BSD-3 score ~0.94
# against each other and the better of the two still wins.
DEFAULT_THRESHOLD = 0.90
# "Neither the name of the University of California nor ..." inserts 5 words.
MAX_INSERTED_WORDS = 6
# A title line before the licence ("The MIT License (MIT)") is not an insertion.
_TITLE_WORDS = 8

# Debian common-licenses file -> SPDX id. Required ones must exist.
COMMON_LICENSE_FILES = {
    "Apache-2.0": ("Apache-2.0", True),
    "GPL-2": ("GPL-2.0", False),
    "GPL-3": ("GPL-3.0", False),
    "LGPL-2.1": ("LGPL-2.1", False),
    "LGPL-3": ("LGPL-3.0", False),
    "MPL-2.0": ("MPL-2.0", False),
}

# From the SPDX License List (CC0-1.0), as shipped by npm spdx-license-list 6.12.0.
SPDX_TEXTS = {
    "MIT": """MIT License

Copyright (c) <year> <copyright holders>

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
USE OR OTHER DEALINGS IN THE SOFTWARE.
""",
    "BSD-2-Clause": """Copyright (c) <year> <owner>

Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
""",
    "BSD-3-Clause": """Copyright (c) <year> <owner>.

Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse or promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
""",
    "ISC": """ISC License:

Copyright (c) 2004-2010 by Internet Systems Consortium, Inc. ("ISC")
Copyright (c) 1995-2003 by Internet Software Consortium

Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted, provided that the above copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND ISC DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL ISC BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
""",
}

# Licence ids as BigQuery's github_repos.licenses writes them (lower case) -> SPDX.
_SPDX_CASE = {s.lower(): s for s in (
    *PERMISSIVE, "ISC", "GPL-2.0", "GPL-3.0", "LGPL-2.1", "LGPL-3.0", "AGPL-3.0", "MPL-2.0",
    "EPL-1.0", "EPL-2.0", "Unlicense", "CC0-1.0", "Artistic-2.0", "BSL-1.0", "0BSD", "Zlib",
)}

# A licence file at a repository's root: LICENSE, LICENCE, COPYING, with any suffix
# or extension (LICENSE.txt, LICENSE-MIT, COPYING.LESSER) or prefix (MIT-LICENSE).
LICENSE_FILE = re.compile(r"(?i)^(?:[a-z0-9]+[-_.])?(?:licen[cs]e|copying)(?:[-.][a-z0-9.-]*)?$")
_CODE_SUFFIX = re.compile(r"(?i)\.(?:py|js|ts|go|rs|c|h|java|rb|php|json|ya?ml|toml|html?|xml|sh|cfg|ini)$")

_SPDX_LINE = re.compile(r"(?im)^\W*SPDX-License-Identifier:\s*([^\n*]+?)\s*(?:\*/|-->)?\s*$")
_SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")
_EXPRESSION_WORDS = frozenset({"AND", "OR", "WITH"})
# "Copyright (c) 2015 ...", "Copyright 2014 Pallets", "(c) 2001 ..." but not the MIT
# clause line "COPYRIGHT HOLDERS BE LIABLE FOR ...".
_COPYRIGHT_LINE = re.compile(r"(?im)^[^\w\n]*(?:copyright\s*(?:\(c\)|©|\d{4}|<|\[|by\b)|\(c\)\s*\d{4}|©).*$")
_ALL_RIGHTS = re.compile(r"(?i)all rights reserved\.?")
# Apache-2.0's "How to apply" appendix is left out by many projects: compare without it.
_END_OF_TERMS = re.compile(r"(?is)end of terms and conditions.*")
# Spelling variants licensee also folds (British/American, hyphenation).
_VARIANTS = [
    (re.compile(r"\blicen[cs]e"), "license"),
    (re.compile(r"\bsub-?licen[cs]e"), "sublicense"),
    (re.compile(r"\bnon-?infringement"), "noninfringement"),
    (re.compile(r"\backnowledgement"), "acknowledgment"),
    (re.compile(r"\bauthori[sz]"), "authoriz"),
    (re.compile(r"https?://"), "http://"),
]
_WORD = re.compile(r"[a-z0-9]+")


def is_license_file(name: str) -> bool:
    """True for a file name that holds a licence text (LICENSE, COPYING.txt, LICENCE-MIT)."""
    return bool(LICENSE_FILE.match(name)) and not _CODE_SUFFIX.search(name)


def normalize_license_id(value: str | None) -> str | None:
    """A licence id as written in a dataset ("apache-2.0", "MIT") -> its SPDX spelling."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    return _SPDX_CASE.get(value.lower(), value)


def expression_ids(expression: str) -> list[str]:
    """The licence ids in an SPDX expression ("MIT OR Apache-2.0" -> ["MIT", "Apache-2.0"])."""
    return [t for t in _SPDX_ID.findall(expression) if t not in _EXPRESSION_WORDS]


def words(text: str) -> list[str]:
    """The normalised words of a licence text, in order."""
    text = _END_OF_TERMS.sub("", text)
    text = _COPYRIGHT_LINE.sub("", text)
    text = _ALL_RIGHTS.sub("", text).lower()
    for pattern, repl in _VARIANTS:
        text = pattern.sub(repl, text)
    return _WORD.findall(text)


def wordset(text: str) -> frozenset[str]:
    """The set of normalised words, as licensee compares them."""
    return frozenset(words(text))


def longest_insertion(reference: list[str], candidate: list[str]) -> int:
    """The most consecutive candidate words not aligned with the reference (after a title)."""
    matcher = difflib.SequenceMatcher(None, reference, candidate, autojunk=False)
    longest = 0
    for op, i1, _, j1, j2 in matcher.get_opcodes():
        if op in ("insert", "replace") and not (i1 == 0 and j2 <= _TITLE_WORDS):
            longest = max(longest, j2 - j1)
    return longest


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


@dataclass(frozen=True, slots=True)
class LicenseMatch:
    spdx: str  # an SPDX id or expression, or NOASSERTION
    score: float  # Dice similarity with the reference (1.0 for an SPDX-License-Identifier line)


@functools.cache
def _references(texts_dir: str) -> tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]:
    """(SPDX id, word set, word sequence) of every reference text."""
    refs = {spdx: tuple(words(text)) for spdx, text in SPDX_TEXTS.items()}
    for file_name, (spdx, required) in COMMON_LICENSE_FILES.items():
        path = Path(texts_dir) / file_name
        try:
            refs[spdx] = tuple(words(path.read_text(encoding="utf-8")))
        except OSError as e:
            if required:
                raise FileNotFoundError(
                    f"licence reference text {path} is missing ({e}); install Debian's base-files or set "
                    f"github.license_texts_dir to a directory holding {', '.join(COMMON_LICENSE_FILES)}"
                ) from None
    return tuple((spdx, frozenset(seq), seq) for spdx, seq in sorted(refs.items()))


class LicenseDetector:
    """detect(text) -> LicenseMatch. Picklable: reference texts load lazily, once per process."""

    def __init__(self, texts_dir: str = COMMON_LICENSES, threshold: float = DEFAULT_THRESHOLD):
        if not 0 < threshold <= 1:
            raise ValueError(f"github.license_threshold must be in (0, 1], got {threshold!r}")
        self.texts_dir, self.threshold = str(texts_dir), threshold

    def setup(self) -> None:
        _references(self.texts_dir)  # fail early, with the path, if a required text is missing

    def detect(self, text: str) -> LicenseMatch:
        spdx_line = _SPDX_LINE.search(text)
        if spdx_line and len(_WORD.findall(text.lower())) < 40:  # a bare identifier, not a licence text
            ids = expression_ids(spdx_line.group(1))
            if ids:
                return LicenseMatch(" ".join(_SPDX_CASE.get(t.lower(), t) if t not in _EXPRESSION_WORDS else t
                                             for t in spdx_line.group(1).split()), 1.0)
        seq = words(text)
        found = frozenset(seq)
        best_id, best, best_seq = NOASSERTION, 0.0, ()
        for spdx, ref, ref_seq in _references(self.texts_dir):
            score = dice(found, ref)
            if score > best:
                best_id, best, best_seq = spdx, score, ref_seq
        if best < self.threshold or longest_insertion(list(best_seq), seq) > MAX_INSERTED_WORDS:
            return LicenseMatch(NOASSERTION, round(best, 4))
        return LicenseMatch(best_id, round(best, 4))
