"""wikitext -> plain text, and the Wikipedia filter's decisions (one per reason)."""
from __future__ import annotations

import pytest

from filters.base import Drop
from filters.document import Document
from filters.wikitext import LLAMA_LANGUAGES, WikipediaFilter, wikitext_to_text


# --- wikitext_to_text -------------------------------------------------------------

@pytest.mark.parametrize("wikitext, expected", [
    # links: label kept, target kept when there is no label, link trails joined
    ("A [[Paris|city of light]] and [[Berlin]]er [[London]]s.", "A city of light and Berliner Londons."),
    # the pipe trick shows the title without its parenthetical
    ("See [[Mercury (planet)|]].", "See Mercury."),
    # templates, nested ones and infoboxes spanning lines
    ("{{Infobox country\n| name = X\n| capital = {{nowrap|[[Y]]}}\n}}\nX is a country.", "X is a country."),
    ("Born {{birth date|{{CURRENTYEAR}}|1|1}} here.", "Born here."),
    # references: paired, named, self-closing, with templates and links inside
    ('Fact.<ref name="a">{{cite web|url=http://x.org|title=T}} [[Z]]</ref> More.<ref name="a" /> End.<ref>x</ref>',
     "Fact. More. End."),
    # an unbalanced italic inside a <ref> must not make the reference leak as text
    ("Text.<ref>[[A|B]]'' by C.</ref> Next.", "Text. Next."),
    # tables, wiki and HTML
    ("Before.\n{| class=\"wikitable\"\n|-\n! H1 !! H2\n|-\n| a || b\n|}\nAfter.", "Before.\n\nAfter."),
    ("Before.\n<table><tr><td>cell</td></tr></table>\nAfter.", "Before.\n\nAfter."),
    # comments, magic words
    ("Visible<!-- hidden [[x]] --> text.__NOTOC__", "Visible text."),
    # bold and italic markup removed, text kept
    ("'''Bold''' and ''italic'' and '''''both'''''.", "Bold and italic and both."),
    # headings: their own lines, paragraphs separated by one blank line
    ("Lead.\n\n\n== History ==\nOld.\n=== Early ===\nOlder.", "Lead.\n\nHistory\n\nOld.\n\nEarly\n\nOlder."),
    # lists keep the item text
    ("Items:\n* one\n* [[two]]\n# three\n: indented\n; term", "Items:\none\ntwo\nthree\nindented\nterm"),
    # file/image links with their captions, categories, interlanguage links
    ("[[File:A.jpg|thumb|A caption with [[link]]]]Body.\n[[Category:Things]]\n[[de:Ding]]",
     "Body."),
    ("[[Image:B.png|left]]Body [[Category:X|sort key]]text.", "Body text."),
    # Bulgarian namespace names
    ("[[Файл:Карта.png|мини|Надпис]]Текст.\n[[Категория:Неща]]", "Текст."),
    # a link to a category page (leading colon) shows its label
    ("See [[:Category:Rivers|the rivers]].", "See the rivers."),
    # interwiki with a label keeps the label; bare links into other namespaces go
    ("A [[wikt:brigand|brigand]] here.[[Wikipedia:Manual of Style]]", "A brigand here."),
    # external links keep their label; a bare bracketed one renders as a number: gone
    ("[http://example.org Example site] and [http://example.org/x] end.", "Example site and end."),
    # gallery and math removed (math is LaTeX source, not prose)
    ("A<gallery>\nFile:x.jpg|cap\n</gallery> B <math>x^2</math> C.", "A B C."),
    # entities decoded; <br> breaks a line
    ("Tom &amp; Jerry<br/>next", "Tom & Jerry\nnext"),
    # back matter sections dropped, with their subsections, but not the next section
    ("Body.\n== See also ==\n* [[X]]\n=== More ===\nm\n== Later ==\nkept\n== References ==\n{{reflist}}",
     "Body.\n\nLater\n\nkept"),
    # a section left empty (it only had a table) loses its heading, up the hierarchy
    ("Body.\n== Data ==\n=== Table ===\n{|\n| 1\n|}\n== Text ==\nprose", "Body.\n\nText\n\nprose"),
    # unbalanced markup is stripped, not kept as text
    ("Open {{broken and [[link and ''' bold", "Open broken and link and bold"),
    # a list item that was only templates leaves no line of bare punctuation
    ("Teams:\n* {{flag|FRA}}, {{flag|GER}}\n* Italy", "Teams:\nItaly"),
    # space left before punctuation by a removed template
    ("Claim {{citation needed}}. Paris ({{IPA|paʁi}}) is big.", "Claim. Paris is big."),
])
def test_wikitext_to_text(wikitext, expected):
    assert wikitext_to_text(wikitext) == expected


def test_no_markup_left_in_real_style_article():
    wikitext = (
        "{{Short description|A thing}}\n{{Infobox thing|name={{lang|fr|Chose}}}}\n"
        "'''Thing''' ({{lang-fr|Chose}}) is a [[object|thing]].<ref>{{cite book|title=T}}</ref>\n"
        "== Kinds ==\n{| class=wikitable\n|-\n| [[A]] || {{flag|B}}\n|}\n"
        "[[File:Thing.jpg|thumb|A [[thing]]]]\nSome kinds exist.<!-- todo -->\n"
        "== External links ==\n* [http://thing.org Official]\n{{Authority control}}\n"
        "[[Category:Things]]\n[[fr:Chose]]\n"
    )
    assert wikitext_to_text(wikitext) == "Thing is a thing.\n\nKinds\n\nSome kinds exist."


