"""Beam stages shared by sources: each a PTransform from documents to a StageResult.

    judge.py        Judge (keep or drop, with counters, stat rows and rejects) and FilterStage
    lid.py          "lid": fastText language identification (CommonCrawl, C4)
    line_dedup.py   "exact_dedup" + "line_dedup": cc_net's dedup in one document shuffle
    shard_dedup.py  packed unit rows shuffled by hash shard (line and span dedup)
    near_dedup.py   "near_dedup": MinHash LSH on Beam's shuffle
    components.py   connected components by min-label propagation (near_dedup's components rule)
    perplexity.py   "perplexity": KenLM scores, per-language cutoffs, head/middle/tail
    wikiref.py      "wikiref": the Wikipedia-reference classifier
    url_filter.py   "url_filter": domain blocklists, first in the CC and C4 chains (a HEAD stage)
    decontamination.py  "decontamination": eval n-grams as a side input, across sources (CROSS_SOURCE)
    pii.py          "pii": e-mail, IP and phone masking, across sources (CROSS_SOURCE)
    files.py        matching and reading the files those stages read besides the inputs
"""
