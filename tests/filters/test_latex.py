"""LaTeX cleaning rules, each with a kept and a removed case."""
from filters.base import Drop
from filters.document import Document
from filters.latex import (
    ArxivFilter, clean_latex, collect_macros, cut_bibliography, cut_preamble, decode_tex, expand_macros,
    find_main, inline_inputs, strip_comments,
)


# --- comments ---------------------------------------------------------------------------

def test_comments_removed_escaped_percent_kept():
    text = "a 50\\% rise % not this\n% whole line\nb\\\\% after a line break\nc"
    assert strip_comments(text) == "a 50\\% rise\nb\\\\\nc"


def test_percent_in_verbatim_and_verb_is_text():
    text = "\\verb|100%| sure % gone\n\\begin{verbatim}\nx % kept\n\\end{verbatim}\ny % gone"
    assert strip_comments(text) == "\\verb|100%| sure\n\\begin{verbatim}\nx % kept\n\\end{verbatim}\ny"


def test_comment_environment_removed():
    assert strip_comments("a\n\\begin{comment}\nsecret\n\\end{comment}\nb") == "a\nb"


# --- macros ---------------------------------------------------------------------------------

def test_argument_free_macros_expanded_and_definitions_removed():
    text = ("\\newcommand{\\R}{\\mathbb{R}}\n\\newcommand\\eps{\\varepsilon}\n\\def\\ie{i.e.}\n"
            "Let $x \\in \\R$, $\\eps > 0$, \\ie{} small; \\Rset stays.")
    assert expand_macros(text) == "\n\n\nLet $x \\in \\mathbb{R}$, $\\varepsilon > 0$, i.e. small; \\Rset stays."


def test_macros_with_arguments_stay():
    text = "\\newcommand{\\norm}[1]{\\|#1\\|}\n\\def\\pair#1#2{(#1,#2)}\n$\\norm{x}$ \\pair{a}{b}"
    assert expand_macros(text) == text


def test_nested_and_redefined_macros():
    text = "\\newcommand{\\a}{A}\n\\newcommand{\\b}{\\a\\a}\n\\renewcommand{\\a}{Z}\n\\providecommand{\\b}{no}\n\\b"
    assert expand_macros(text).strip() == "ZZ"


def test_unbalanced_definition_left_alone():
    text = "\\newcommand{\\x}{unclosed {brace}\nbody \\x"
    macros, rest = collect_macros(text)
    assert macros == {} and rest == text
    assert expand_macros(text) == text


def test_recursive_macro_not_expanded():
    text = "\\def\\loop{\\loop x}\n\\loop"
    assert expand_macros(text).strip() == "\\loop"


# --- preamble and bibliography ------------------------------------------------------------------

def test_everything_before_first_section_removed():
    text = "\\documentclass{article}\n\\title{T}\n\\begin{document}\n\\maketitle\n\\begin{abstract}A\\end{abstract}\n" \
           "\\section{Intro}\nBody."
    assert cut_preamble(text) == "\\section{Intro}\nBody."
    assert cut_preamble("\\begin{document}no sections\\end{document}") is None
    assert cut_preamble("\\chapter*{Preface}\nx").startswith("\\chapter*")


def test_section_in_verbatim_is_not_a_section():
    text = "\\verb|\\section{x}| preamble\n\\section{Real}\nok"
    assert cut_preamble(text) == "\\section{Real}\nok"


def test_bibliography_and_appendix_after_it_removed():
    text = "\\section{A}\nbody\n\\bibliographystyle{plain}\n\\bibliography{refs}\n\\appendix\n\\section{Proofs}\nx\n" \
           "\\end{document}\ntrailing"
    assert cut_bibliography(text) == "\\section{A}\nbody\n"


def test_thebibliography_removed_appendix_before_it_kept():
    text = "\\section{A}\nbody\n\\appendix\n\\section{B}\nproof\n\\begin{thebibliography}{9}\n\\bibitem{k} K.\n" \
           "\\end{thebibliography}\n"
    assert cut_bibliography(text) == "\\section{A}\nbody\n\\appendix\n\\section{B}\nproof\n"


