"""The one report renderer, shared by ``spimpact demo`` and ``spimpact run``.

A report is a list of :class:`Section` objects, each a titled list of blocks
(paragraphs, tables, figures, fitted results). The CLI prints the sections to
the terminal (rich) and :func:`render_html` writes them into one
self-contained HTML page: a table of contents with working anchors, a box
with the provenance (versions, seed, data hash) and every warning, numbered
captions on every table and figure, numbers formatted for people
(:mod:`spimpact._format`), figures embedded as PNG, no network access.

Each estimator family exposes ``demo(random_state: int, quick: bool) ->
Section`` in its ``demo`` module.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._format import MISSING, fmt, fmt_interval, fmt_p, format_frame

__all__ = ["Section", "render_html", "result_summary", "result_header"]

#: Rows of a results table shown in a report (the CSVs and ``.estimates`` hold all).
MAX_ROWS = 40


@dataclass
class Section:
    """A titled list of blocks for a report.

    ``blocks`` holds, in order, ``(kind, object)`` pairs: ``("text", str)``,
    ``("table", pandas.DataFrame)``, ``("figure", matplotlib.figure.Figure)``
    or ``("result", spimpact.results.Result)``. ``captions`` maps a block's
    position to its caption; ``warnings`` are shown in the report's warnings
    box, with a link to this section.

    Examples
    --------
    >>> s = Section("Example")
    >>> s.text("Hello.").table(pd.DataFrame({"a": [1]}), "A table.").title
    'Example'
    >>> [k for k, _ in s.blocks], s.captions
    (['text', 'table'], {1: 'A table.'})
    """

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    captions: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def _add(self, kind: str, obj: Any, caption: str = "") -> Section:
        self.blocks.append((kind, obj))
        if caption:
            self.captions[len(self.blocks) - 1] = caption
        return self

    def text(self, text: str) -> Section:
        """Add a paragraph."""
        return self._add("text", text)

    def table(self, frame: pd.DataFrame, caption: str = "") -> Section:
        """Add a table with its caption (numbers are formatted when rendered)."""
        return self._add("table", frame, caption)

    def figure(self, fig: Any, caption: str = "") -> Section:
        """Add a matplotlib figure with its caption (closed after rendering)."""
        return self._add("figure", fig, caption)

    def result(self, result: Any, caption: str = "") -> Section:
        """Add a fitted result: its settings and sizes, then its estimates."""
        self.warnings.extend(w for w in getattr(result, "warnings", ()) if w not in self.warnings)
        return self._add("result", result, caption)

    def warn(self, message: str) -> Section:
        """Record a warning for the report's warnings box."""
        if message not in self.warnings:
            self.warnings.append(message)
        return self


# ---------------------------------------------------------------- results as tables
def result_header(result: Any) -> pd.DataFrame:
    """A result's settings and sizes as a two-column table of text.

    Examples
    --------
    >>> from spimpact.results import Result, estimate_table
    >>> r = Result(estimate_table([0.5], [0.1], index={"term": ["x"]}), method="demo",
    ...            n_units=15000)
    >>> result_header(r).set_index("property")["value"].to_dict()
    {'method': 'demo', 'confidence': '95%', 'units': '15,000'}
    """
    rows: list[tuple[str, str]] = [("method", str(result.method)),
                                   ("confidence", f"{100 * result.confidence:g}%")]
    for label, name in (("rows", "n_obs"), ("units", "n_units"), ("clusters", "n_clusters")):
        value = getattr(result, name, None)
        if value is not None:
            rows.append((label, fmt(value)))
    for key, value in result.info.items():
        if isinstance(value, (pd.DataFrame, pd.Series, dict, list, tuple)) or callable(value):
            continue  # only scalar facts belong in a header
        rows.append((str(key), fmt(value)))
    overall = result.overall
    if overall is not None:
        rows.append(("overall", estimate_text(overall)))
    return pd.DataFrame(rows, columns=["property", "value"])


def estimate_text(est: Any) -> str:
    """An :class:`~spimpact.results.Estimate` as one line of formatted text.

    Examples
    --------
    >>> from spimpact.results import Estimate
    >>> estimate_text(Estimate.from_se(1234.5678, 100.0))
    '1235 (SE 100; 95% CI [1039, 1431]; p <0.001)'
    """
    pct = f"{100 * est.confidence:g}%"
    p = fmt_p(est.p_value)
    return (f"{fmt(est.estimate)} (SE {fmt(est.std_error)}; {pct} CI "
            f"{fmt_interval(est.ci_lower, est.ci_upper)}; p {p if p.startswith('<') else '= ' + p})")


