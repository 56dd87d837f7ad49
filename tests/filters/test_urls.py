"""URL normalisation, the form reference URLs and crawled pages are joined on."""
import pytest

from filters.urls import normalize_url


@pytest.mark.parametrize("url, key", [
    ("https://www.Example.org/a/b/", "example.org/a/b"),
    ("http://example.org/a/b#top", "example.org/a/b"),
    ("https://example.org:8080/x?q=1", "example.org:8080/x?q=1"),
    ("https://example.org:443/", "example.org"),
    ("", ""),
])
def test_normalize_url(url, key):
    assert normalize_url(url) == key
