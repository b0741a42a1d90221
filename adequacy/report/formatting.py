"""Text and small HTML pieces of the report: numbers, shares, distances, badges, tables.

Every value the HTML report shows goes through one of these helpers, so it
reads the same everywhere: '–' for a blank, '> 100 mi' beyond the search
horizon, a real minus sign for a drop. :class:`Doc` numbers the sections and
gathers the table of contents.

Owns: the formatting helpers, ``html_table``, ``kv_table``, ``html_cell`` and
``Doc``. Uses: :func:`adequacy.report.tables.flag` (pass flags read from CSV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

from adequacy.report.tables import flag


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def integer(value: Any) -> str:
    v = number(value)
    return "–" if math.isnan(v) else f"{v:,.0f}"


def amount(value: Any) -> str:
    """A count that may be fractional (FTE, medians): '3', '0.4', '1,234.5'; '–' blank."""
    v = number(value)
    return "–" if math.isnan(v) else f"{v:,.1f}".removesuffix(".0")


def percent(value: Any, digits: int = 1) -> str:
    v = number(value)
    return "–" if math.isnan(v) else f"{v:.{digits}%}"


def points(value: Any) -> str:
    """A change in percentage points: '+1.2 pp', '−3.5 pp', '0.0 pp'."""
    v = number(value)
    if math.isnan(v):
        return "–"
    return "0.0 pp" if abs(v) < 0.05 else f"{v:+.1f} pp".replace("-", "−")


def distance(value: Any, unit: str, horizon: float | None = None) -> str:
    """Miles or minutes for a table; infinity is '> horizon' (beyond the search horizon)."""
    v = number(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return f"&gt; {horizon:g} {unit}" if horizon else "beyond horizon"
    return f"{v:,.1f} {unit}"


def per_provider(value: Any) -> str:
    v = number(value)
    if math.isnan(v):
        return "–"
    return "no providers" if math.isinf(v) else f"{v:,.0f}"


def badge(value: Any, yes: str = "Pass", no: str = "Fail") -> str:
    """A pass/fail badge of a pass column's value; '–' when blank."""
    f = flag(value)
    if f is None:
        return '<span class="badge na">–</span>'
    return f'<span class="badge {"pass" if f else "fail"}">{yes if f else no}</span>'


def ordinal(n: int) -> str:
    """'2nd', '3rd', ...; '' for 1 (the nearest)."""
    if n == 1:
        return ""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


def html_table(head: list[str], rows: list[list[Any]], cls: str = "", align: str = "") -> str:
    """An HTML table. Cells are HTML (escape text first), or (HTML, css class) pairs.

    ``align`` has one letter per column: l(eft), r(ight) or c(entre); by default
    the first column is left-aligned and the others right-aligned (numbers).
    """
    align = align or "l" + "r" * (len(head) - 1)
    th = "".join(f'<th class="{a}">{h}</th>' for h, a in zip(head, align, strict=True))
    body = "".join(
        "<tr>" + "".join(html_cell(c, a) for c, a in zip(row, align, strict=True)) + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def kv_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table of labels and values (HTML), without a header."""
    body = "".join(f"<tr><th class='l'>{k}</th><td class='l'>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def html_cell(cell: Any, align: str = "") -> str:
    """A table cell: HTML, or (HTML, css class)."""
    text, cls = cell if isinstance(cell, tuple) else (cell, "")
    cls = " ".join(c for c in (align, cls) if c)
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


@dataclass
class Doc:
    """Section numbering and the table of contents of the HTML report."""

    parts: list[str]
    toc: list[tuple[str, str, bool]]
    section: int = 0
    sub: int = 0

    def h2(self, title: str) -> None:
        self.section += 1
        self.sub = 0
        anchor = f"s{self.section}"
        text = f"{self.section}. {escape(title)}"
        self.toc.append((anchor, text, False))
        self.parts.append(f'<h2 id="{anchor}">{text}</h2>')

    def h3(self, title: str, extra: str = "") -> None:
        self.sub += 1
        anchor = f"s{self.section}-{self.sub}"
        text = f"{self.section}.{self.sub} {escape(title)}"
        self.toc.append((anchor, text, True))
        self.parts.append(
            f'<div class="rule-head"><h3 id="{anchor}">{text}</h3>'
            f'<div class="verdict">{extra}</div></div>'
        )

    def add(self, html: str) -> None:
        self.parts.append(html)
