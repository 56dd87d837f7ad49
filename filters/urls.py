"""URL normalisation: the one form pages and reference URLs are compared in."""
from __future__ import annotations

from urllib.parse import urlsplit


def normalize_url(url: str | None) -> str:
    """The form URLs are joined on: no scheme, host lowercased without "www." or a
    default port, no fragment, no trailing "/" (http://WWW.x.org/a/ == https://x.org/a)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").removeprefix("www.")
        port = parts.port
    except ValueError:  # a malformed URL joins on its raw text
        return url.strip()
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")