def result_summary(result: Any, max_rows: int = MAX_ROWS) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """A result's header, its estimates (at most ``max_rows``, head and tail) and
    how many rows the full table has."""
    table = result.estimates
    n = len(table)
    if n > max_rows:
        table = pd.concat([table.head(max_rows // 2), table.tail(max_rows // 2)])
    return result_header(result), table, n


# ---------------------------------------------------------------------- HTML
def anchor(title: str, index: int) -> str:
    """The HTML id of section ``index`` titled ``title``.

    Examples
    --------
    >>> anchor("Staggered difference-in-differences", 2)
    's2-staggered-difference-in-differences'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return f"s{index}-{slug or 'section'}"


def _table_html(frame: pd.DataFrame, caption: str, number: int, note: str = "") -> str:
    body = format_frame(frame).to_html(index=False, border=0, classes="tab", escape=True,
                                       na_rep=MISSING)
    cap = f"<strong>Table {number}.</strong> {html.escape(caption)}"
    if note:
        cap += f" <em>{html.escape(note)}</em>"
    return f'<figure class="table"><figcaption>{cap}</figcaption>{body}</figure>'


def _figure_html(fig: Any, caption: str, number: int) -> str:
    import matplotlib.pyplot as plt

    from .plotting import figure_to_base64

    data = figure_to_base64(fig)
    plt.close(fig)
    alt = html.escape(caption or f"Figure {number}", quote=True)
    return (f'<figure class="fig"><img alt="{alt}" src="data:image/png;base64,{data}"/>'
            f"<figcaption><strong>Figure {number}.</strong> {html.escape(caption)}"
            "</figcaption></figure>")


class _Counter:
    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0


def _section_html(sec: Section, sid: str, count: _Counter) -> str:
    parts = [f'<section id="{sid}"><h2>{html.escape(sec.title)}</h2>']
    for i, (kind, obj) in enumerate(sec.blocks):
        caption = sec.captions.get(i, "")
        if kind == "text":
            parts.append(f"<p>{html.escape(str(obj))}</p>")
        elif kind == "table":
            count.tables += 1
            parts.append(_table_html(obj, caption or sec.title, count.tables))
        elif kind == "figure":
            count.figures += 1
            parts.append(_figure_html(obj, caption or sec.title, count.figures))
        elif kind == "result":
            header, table, n = result_summary(obj)
            name = type(obj).__name__
            count.tables += 1
            parts.append(_table_html(header, f"{caption or name}: settings and sizes.",
                                     count.tables))
            count.tables += 1
            note = (f"First and last {len(table) // 2} of {n:,} rows; the full table is in "
                    "the result's .estimates." if n > len(table) else "")
            parts.append(_table_html(table, f"{caption or name}: estimates.", count.tables,
                                     note))
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    parts.append("</section>")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #c0392b} h2{margin-top:2em;border-bottom:1px solid #ddd}
nav.toc{background:#f7f7f7;padding:0.5em 1em;border:1px solid #ddd}
nav.toc ol{margin:0.3em 0}
.box{border:1px solid #ccc;border-left:4px solid #2c7fb8;padding:0.5em 1em;margin:1em 0;
background:#fbfdff}
.box.warn{border-left-color:#d35400;background:#fffaf5}
.box table{font-size:0.85em} .box th{text-align:left}
table{border-collapse:collapse;margin:0.5em 0;font-size:0.9em}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
figure{margin:1em 0} figcaption{font-size:0.9em;color:#444;margin:0.3em 0}
img{max-width:100%}
"""


def _provenance_html(provenance: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(fmt(v))}</td></tr>"
                   for k, v in provenance.items())
    return (f'<div class="box" id="provenance"><strong>Provenance</strong>'
            f"<table>{rows}</table></div>")


def _warnings_html(items: list[tuple[str, str, str]]) -> str:
    if not items:
        return ('<div class="box warn" id="warnings"><strong>Warnings</strong>'
                "<p>None were recorded.</p></div>")
    lis = "".join(f'<li>{html.escape(msg)} (<a href="#{sid}">{html.escape(title)}</a>)</li>'
                  for msg, sid, title in items)
    return (f'<div class="box warn" id="warnings"><strong>Warnings ({len(items)})</strong>'
            f"<ul>{lis}</ul></div>")


def render_html(
    title: str,
    sections: list[Section],
    preamble: str = "",
    *,
    provenance: Mapping[str, Any] | None = None,
    warnings: Iterable[str] = (),
) -> str:
    """One self-contained HTML page (figures embedded as base64 PNG).

    Parameters
    ----------
    title : str
        The page title.
    sections : list of Section
        The report's sections, in order.
    preamble : str
        A paragraph under the title.
    provenance : mapping, optional
        Facts for the provenance box (versions, seed, data hash...).
    warnings : iterable of str
        Report-level warnings; each section's warnings are added.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_html("Report", [Section("One").text("Hi.")], provenance={"seed": 1})
    >>> 'href="#s1-one"' in page and 'id="s1-one"' in page
    True
    """
    ids = [anchor(sec.title, i + 1) for i, sec in enumerate(sections)]
    toc = "".join(f'<li><a href="#{sid}">{html.escape(sec.title)}</a></li>'
                  for sid, sec in zip(ids, sections, strict=True))
    items = [(w, "provenance", "report") for w in dict.fromkeys(warnings)]
    for sid, sec in zip(ids, sections, strict=True):
        items += [(w, sid, sec.title) for w in sec.warnings]
    count = _Counter()
    body = [_section_html(sec, sid, count) for sid, sec in zip(ids, sections, strict=True)]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if preamble:
        parts.append(f"<p>{html.escape(preamble)}</p>")
    parts.append(f'<nav class="toc" id="contents"><strong>Contents</strong><ol>{toc}</ol></nav>')
    if provenance:
        parts.append(_provenance_html(provenance))
    parts.append(_warnings_html(items))
    parts.extend(body)
    parts.append("</body></html>")
    return "\n".join(parts)
