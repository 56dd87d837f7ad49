"""HTML pieces the sections share: escaped text, tables whose number cells carry their exact value.

A number cell is `<td class="n" data-k="<column>" data-v="<exact value>">formatted</td>`, so a
test (or a script) reads the page's numbers back without parsing "1.2 MB".
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape


def esc(value) -> str:
    return escape(str(value), quote=True)


def attrs(**kv) -> str:
    return "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in kv.items() if v is not None)


def mb(nbytes: float) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:,.2f} GB"
    if nbytes >= 1e6:
        return f"{nbytes / 1e6:,.2f} MB"
    if nbytes >= 1e3:
        return f"{nbytes / 1e3:,.1f} kB"
    return f"{nbytes:,.0f} B"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


class Cell:
    """A table cell: text, or a number with its exact value (`data-v`) and column key (`data-k`)."""

    def __init__(self, text: str, key: str | None = None, value=None, cls: str = "", raw: bool = False):
        self.text, self.key, self.value, self.cls, self.raw = text, key, value, cls, raw

    def html(self, tag: str = "td") -> str:
        cls = f' class="{self.cls}"' if self.cls else ""
        body = self.text if self.raw else esc(self.text)
        return f"<{tag}{cls}{attrs(data_k=self.key, data_v=self.value)}>{body}</{tag}>"


def n(key: str, value: int | float | None, text: str | None = None) -> Cell:
    """A number cell: integers with thousands separators unless `text` says otherwise."""
    if value is None:
        return Cell("–", key, None, "n")
    return Cell(text if text is not None else f"{value:,}", key, value, "n")


def nbytes(key: str, value: int | None) -> Cell:
    return n(key, value, mb(value) if value is not None else None)


def ratio(key: str, value: float | None, digits: int = 3) -> Cell:
    return n(key, None if value is None else round(value, 6), None if value is None else f"{value:.{digits}f}")


def table(headers: Sequence[str], rows: Iterable[tuple[dict, Sequence[Cell | str]]], *, id: str | None = None,
          cls: str = "grid") -> str:
    """rows: (row attributes, cells); a str cell is plain escaped text."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row_attrs, cells in rows:
        tds = "".join((c if isinstance(c, Cell) else Cell(str(c))).html() for c in cells)
        body.append(f"<tr{attrs(**row_attrs)}>{tds}</tr>")
    return (f'<div class="scroll"><table class="{cls}"{attrs(id=id)}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{lead}{body}</section>'


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure>{svg}{cap}</figure>'


def kv_list(items: Iterable[tuple[str, str]]) -> str:
    """A definition list; values are HTML."""
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"
