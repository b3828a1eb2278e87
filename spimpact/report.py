"""Report sections: what each estimator family contributes to ``spimpact demo``.

Each family exposes ``demo(random_state: int, quick: bool) -> Section`` in its
``demo`` module; the CLI prints every section to the terminal (rich) and
writes them all into one self-contained HTML report with embedded figures.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Section", "render_html"]


@dataclass
class Section:
    """A titled list of blocks for the demo report.

    ``blocks`` holds, in order, any of: ``("text", str)``, ``("table",
    pandas.DataFrame)``, ``("figure", matplotlib.figure.Figure)``,
    ``("result", spimpact.results.Result)``.

    Examples
    --------
    >>> s = Section("Example")
    >>> s.text("Hello.").table(pd.DataFrame({"a": [1]})).title
    'Example'
    """

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def text(self, text: str) -> Section:
        """Add a paragraph."""
        self.blocks.append(("text", text))
        return self

    def table(self, frame: pd.DataFrame, caption: str = "") -> Section:
        """Add a table (with an optional caption paragraph before it)."""
        if caption:
            self.text(caption)
        self.blocks.append(("table", frame))
        return self

    def figure(self, fig: Any, caption: str = "") -> Section:
        """Add a matplotlib figure (closed after rendering)."""
        if caption:
            self.text(caption)
        self.blocks.append(("figure", fig))
        return self

    def result(self, result: Any) -> Section:
        """Add a fitted result (its summary)."""
        self.blocks.append(("result", result))
        return self


def _block_html(kind: str, obj: Any) -> str:
    from .plotting import figure_to_base64

    if kind == "text":
        return f"<p>{html.escape(obj)}</p>"
    if kind == "table":
        return obj.to_html(index=False, float_format="{:.4g}".format, border=0, classes="tab")
    if kind == "figure":
        import matplotlib.pyplot as plt

        data = figure_to_base64(obj)
        plt.close(obj)
        return f'<img alt="figure" src="data:image/png;base64,{data}"/>'
    if kind == "result":
        return obj._repr_html_()
    raise ValueError(f"unknown block kind {kind!r}")


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #c0392b} h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:0.5em 0;font-size:0.9em}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
img{max-width:100%}
"""


def render_html(title: str, sections: list[Section], preamble: str = "") -> str:
    """One self-contained HTML page (figures embedded as base64 PNG)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if preamble:
        parts.append(f"<p>{html.escape(preamble)}</p>")
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        parts.extend(_block_html(k, o) for k, o in sec.blocks)
    parts.append("</body></html>")
    return "\n".join(parts)