def test_drop_sections_is_configurable():
    wikitext = "Body.\n== Trivia ==\nfun\n== See also ==\nx"
    assert wikitext_to_text(wikitext, drop_sections=frozenset({"trivia"})) == "Body.\n\nSee also\n\nx"


# --- WikipediaFilter ----------------------------------------------------------------

ARTICLE = "'''Sofia''' is the capital of [[Bulgaria]]. " + "It is a city with a long history. " * 5


def page(text: str = ARTICLE, *, title: str = "Sofia", ns: int = 0, redirect: str | None = None,
         lang: str = "en") -> Document:
    return Document(
        id=f"wikipedia/{lang}/1", source="wikipedia", text=text,
        url=f"https://{lang}.wikipedia.org/wiki/{title}",
        meta={"title": title, "ns": ns, "page_id": 1, "redirect": redirect, "wiki_lang": lang,
              "dump_file": "x.xml.bz2"},
    )


def test_kept_article_gets_cleaned_text_and_input_is_untouched():
    doc = page()
    out = WikipediaFilter().apply(doc)
    assert isinstance(out, Document)
    assert out.text == "Sofia is the capital of Bulgaria. " + ("It is a city with a long history. " * 5).strip()
    assert doc.text == ARTICLE  # Beam elements must not be mutated
    assert (out.id, out.url, out.meta) == (doc.id, doc.url, doc.meta)


def test_language():
    f = WikipediaFilter()
    assert f.apply(page(lang="ja")) == Drop("language")
    assert f.apply(page(lang="simple")) == Drop("language")
    assert isinstance(f.apply(page(lang="bg")), Document)
    assert len(LLAMA_LANGUAGES) == 20
    only_ja = WikipediaFilter(languages=["ja"])
    assert isinstance(only_ja.apply(page(lang="ja")), Document)
    assert only_ja.apply(page(lang="en")) == Drop("language")


def test_namespace():
    f = WikipediaFilter()
    assert f.apply(page(ns=4, title="Wikipedia:About")) == Drop("namespace")
    assert f.apply(page(ns=10, title="Template:Infobox")) == Drop("namespace")
    assert isinstance(f.apply(page(ns=0)), Document)


def test_redirect():
    f = WikipediaFilter()
    assert f.apply(page("#REDIRECT [[Sofia]]", redirect="Sofia")) == Drop("redirect")
    # old dumps have no <redirect/> element: the magic word, in any case and language
    assert f.apply(page("#redirect [[Sofia]]\n{{R from move}}")) == Drop("redirect")
    assert f.apply(page("#ПРЕНАСОЧВАНЕ [[София]]", lang="bg")) == Drop("redirect")
    assert f.apply(page("#WEITERLEITUNG: [[Sofia]]", lang="de")) == Drop("redirect")
    # a numbered list that starts with the word is an article
    listed = "# Redirect pages are explained below. " + ARTICLE
    assert isinstance(f.apply(page(listed)), Document)


def test_disambiguation():
    f = WikipediaFilter()
    listing = "'''Aa''' may refer to:\n" + "".join(f"* [[Aa (river {i})]], a river in Europe\n" for i in range(9))
    assert f.apply(page(listing + "{{disambiguation}}")) == Drop("disambiguation")
    assert f.apply(page(listing + "{{ Disambiguation | geo }}")) == Drop("disambiguation")
    assert f.apply(page(listing + "{{geodis}}")) == Drop("disambiguation")
    assert f.apply(page(listing + "{{Пояснение}}", lang="bg")) == Drop("disambiguation")
    assert f.apply(page(listing + "{{Begriffsklärung}}", lang="de")) == Drop("disambiguation")
    assert f.apply(page(listing, title="Aa (disambiguation)")) == Drop("disambiguation")
    assert f.apply(page(listing + "__DISAMBIG__")) == Drop("disambiguation")
    # kept: the same list without the template; other templates that merely contain
    # the word; a template mentioned inside a comment
    assert isinstance(f.apply(page(listing)), Document)
    assert isinstance(f.apply(page(listing + "{{disambiguation needed}}")), Document)
    assert isinstance(f.apply(page(listing + "<!-- not {{disambig}} -->")), Document)
    custom = WikipediaFilter(disambiguation_templates=["Set index"])
    assert custom.apply(page(listing + "{{set index}}")) == Drop("disambiguation")
    assert isinstance(custom.apply(page(listing + "{{disambiguation}}")), Document)


def test_too_short():
    # "x" * n as a paragraph cleans to itself; templates and a table clean to nothing
    f = WikipediaFilter(min_chars=100)
    assert f.apply(page("{{Infobox|a=" + "y" * 500 + "}}\n" + "x" * 99)) == Drop("too_short")
    assert f.apply(page("{|\n| " + "cell " * 100 + "\n|}")) == Drop("too_short")
    kept = f.apply(page("{{Infobox|a=b}}\n" + "x" * 100))
    assert isinstance(kept, Document) and kept.text == "x" * 100
    assert isinstance(WikipediaFilter(min_chars=0).apply(page("{{only a template}}")), Document)
    with pytest.raises(ValueError, match="min_chars"):
        WikipediaFilter(min_chars=-1)


def test_declared_reasons():
    assert set(WikipediaFilter.reasons) == {"language", "namespace", "redirect", "disambiguation", "too_short"}
    assert WikipediaFilter.stage == "wikipedia"
