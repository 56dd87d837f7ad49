"""The data pipeline: raw corpora -> curated Parquet -> tokenizer -> token shards, on Apache Beam.

    cli.py             python -m pipeline {run,models,curate,tokenizer,shards}; stage keys and skipping
    config.py          the RunConfig: YAML + --set overrides, one typed section per key
    settings.py        how a section is declared and checked (types, ranges, dotted-key errors)
    sources/           one module per source: its Source record (section, parser, curate, stages, Table 1)
    stages/            Beam stages shared by sources, and Judge, the one way to keep or drop a document
    readers/           Beam-free parsers of the raw formats (WARC/WET, C4 JSON, archives, XML, ...)
    models/            the models stage: LID, per-language KenLM, the wikiref classifier
    read.py            reading inputs on Beam: match, spread, sample, count malformed records
    curate.py          the curate stage: every source, the cross-source stages, Parquet and stats.json
    tokenizer_stage.py the tokenizer stage: a mixture-weighted sample of curated/ -> SentencePiece
    mix.py             the mixture: LLaMA's proportions, epochs, copies, the validation split
    shards.py          the shards stage: tokenize, mix, write shards and manifest.json
    stats.py, summary.py   stat rows summed on Beam; stats.json and the printed summary
    report/            OUT/report.html, the run as one page, from the small files the stages wrote (and the
                       curate pipeline's example rejects per reason); `python -m pipeline report`
    parquet.py, outputs.py, localize.py, runner.py   formats, publication, models on workers, Beam options

Only this package knows Beam; `filters/` holds the Beam-free rules each stage applies.
"""