def test_bibliography_mentioned_in_verb_is_kept():
    text = "\\section{A}\nUse \\verb|\\bibliography{x}| at the end.\n\\bibliography{refs}"
    assert cut_bibliography(text) == "\\section{A}\nUse \\verb|\\bibliography{x}| at the end.\n"


def test_earlier_bibliographies_removed_in_place_last_one_cut():
    text = "\\chapter*{Publications}\n\\printbibliography[heading=none]\n\\chapter{One}\ntext\n" \
           "\\printbibliography\n\\chapter{Appendix after}\n"
    assert cut_bibliography(text) == "\\chapter*{Publications}\n\n\\chapter{One}\ntext\n"


def test_clean_latex_whole_recipe():
    text = ("\\documentclass{article}\n\\newcommand{\\method}{LLaMA}\n% a comment\n\\begin{document}\n"
            "\\begin{abstract}We study \\method.\\end{abstract}\n\\section{Intro}\n\\method{} is good. % why\n\n\n\n"
            "More.\n\\bibliography{refs}\n\\appendix\n\\section{Extra}\n\\end{document}\n")
    assert clean_latex(text) == "\\section{Intro}\nLLaMA is good.\n\nMore."


# --- files -------------------------------------------------------------------------------------

def test_decode_latin1_fallback():
    assert decode_tex("caf\xe9".encode("utf-8")) == ("caf\xe9", "utf-8")
    assert decode_tex(b"caf\xe9 \xff") == ("caf\xe9 \xff", "latin-1")
    assert decode_tex(b"\xef\xbb\xbfx") == ("x", "utf-8")


def test_find_main_and_inline():
    files = {
        "paper.tex": "\\documentclass{article}\n\\begin{document}\n\\input{sec/intro}\n\\include{body}\n"
                     "\\input{missing}\n\\end{document}",
        "sec/intro.tex": "\\section{Intro}\nhello \\input{deeper}",
        "sec/deeper.tex": "deep",
        "body.tex": "\\section{Body}\nworld \\input{body}",  # a cycle: left as written
        "standalone.tex": "\\documentclass{standalone}\n\\begin{document}x\\end{document}",
    }
    assert find_main(files) == "paper.tex"  # inputs the most files
    text, used = inline_inputs("paper.tex", files)
    assert used == ["sec/intro.tex", "sec/deeper.tex", "body.tex"]
    assert "\\section{Intro}\nhello deep\n\n\\section{Body}\nworld \\input{body}\n\n\\input{missing}" in text


def test_main_inputted_by_another_is_not_main():
    files = {"a.tex": "\\documentclass{x}\\begin{document}\\input{b}\\end{document}",
             "b.tex": "\\documentclass{x}\\begin{document}B, long " + "x" * 100 + "\\end{document}"}
    assert find_main(files) == "a.tex"
    assert find_main({"a.tex": "\\section{x}"}) is None


# --- the filter ----------------------------------------------------------------------------------

def paper(text, **meta):
    return Document(id="arxiv/1", source="arxiv", text=text, meta={"tex_files": ["a.tex"], "main_file": "a.tex", **meta})


def test_filter_reasons():
    f = ArxivFilter()
    kept = f.apply(paper("\\begin{document}\\section{A} body\\end{document}"))
    assert kept.text == "\\section{A} body"
    assert f.apply(paper("", tex_files=[], main_file=None)) == Drop("no_tex")
    assert f.apply(paper("", main_file=None)) == Drop("no_main_file")
    assert f.apply(paper("\\begin{document}no sections\\end{document}")) == Drop("no_section")
    assert f.apply(paper("\\section{A}\\bibliography{x}")).text == "\\section{A}"
    # A bare "\\section" word without its argument does not start a section.
    assert f.apply(paper("x\\section")) == Drop("no_section")
    assert f.apply(paper("\\part*{} \n")).text == "\\part*{}"
