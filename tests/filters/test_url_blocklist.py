"""Domain blocklists in UT1's format: what a line lists, and which URLs a listed domain covers."""
import pytest

from filters.url_blocklist import DomainBlocklist, candidates, normalize_entry, parse_blocklist, url_host


def test_ut1_lines_list_domains_and_other_lines_are_counted_not_used():
    parsed = parse_blocklist([
        "example.com", "  Ads.Example.NET  ", "", "# a comment", ".leading-dot.org", "*.wildcard.org",
        "trailing.org.", "198.51.100.7", "example.com/some/path", "two words", "bücher.example",
    ])
    assert parsed.domains == {"example.com", "ads.example.net", "leading-dot.org", "wildcard.org", "trailing.org",
                              "198.51.100.7", "xn--bcher-kva.example"}
    assert parsed.ignored == 2  # the URL with a path and the line with a space


@pytest.mark.parametrize("line, entry", [("", ""), ("#x", ""), ("a.b # note", "a.b"), ("http://a.b/", None)])
def test_normalize_entry(line, entry):
    assert normalize_entry(line) == entry


@pytest.mark.parametrize("url, host", [
    ("https://WWW.Example.COM:8443/a?b#c", "www.example.com"),
    ("http://user:pw@example.com/", "example.com"),
    ("example.com/page", "example.com"),
    ("http://example.com./", "example.com"),
    ("http://[2001:db8::1]/x", "2001:db8::1"),
    ("", None), (None, None), ("http:///nohost", None),
])
def test_url_host(url, host):
    assert url_host(url) == host


def test_candidates_are_the_host_and_its_parents_but_an_ip_only_itself():
    assert candidates("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]
    assert candidates("192.0.2.1") == ["192.0.2.1"]


def test_a_listed_domain_blocks_itself_and_its_subdomains_only():
    blocklist = DomainBlocklist(["ohchr.org", "198.51.100.7", "news.example.net"])
    assert blocklist.blocked_by("https://www.ohchr.org/en/page") == "ohchr.org"  # a parent domain
    assert blocklist.blocked_by("http://OHCHR.ORG") == "ohchr.org"
    assert blocklist.blocked_by("http://198.51.100.7:8080/x") == "198.51.100.7"
    assert blocklist.blocked_by("https://a.news.example.net/") == "news.example.net"
    # kept: a name that only ends with a listed one, a sibling, a parent of a listed one, no URL
    assert blocklist.blocked_by("https://notohchr.org/") is None
    assert blocklist.blocked_by("https://sports.example.net/") is None
    assert blocklist.blocked_by("https://example.net/") is None
    assert blocklist.blocked_by("http://198.51.100.70/") is None
    assert blocklist.blocked_by(None) is None


def test_international_names_are_compared_in_punycode():
    blocklist = DomainBlocklist(parse_blocklist(["bücher.example"]).domains)
    assert blocklist.blocked_by("https://shop.bücher.example/") == "xn--bcher-kva.example"
    assert blocklist.blocked_by("https://shop.xn--bcher-kva.example/") == "xn--bcher-kva.example"
