"""Wikipedia pages: wikitext to plain text, and the filter that keeps articles.

LLaMA-1 (section 2) used Wikipedia dumps "in 20 languages" and "removed hyperlinks,
comments and other formatting boilerplate". The cleaner below walks the
mwparserfromhell parse tree and keeps what a reader of the rendered article sees as
prose:

kept     text, link labels ([[a|b]] -> b, [[a]] -> a, link trails: [[bus]]es -> buses),
         external link labels, headings (as lines of their own, without the ``==``),
         list items (without ``*``/``#``/``:``/``;``), bold/italic text, <nowiki>
         contents, the contents of formatting tags (<span>, <div>, <poem>, <sup> ...).
removed  every template (infoboxes, navboxes, citations, hatnotes: their output is
         produced by wiki code we do not run; the Hugging Face `wikipedia` dataset,
         which RedPajama used to reproduce LLaMA, drops them too), <ref> and <references>, tables
         ({| ... |} and <table>), File:/Image:/Media: links with their captions,
         Category: links, interlanguage and interwiki links without a label, HTML
         comments, behaviour switches (__NOTOC__), <gallery>, <timeline>, <graph>,
         <math>/<chem> (LaTeX source is not prose and the page shows it as an
         image; LLaMA takes its mathematics from the ArXiv source instead), <pre>,
         <syntaxhighlight>/<source> code, <score>, <imagemap>, bare [http://x] links
         (they render as footnote numbers), and whole sections whose heading names
         back matter (References, External links, See also, Further reading, Notes
         ... in the 20 languages): they are lists of links and citations, not prose.
         A table that fails to parse, unbalanced {{ [[ '' and lines of bare
         punctuation left by removed templates go too.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import ClassVar, Iterable

import mwparserfromhell
from mwparserfromhell.nodes import (
    ExternalLink, Heading, HTMLEntity, Tag, Text, Wikilink,
)

from filters.base import DocumentFilter, Drop
from filters.document import Document

# The 20 Wikipedia languages of LLaMA-1, section 2 ("bg, ca, cs, da, de, en, es, fr,
# hr, hu, it, nl, pl, pt, ro, ru, sl, sr, sv, uk").
LLAMA_LANGUAGES: frozenset[str] = frozenset(
    "bg ca cs da de en es fr hr hu it nl pl pt ro ru sl sr sv uk".split()
)


def _names(*groups: str) -> frozenset[str]:
    """Namespace names as the parser compares them: casefolded, '_' as space."""
    return frozenset(_norm(n) for g in groups for n in g.split("|"))


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


# Local names and aliases of namespaces, for the 20 languages (from each wiki's
# siteinfo). A link into one of these is never article prose.
# File (6) and Media (-2): embedded images; the caption describes the picture.
MEDIA_NAMESPACES = _names(
    "File|Image|Media",
    "Файл|Картинка|Изображение|Медия",  # bg
    "Fitxer|Imatge|Arxiu|Mèdia",  # ca
    "Soubor|Obrázek|Obrázok|Média",  # cs
    "Fil|Billede",  # da, sv (Fil)
    "Datei|Bild|Medium",  # de, sv (Bild)
    "Archivo|Imagen|Medio",  # es
    "Fichier",  # fr (Image, Média above)
    "Datoteka|Slika|Mediji",  # hr, sl
    "Fájl|Kép",  # hu
    "Immagine",  # it
    "Bestand|Afbeelding",  # nl
    "Plik|Grafika",  # pl
    "Ficheiro|Arquivo|Imagem|Multimédia",  # pt
    "Fișier|Fişier|Imagine",  # ro
    "Медиа",  # ru
    "Датотека|Слика|Медиј|Medij",  # sr (both scripts)
    "Зображення|Медіа",  # uk
)
# Category (14): page metadata, shown in a box at the bottom, not in the text.
CATEGORY_NAMESPACES = _names(
    "Category|CAT|Категория|Categoria|Kategorie|Kategori|Categoría|Catégorie|Kategorija"
    "|Kategória|Categorie|Kategoria|Категорија|Категорія"
)
# Other non-article namespaces and the Wikimedia interwiki prefixes. A link there is
# kept only for its label ([[wikt:brigand|brigand]] -> brigand); a bare one renders
# as "Help:Contents", which is navigation, not prose.
OTHER_NAMESPACES = _names(
    "Talk|User|User talk|Wikipedia|Project|Template|Help|Portal|Special|MediaWiki"
    "|Module|Draft|Book|TimedText|Gadget|WP|WT",
    "Беседа|Потребител|Уикипедия|Шаблон|Помощ|Портал|Специални",  # bg
    "Usuari|Viquipèdia|Plantilla|Ajuda|Especial|Discussió",  # ca
    "Diskuse|Wikipedie|Šablona|Nápověda|Speciální|Wikipedista",  # cs
    "Diskussion|Bruger|Skabelon|Hjælp|Speciel",  # da
    "Benutzer|Vorlage|Hilfe|Spezial|Diskussion",  # de
    "Usuario|Usuaria|Wikipedia|Ayuda|Discusión|Anexo",  # es
    "Discussion|Utilisateur|Modèle|Aide|Spécial|Wikipédia",  # fr
    "Razgovor|Suradnik|Predložak|Pomoć|Posebno|Wikipedija",  # hr
    "Vita|Szerkesztő|Sablon|Segítség|Speciális|Wikipédia",  # hu
    "Discussione|Utente|Aiuto|Speciale|Modello",  # it
    "Overleg|Gebruiker|Sjabloon|Speciaal",  # nl
    "Dyskusja|Wikipedysta|Szablon|Pomoc|Specjalna|Wikiprojekt",  # pl
    "Discussão|Usuário|Utilizador|Wikipédia|Predefinição|Ajuda|Especial|Portal",  # pt
    "Discuție|Utilizator|Format|Ajutor|Special",  # ro
    "Обсуждение|Участник|Википедия|Шаблон|Справка|Служебная|Портал",  # ru
    "Pogovor|Uporabnik|Wikipedija|Predloga|Pomoč|Posebno",  # sl
    "Разговор|Корисник|Википедија|Шаблон|Помоћ|Посебно|Портал",  # sr
    "Användare|Mall|Hjälp|Special|Diskussion",  # sv
    "Обговорення|Користувач|Вікіпедія|Шаблон|Довідка|Спеціальна|Портал",  # uk
    "wikt|wiktionary|s|wikisource|q|wikiquote|b|wikibooks|n|wikinews|v|wikiversity"
    "|voy|wikivoyage|commons|c|d|wikidata|m|meta|species|wikispecies|mw|mediawikiwiki"
    "|foundation|wmf|w|wikimedia|incubator|outreach|phab|doi|nost|oldwikisource",
)
# [[de:Berlin]]: an interlanguage link (sidebar, not text). Wikipedia language codes
# are lowercase letters with optional -suffixes (zh-min-nan, be-x-old), plus "simple".
_LANGUAGE_PREFIX = re.compile(r"^(?:[a-z]{2,3}(?:-[a-z0-9]{2,8})*|simple)$")

# Section headings whose sections are back matter: references, links, bibliography.
BACK_MATTER_SECTIONS = _names(
    "References|Notes|Footnotes|Citations|Sources|Bibliography|Further reading"
    "|External links|See also|Notes and references|References and notes|Works cited",
    "Източници|Бележки|Външни препратки|Вижте също|Литература|Библиография",  # bg
    "Referències|Notes|Enllaços externs|Vegeu també|Bibliografia",  # ca
    "Reference|Poznámky|Externí odkazy|Související články|Literatura",  # cs
    "Referencer|Noter|Kilder|Eksterne henvisninger|Se også|Litteratur",  # da
    "Einzelnachweise|Anmerkungen|Weblinks|Siehe auch|Literatur|Quellen",  # de
    "Referencias|Notas|Enlaces externos|Véase también|Bibliografía",  # es
    "Références|Notes et références|Liens externes|Voir aussi|Bibliographie"
    "|Articles connexes",  # fr
    "Izvori|Bilješke|Vanjske poveznice|Vidi još|Literatura",  # hr
    "Jegyzetek|Források|Külső hivatkozások|További információk|Kapcsolódó szócikkek"
    "|Irodalom",  # hu
    "Note|Collegamenti esterni|Voci correlate|Bibliografia|Altri progetti",  # it
    "Externe links|Zie ook|Bronnen|Referenties|Noten|Bronvermelding",  # nl
    "Przypisy|Linki zewnętrzne|Zobacz też|Bibliografia",  # pl
    "Referências|Ligações externas|Ver também|Bibliografia|Notas",  # pt
    "Note|Bibliografie|Legături externe|Vezi și|Referințe",  # ro
    "Примечания|Литература|Ссылки|См. также",  # ru
    "Viri|Opombe|Zunanje povezave|Glej tudi|Literatura",  # sl
    "Референце|Напомене|Спољашње везе|Види још|Литература|Извори",  # sr
    "Referenser|Noter|Källor|Externa länkar|Se även",  # sv
    "Примітки|Посилання|Див. також|Джерела|Література",  # uk
)

# Extension tags whose contents are not prose (see the module docstring).
_DROPPED_TAGS = frozenset(
    "ref references gallery math chem ce score timeline graph imagemap templatedata"
    " inputbox categorytree mapframe maplink syntaxhighlight source pre hiero"
    " includeonly indicator section table".split()
)
# HTML block elements: their contents start and end a line.
_BLOCK_TAGS = frozenset("p div li ul ol dl dt dd blockquote center poem h1 h2 h3 h4 h5 h6".split())

_HEADING = "\x00"  # marks heading lines between _render and _tidy (XML text has no NUL)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # unclosed: hides the rest, as in MediaWiki
_REF_EMPTY = re.compile(r"<ref\b[^>]*/\s*>", re.IGNORECASE)  # <ref name="a" />
# <ref ...>...</ref>, never spanning another <ref (an unclosed one stays, as text).
_REF_PAIR = re.compile(r"<ref\b[^>]*>(?:(?!<ref\b).)*?</ref\s*>", re.IGNORECASE | re.DOTALL)
_MAGIC_WORD = re.compile(r"__[^\W_]+__")  # __NOTOC__, __БЕЗСЪДЪРЖАНИЕ__
_STRAY_MARKUP = re.compile(r"'{2,}|\{\{|\}\}|\[\[|\]\]")  # unbalanced '' {{ [[ left as text
_SPACES = re.compile(r"[ \t]+")
_WORD = re.compile(r"[^\W_]")  # a letter or digit, in any script
# "word ." left by a removed {{citation needed}}; not ; : ! ? which French spaces.
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.)])")
_EMPTY_PARENS = re.compile(r"\([ \t,;]*\)")  # "Paris ( ; )" left by a removed {{IPA}}


def wikitext_to_text(wikitext: str, *, drop_sections: frozenset[str] = BACK_MATTER_SECTIONS) -> str:
    """The prose of a page as plain text: one line per paragraph, heading or list item,
    paragraphs and headings separated by one blank line."""
    # Bold/italic quotes are left as text and stripped later: an unbalanced '' makes
    # mwparserfromhell give up on the enclosing tag (a <ref> would then leak as text).
    wikitext = strip_comments_and_refs(wikitext.replace(_HEADING, ""))
    code = mwparserfromhell.parse(wikitext, skip_style_tags=True)
    return _tidy(_render(code.nodes, drop_sections))


def strip_comments_and_refs(wikitext: str) -> str:
    """Remove <!-- comments --> and <ref>s before parsing: they are about a third of
    an article's wikitext, and cutting them first halves mwparserfromhell's time."""
    text = _COMMENT.sub("", wikitext)
    return _REF_PAIR.sub("", _REF_EMPTY.sub("", text))


def _render(nodes: Iterable, drop_sections: frozenset[str] = frozenset()) -> str:
    out: list[str] = []
    skip_level = 0  # inside a dropped section: skip until a heading this level or higher
    for node in nodes:
        if isinstance(node, Heading):
            if skip_level and node.level > skip_level:
                continue
            title = _render(node.title.nodes).strip()
            if _norm(title) in drop_sections:
                skip_level = node.level
                continue
            skip_level = 0
            out.append(f"\n\n{_HEADING}{node.level}{title}\n\n")  # marked for _tidy
        elif skip_level:
            continue
        elif isinstance(node, Text):
            out.append(_STRAY_MARKUP.sub("", _MAGIC_WORD.sub("", node.value)))
        elif isinstance(node, Wikilink):
            out.append(_render_wikilink(node))
        elif isinstance(node, ExternalLink):
            if node.title is not None:
                out.append(_render(node.title.nodes))
            elif not node.brackets:  # a free URL in running text is part of the sentence
                out.append(str(node.url))
        elif isinstance(node, Tag):
            out.append(_render_tag(node))
        elif isinstance(node, HTMLEntity):
            out.append(node.normalize().replace(_HEADING, ""))  # &#0; must not fake a heading
        # Template, Argument (a template parameter), Comment: not visible prose.
    return "".join(out)


def _render_wikilink(link: Wikilink) -> str:
    target = str(link.title).strip()
    label = None if link.text is None else _render(link.text.nodes).strip()
    leading_colon = target.startswith(":")  # [[:Category:X]] links to, not tags with, X
    target = target.lstrip(":").strip()
    prefix, sep, rest = target.partition(":")
    if sep:
        ns = _norm(prefix)
        if not leading_colon and (ns in MEDIA_NAMESPACES or ns in CATEGORY_NAMESPACES):
            return ""
        if ns in MEDIA_NAMESPACES or ns in CATEGORY_NAMESPACES or ns in OTHER_NAMESPACES:
            return label or ""
        if _LANGUAGE_PREFIX.match(prefix.strip()):
            return (label or "") if leading_colon else ""
    if label:
        return label
    if label == "":  # the pipe trick: [[Paris (band)|]] shows "Paris"
        return re.sub(r"\s*\([^()]*\)$", "", target.split(",")[0])
    return _render(link.title.nodes).strip().lstrip(":")


def _render_tag(tag: Tag) -> str:
    name = str(tag.tag).strip().lower()
    if name in _DROPPED_TAGS or name in ("tr", "td", "th", "caption"):
        return ""
    if name in ("br", "hr"):
        return "\n"
    if tag.self_closing or tag.contents is None:  # list bullets (* # : ;), <references/>
        return ""
    text = _render(tag.contents.nodes)
    return f"\n{text}\n" if name in _BLOCK_TAGS and tag.wiki_markup is None else text


def _tidy(text: str) -> str:
    """Trim each line, drop what failed to parse as a table and the headings of empty
    sections, and leave one blank line at most between paragraphs."""
    lines: list[str] = []
    table_depth = 0
    for line in text.splitlines():
        line = _SPACES.sub(" ", _EMPTY_PARENS.sub("", line)).strip()
        # A table mwparserfromhell could not parse (unbalanced cells) stays as text.
        if line.startswith("{|"):
            table_depth += 1
        if table_depth:
            if line.startswith("|}"):
                table_depth -= 1
            continue
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", line).strip()
        # A line of bare punctuation is what remains of a list of templates or flags.
        if not line or line.startswith(_HEADING) or _WORD.search(line):
            lines.append(line)
    out: list[str] = []
    for line in _drop_empty_sections(lines):
        if line or (out and out[-1]):
            out.append(line)
    return unicodedata.normalize("NFC", "\n".join(out).strip())


def _drop_empty_sections(lines: list[str]) -> list[str]:
    """Unmark headings; drop those with nothing under them (a section that held only
    a table or a gallery), which cascades up to a parent left empty in turn."""
    out: list[str] = []
    next_level = -1  # what follows: -1 nothing, 0 text, n a kept heading of level n
    for line in reversed(lines):
        if line.startswith(_HEADING):
            level, title = int(line[1]), line[2:]
            if next_level == -1 or 0 < next_level <= level:
                continue  # empty: the end of the page or a heading no deeper follows
            out.append(title)
            next_level = level
        else:
            out.append(line)
            if line:
                next_level = 0
    out.reverse()
    return out


class WikipediaFilter(DocumentFilter):
    """Keep encyclopedia articles of the LLaMA languages, as plain text.

    Checks, in order: the wiki's language, the namespace (articles are ns 0),
    redirects, disambiguation pages, then the length of the cleaned text. A kept
    document's text is replaced by the cleaned text.
    """

    stage = "wikipedia"
    reasons = ("language", "namespace", "redirect", "disambiguation", "too_short")

    # Templates that mark a disambiguation page, per language (names and common
    # redirects to them). Compared casefolded, "_" as space.
    DISAMBIGUATION_TEMPLATES: ClassVar[frozenset[str]] = _names(
        "Disambiguation|Disambig|Dab|Disamb|Geodis|Hndis|Numberdis|Roaddis|Schooldis"
        "|Hospitaldis|Disambiguation cleanup|Mathdab|Letter-NumberCombDisambig",
        "Пояснение",  # bg
        "Desambiguació|Desambiguacio",  # ca
        "Rozcestník",  # cs
        "Flertydig",  # da
        "Begriffsklärung",  # de
        "Desambiguación|Desambig",  # es
        "Homonymie",  # fr
        "Razdvojba",  # hr
        "Egyért",  # hu
        "Disambigua",  # it
        "Dp|Disambiguatie",  # nl
        "Ujednoznacznienie",  # pl
        "Desambiguação",  # pt
        "Dezambiguizare",  # ro
        "Неоднозначность|Многозначность",  # ru
        "Razločitev",  # sl
        "Вишезначна одредница|Višeznačna odrednica",  # sr
        "Förgrening",  # sv
        "Неоднозначність",  # uk
    )
    # "(disambiguation)" and its translations at the end of a title.
    DISAMBIGUATION_TITLE_SUFFIXES: ClassVar[tuple[str, ...]] = (
        "(disambiguation)", "(пояснение)", "(desambiguació)", "(rozcestník)", "(flertydig)",
        "(begriffsklärung)", "(desambiguación)", "(homonymie)", "(razdvojba)", "(egyértelműsítő lap)",
        "(disambigua)", "(doorverwijspagina)", "(ujednoznacznienie)", "(desambiguação)",
        "(dezambiguizare)", "(значения)", "(razločitev)", "(вишезначна одредница)", "(olika betydelser)",
        "(значення)",
    )
    # "#REDIRECT [[X]]" and its translations, for dumps without a <redirect/> element.
    REDIRECT_WORDS: ClassVar[tuple[str, ...]] = (
        "redirect", "пренасочване", "виж", "redirecció", "redirekce", "omdirigering", "weiterleitung",
        "redirección", "redirection", "preusmjeri", "átirányítás", "rinvia", "doorverwijzing",
        "patrz", "przekieruj", "redirecionamento", "redirectare", "перенаправление",
        "preusmeritev", "преусмери", "перенаправлення",
    )

    def __init__(self, *, min_chars: int = 100, languages: Iterable[str] = LLAMA_LANGUAGES,
                 disambiguation_templates: Iterable[str] | None = None,
                 drop_sections: Iterable[str] | None = None):
        # 100 characters is about one short sentence: below it, what is left after
        # cleaning is a stub whose content was all templates, tables or lists (an
        # infobox-only page, a list page), not prose worth training on.
        if min_chars < 0:
            raise ValueError(f"wikipedia.min_chars must be >= 0, got {min_chars}")
        self.min_chars = min_chars
        self.languages = frozenset(languages)
        if not self.languages:
            raise ValueError("wikipedia.languages must name at least one language")
        self.disambiguation_templates = (
            self.DISAMBIGUATION_TEMPLATES if disambiguation_templates is None
            else frozenset(_norm(t) for t in disambiguation_templates)
        )
        self.drop_sections = (
            BACK_MATTER_SECTIONS if drop_sections is None else frozenset(_norm(s) for s in drop_sections)
        )
        words = "|".join(re.escape(w) for w in self.REDIRECT_WORDS)
        self._redirect_text = re.compile(rf"^\s*#\s*(?:{words})\s*:?\s*\[\[", re.IGNORECASE)
        # {{Disambiguation}}, {{ disambig |geo}}, {{Template:Dab}}: found by a regex,
        # nested or not, so a disambiguation page is dropped without being parsed.
        names = "|".join(
            r"[ _]+".join(re.escape(word) for word in name.split())
            for name in sorted(self.disambiguation_templates, key=len, reverse=True)
        )
        self._disambiguation = re.compile(
            rf"\{{\{{\s*(?:template\s*:\s*)?(?:{names})\s*(?:\||\}}\}})", re.IGNORECASE
        )

    def apply(self, doc: Document) -> Document | Drop:
        meta = doc.meta
        if meta.get("wiki_lang") not in self.languages:
            return Drop("language")
        if meta.get("ns") != 0:
            return Drop("namespace")
        if meta.get("redirect") is not None or self._redirect_text.match(doc.text):
            return Drop("redirect")
        if str(meta.get("title", "")).casefold().endswith(self.DISAMBIGUATION_TITLE_SUFFIXES):
            return Drop("disambiguation")
        wikitext = _COMMENT.sub("", doc.text)
        # __DISAMBIG__: the Disambiguator extension's marker, used by dab templates
        # and sometimes written on the page itself.
        if "__DISAMBIG__" in wikitext or self._disambiguation.search(wikitext):
            return Drop("disambiguation")
        text = wikitext_to_text(doc.text, drop_sections=self.drop_sections)
        if len(text) < self.min_chars:
            return Drop("too_short")
        return dataclasses.replace(doc, text=text)  # never mutate Beam's input element

