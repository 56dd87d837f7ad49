"""Domain blocklists: which listed domain, if any, a page's URL falls under.

The lists are in the format of public URL blocklists such as UT1's (Université
Toulouse 1 Capitole, `blacklists/<category>/domains`): one domain a line, lowercase,
a listed domain covering its subdomains too. Also accepted, as squid and hosts-style
lists write them: a leading `.` or `*.`, trailing blanks, `#` comments and blank lines.
A line that is not a domain (a URL with a path, text with spaces) is counted, not used.
IP addresses are listed as they are and match only that host.

A page is blocked when its host or any parent domain of it is listed:
`https://www.ohchr.org/en/...` is blocked by `www.ohchr.org` or `ohchr.org` (or `org`).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ParsedList:
    domains: frozenset[str]
    ignored: int  # lines that are not a domain: URLs with a path, text with spaces


def normalize_entry(line: str) -> str | None:
    """A list line as the domain it lists, "" for a blank or comment line, None for a non-domain."""
    entry = line.split("#", 1)[0].strip().lower()
    if not entry:
        return ""
    entry = entry.removeprefix("*.").lstrip(".").rstrip(".")
    if _is_ip(entry):
        return entry
    if not entry or any(c in entry for c in " \t/:@?"):
        return None
    return _ascii_host(entry)


def parse_blocklist(lines: Iterable[str]) -> ParsedList:
    """The domains of one list file's lines."""
    domains, ignored = set(), 0
    for line in lines:
        entry = normalize_entry(line)
        if entry is None:
            ignored += 1
        elif entry:
            domains.add(entry)
    return ParsedList(frozenset(domains), ignored)


def _ascii_host(host: str) -> str:
    """Internationalised names compared in their ASCII (punycode) form, as lists store them."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN: compare the text as it is
        return host


def url_host(url: str | None) -> str | None:
    """The lowercase host of a URL (no port, user or trailing dot), or None when it has none."""
    if not url:
        return None
    url = url.strip()
    if "://" not in url:  # "example.com/page": a host with no scheme
        url = "http://" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return _ascii_host(host.rstrip(".")) if host else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def candidates(host: str) -> list[str]:
    """The host and each parent domain, longest first (an IP address: itself only)."""
    if _is_ip(host):
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


class DomainBlocklist:
    """Listed domains; `blocked_by(url)` names the listed domain a URL falls under."""

    def __init__(self, domains: Iterable[str]):
        self.domains = frozenset(domains)

    def blocked_by(self, url: str | None) -> str | None:
        """The most specific listed domain covering the URL's host, or None."""
        host = url_host(url)
        if host is None:
            return None
        for name in candidates(host):
            if name in self.domains:
                return name
        return None
