"""PII masking: e-mail addresses, IP addresses and phone numbers replaced by typed placeholders.

As dolma does, a match becomes `|||EMAIL_ADDRESS|||`, `|||IP_ADDRESS|||` or
`|||PHONE_NUMBER|||`, so a model learns that an address stood there without
learning the address. The rules are regular expressions written to leave alone
what only looks like PII (each is a test):

- e-mail: `local@domain.tld` with a dot in the domain and a 2-24 letter TLD, so a
  shell prompt's `user@host` has none; `user@host.example.org:~$` and scp-style
  `git@github.com:org/repo` (the address followed by `:` and more) are prompts and
  paths, not mail.
- IP: IPv4 is four dotted numbers each 0-255 (no leading zeros), not inside a longer
  dotted run, so three-part versions (`3.10.2`), decimals and dates never match, but
  a four-part version whose parts are all <= 255 (`1.2.3.4`) does: it cannot be told
  from an address. IPv6 is what Python's `ipaddress` accepts, with at least three
  groups and a digit (so `a[1::2]` slices and `12:30:45` times are not addresses).
- phone: North American numbers (`(801) 596-1887`, `801-596-1887`, `+1 801 596
  1887`; area code and exchange start with 2-9) and international numbers written
  with a leading `+` and separated groups, 8-15 digits in all (E.164's limit). Dates
  (`2023-10-05`, `05.10.2023`, `10/05/2023`), decimals, versions, ISBNs and ten
  digits without separators are not phone numbers here.

In code (`code=True`, GitHub files) the addresses of the file's licence header are
kept unless asked: a copyright line's author address is attribution, and the
header is the same in every file of a project. The header is the file's leading
comment blocks (and a Python module docstring) up to the last one that mentions a
copyright or licence (filters.github's words).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from filters.github import license_header_end

EMAIL, IP, PHONE = "email_address", "ip_address", "phone_number"
TYPES = (EMAIL, IP, PHONE)
PLACEHOLDERS = {t: f"|||{t.upper()}|||" for t in TYPES}

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"  # local part, not the tail of a longer token
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"  # labels, then an alphabetic TLD
    r"(?![A-Za-z0-9-]|\.[A-Za-z0-9]|:\S)"  # the whole name (no backtracking into it); not user@host:path
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])")
_SEP = r"[ .-]"
_NANP = re.compile(
    rf"(?<![\w.+-])(?:\+?1{_SEP}?)?(?:\([2-9]\d\d\)\s?|[2-9]\d\d{_SEP})[2-9]\d\d{_SEP}\d{{4}}(?![\w-]|\.\d)"
)
_INTERNATIONAL = re.compile(r"(?<![\w.+-])\+[1-9]\d{0,2}(?:[ .-]\(?\d{1,4}\)?){2,6}(?![\w-]|\.\d)")


def _ipv6(match: str) -> bool:
    groups = [g for g in match.split(":") if g]
    if len(groups) < 3 or not any(c.isdigit() for c in match):
        return False
    try:
        ipaddress.IPv6Address(match)
    except ValueError:
        return False
    return True


def find_emails(text: str) -> list[tuple[int, int]]:
    if "@" not in text:
        return []
    return [m.span() for m in _EMAIL.finditer(text)]


def find_ip_addresses(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _IPV4.finditer(text)] if "." in text else []
    if "::" in text or text.count(":") >= 7:
        spans += [m.span() for m in _IPV6_CANDIDATE.finditer(text) if _ipv6(m.group())]
    return spans


def find_phone_numbers(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _NANP.finditer(text)]
    if "+" in text:
        spans += [m.span() for m in _INTERNATIONAL.finditer(text) if 8 <= sum(c.isdigit() for c in m.group()) <= 15]
    return spans


FINDERS = {EMAIL: find_emails, IP: find_ip_addresses, PHONE: find_phone_numbers}


@dataclass
class Masked:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # type -> matches masked
    kept_in_header: dict[str, int] = field(default_factory=dict)  # type -> matches left in a licence header


def _merge(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping matches as one (the earliest, then the longest, wins): never a placeholder inside another."""
    out: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            continue
        out.append((start, end, kind))
    return out


@dataclass(frozen=True)
class PiiMasker:
    """Which types to mask; `mask(text, code, path)` returns the masked text and the counts."""

    emails: bool = True
    ip_addresses: bool = True
    phone_numbers: bool = True
    mask_license_headers: bool = False  # code only: also mask addresses inside the licence header

    def types(self) -> tuple[str, ...]:
        return tuple(t for t, on in ((EMAIL, self.emails), (IP, self.ip_addresses), (PHONE, self.phone_numbers))
                     if on)

    def mask(self, text: str, code: bool = False, path: str = "") -> Masked:
        spans = _merge((s, e, kind) for kind in self.types() for s, e in FINDERS[kind](text))
        if not spans:
            return Masked(text)
        header = license_header_end(text, path) if code and not self.mask_license_headers else 0
        result, kept, pieces, last = Masked(text), {}, [], 0
        for start, end, kind in spans:
            if start < header:
                kept[kind] = kept.get(kind, 0) + 1
                continue
            pieces += [text[last:start], PLACEHOLDERS[kind]]
            last = end
            result.counts[kind] = result.counts.get(kind, 0) + 1
        result.text = "".join(pieces) + text[last:]
        result.kept_in_header = kept
        return result
