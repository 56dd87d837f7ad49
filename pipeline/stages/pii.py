"""Stage "pii": e-mail addresses, IP addresses and phone numbers masked with typed placeholders.

A cross-source stage (registered in pipeline.sources.CROSS_SOURCE): after every
source's quality stages (perplexity and the wikiref classifier score the original
text) and after decontamination, so it masks only what is kept. Config `pii`:
`emails`, `ip_addresses`, `phone_numbers` switch each type on; `sources` lists the
sources it applies to (null: every source); `mask_license_headers` also masks the
addresses of code files' licence headers (GitHub), kept by default. The rules are `filters.pii`'s.

Nothing is dropped (documents in = kept); a masked document keeps its id and gets
`meta.pii_masked` ({type: matches}). Stat rows per source: "pii_masked:<type>"
(matches), "documents_masked" (documents, bytes before masking) and
"pii_kept_in_license_header:<type>" (matches left in code licence headers).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import apache_beam as beam

from filters.document import Document
from filters.pii import PiiMasker
from pipeline.stages.judge import Judge, judged
from pipeline.stats import StageResult, SumStats

PII = "pii"
CODE_SOURCES = ("github",)  # sources whose documents are code files with licence headers


@dataclass(frozen=True, kw_only=True)
class PiiSettings:
    """Config `pii`."""

    emails: bool = False
    ip_addresses: bool = False
    phone_numbers: bool = False
    sources: tuple[str, ...] | None = None  # the sources it applies to; null: every source
    mask_license_headers: bool = False  # code: also mask addresses in a file's licence header

    def __post_init__(self):
        from pipeline.sources.base import check_source_names  # here: pipeline.sources registers this stage

        check_source_names("sources", self.sources)

    @property
    def enabled(self) -> bool:
        return (self.emails or self.ip_addresses or self.phone_numbers) and self.sources != ()

    def applies(self, source: str) -> bool:
        return self.enabled and (self.sources is None or source in self.sources)

    def masker(self) -> PiiMasker:
        return PiiMasker(emails=self.emails, ip_addresses=self.ip_addresses, phone_numbers=self.phone_numbers,
                         mask_license_headers=self.mask_license_headers)


class _Mask(beam.DoFn):
    def __init__(self, source: str, masker: PiiMasker):
        self._source, self._masker = source, masker
        self._code = source in CODE_SOURCES

    def setup(self):
        self._judge = Judge(self._source, PII)

    def process(self, doc: Document):
        yield from self._judge.arrived(doc)
        result = self._masker.mask(doc.text, code=self._code, path=doc.meta.get("path", "") if self._code else "")
        rows = [(f"pii_kept_in_license_header:{kind}", n, 0) for kind, n in sorted(result.kept_in_header.items())]
        if not result.counts:
            yield from self._judge.keep(doc, *rows)
            return
        rows += [(f"pii_masked:{kind}", n, 0) for kind, n in sorted(result.counts.items())]
        masked = dataclasses.replace(doc, text=result.text, meta={**doc.meta, "pii_masked": result.counts})
        yield from self._judge.keep(masked, ("documents_masked", 1, doc.nbytes), *rows)


def apply(results: dict[str, StageResult], config) -> dict[str, StageResult]:
    """The stage over the kept documents of the sources `pii.sources` names (CrossSourceStage.apply)."""
    settings = config.pii
    out = {}
    for name, result in results.items():
        if not settings.applies(name):
            out[name] = result
            continue
        masked = judged(result.kept, f"Pii_{name}", _Mask(name, settings.masker()))
        out[name] = StageResult(
            masked.kept,
            (result.rejected, masked.rejected) | f"PiiRejected_{name}" >> beam.Flatten(),
            (result.stats, masked.stats) | f"PiiStats_{name}" >> SumStats(),
        )
    return out


def summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    masked = entry.get("pii_masked", {})
    lines = []
    if masked:
        docs = entry.get("documents_masked", {}).get("count", 0)
        lines.append(f"{indent}masked: " + ", ".join(f"{kind} {n}" for kind, n in masked.items())
                     + f" (in {docs} documents)")
    else:
        lines.append(f"{indent}masked: nothing")
    kept = entry.get("pii_kept_in_license_header", {})
    if kept:
        lines.append(f"{indent}left in licence headers: " + ", ".join(f"{kind} {n}" for kind, n in kept.items()))
    return lines


def enabled(config) -> bool:
    return config.pii.enabled
