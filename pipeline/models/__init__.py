"""The models stage (`python -m pipeline models`): every model the curation stages use.

    stage.py             run_models: OUT/models/ and cards.json; the `models` config section
    lid.py               the LID model: the config's, or lid.176.ftz from a PyPI wheel
    perplexity.py        per-language SentencePiece + KenLM, trained on Wikipedia (lmplz)
    wikiref.py           the wiki-vs-cc fastText classifier, its training set and held-out numbers
    wikiref_examples.py  its examples from the CommonCrawl inputs: the stage's one Beam job
    wikipedia_text.py    cleaned Wikipedia articles, streamed on the launcher
    cache.py             cache keys, cards, build-then-rename of model directories
    cards.py             the stage's summary lines
"""
