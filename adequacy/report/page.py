"""The HTML report as one page: cover, contents, the sections and the footer.

:func:`render_html` makes one self-contained page (CSS and plotly.js inline,
nothing fetched) from the run, the period's rules and the report's tables.

Owns: ``CSS``, ``render_html`` and ``plan_title``. Uses: the sections
(:mod:`adequacy.report.sections`, :mod:`adequacy.report.method`), the standards
set rebuilt from the run's manifest and :mod:`adequacy.report.formatting`.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from adequacy import __version__
from adequacy.engine.appointments import load_appointment_standards
from adequacy.engine.standards import StandardsSet
from adequacy.report.appointments import appointments_section
from adequacy.report.deficiencies import deficiency_section
from adequacy.report.formatting import Doc
from adequacy.report.method import method_section
from adequacy.report.sections import (
    language_section,
    outside_section,
    panel_section,
    rule_section,
    summary_section,
)
from adequacy.runs.read import Run

CSS = """
:root { --pass: #1a7837; --pass-bg: #dcefd8; --fail: #b2182b; --fail-bg: #f8d9d6;
  --ink: #1f2328; --muted: #5b6470; --line: #d6dae0; --head: #f1f3f6; --accent: #1f3b63; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 "Helvetica Neue", Helvetica, Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 40px 60px; }
header.cover { border-bottom: 3px solid var(--accent); padding-bottom: 16px; margin-bottom: 8px; }
header.cover .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
  color: var(--muted); margin: 0; }
h1 { font-size: 30px; margin: 4px 0 6px; color: var(--accent); }
h2 { font-size: 22px; margin: 44px 0 10px; padding-top: 10px; border-top: 1px solid var(--line);
  color: var(--accent); }
h3 { font-size: 18px; margin: 34px 0 6px; }
h4 { font-size: 15px; margin: 20px 0 6px; color: var(--muted); }
p { margin: 6px 0 10px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 14px;
  margin: 10px 0 0; }
.meta dt { color: var(--muted); } .meta dd { margin: 0; }
.banner { background: var(--fail); color: #fff; font-weight: 700; padding: 10px 16px;
  border-radius: 4px; margin: 14px 0; letter-spacing: .02em; }
.banner span { font-weight: 400; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin: 14px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .v { font-size: 22px; font-weight: 700; } .card .k { font-size: 12px; color: var(--muted); }
.card.bad .v { color: var(--fail); } .card.good .v { color: var(--pass); }
nav.toc { border: 1px solid var(--line); border-radius: 6px; padding: 10px 18px; margin: 18px 0;
  font-size: 14px; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; } nav.toc div { break-inside: avoid; }
nav.toc .sub { padding-left: 18px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 14px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 7px; text-align: right;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; text-align: center; }
td.l, th.l { text-align: left; } td.r, th.r { text-align: right; }
td.c, th.c { text-align: center; } td.nw { white-space: nowrap; }
table.counties td:first-child, table.matrix td:first-child { white-space: nowrap; }
table.kv, table.narrow { width: auto; min-width: 60%; }
table.kv th { width: 180px; background: var(--head); }
td.id { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.pass, tbody tr:nth-child(even) td.pass { background: var(--pass-bg); color: #0f4d22; }
td.fail, tbody tr:nth-child(even) td.fail { background: var(--fail-bg); color: #7d0f1d;
  font-weight: 600; }
td.na { color: var(--muted); }
table.matrix td:first-child { text-align: left; font-weight: 600; white-space: nowrap; }
table.matrix th small { display: block; font-weight: 400; color: var(--muted); }
tr.total td { border-top: 2px solid #9aa3ad; font-weight: 600; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
  font-weight: 700; }
.badge.pass { background: var(--pass-bg); color: var(--pass); }
.badge.fail { background: var(--fail-bg); color: var(--fail); }
.badge.na { color: var(--muted); }
.rule-head { display: flex; gap: 12px; align-items: baseline; justify-content: space-between; }
.verdict { font-size: 15px; }
.standard { background: var(--head); border-left: 4px solid var(--accent); padding: 8px 12px;
  margin: 8px 0 12px; font-size: 14px; }
.note { color: var(--muted); font-size: 13px; }
.legend { font-size: 12px; color: var(--muted); margin-top: -6px; }
.mono, code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 10px 12px; white-space: pre-wrap;
  word-break: break-all; font-size: 12px; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 6px; margin: 10px 0; }
ul.changes { margin: 4px 0 10px; padding-left: 20px; font-size: 14px; }
footer { margin-top: 50px; border-top: 1px solid var(--line); padding-top: 10px; font-size: 12px;
  color: var(--muted); }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-before: page; border-top: none; }
  .figure, table { break-inside: avoid; }
  nav.toc { display: none; }
}
"""


def plan_title(manifest: dict[str, Any], plan: str | None) -> str:
    if plan:
        return plan
    demo = manifest.get("demo")
    if isinstance(demo, dict) and demo.get("region"):
        from adequacy.demo import REGIONS

        spec = REGIONS.get(demo["region"])
        title = spec.title if spec is not None else demo["region"]
        return f"Synthetic demo plan — {title}"
    return "Health plan provider network"


def render_html(
    run: Run,
    rules: list[dict],
    excluded: list[tuple[dict, str]],
    period_label: str,
    tables: dict[str, pd.DataFrame],
    *,
    previous: Run | None = None,
    plan: str | None = None,
    command: str = "",
) -> str:
    """The report as one self-contained HTML page (plotly.js inline; nothing fetched)."""
    from plotly.offline import get_plotlyjs

    manifest = run.manifest
    standards = manifest["standards"]
    rule_set = StandardsSet.from_dict(standards)  # each rule words its own standard
    synthetic = bool(manifest.get("synthetic"))
    summary = tables["summary"]
    period_given = not period_label.startswith("all rules")
    comparison = tables.get("comparison")
    if comparison is not None and previous is not None:
        comparison.attrs["previous_label"] = (
            f"run of {previous.manifest.get('created_utc', '–')}, {previous.folder.resolve().name}"
        )
    doc = Doc(parts=[], toc=[])
    figures: list[str] = []
    summary_section(doc, run, rules, excluded, summary, comparison, period_label)
    doc.h2("Access by rule")
    doc.add(
        "<p>One subsection per rule: the county map, the county table (with the members not "
        "meeting the standard) and the distribution of distance and time to the providers.</p>"
    )
    area = summary.set_index("rule", drop=False)
    for rule in rules:
        rule_section(
            doc, run, rule, rule_set.rule(rule["id"]), area.loc[rule["id"]], comparison, figures
        )
    deficiency_section(doc, run, rules)
    language_section(doc, run, rules)
    panel_section(doc, run)
    doc.h2("Appointment availability")
    appointment_std = run.manifest.get("appointment_standards")
    doc.add(
        appointments_section(
            run.tables["appointment_compliance"],
            load_appointment_standards(appointment_std) if appointment_std else None,
        )
    )
    outside_section(doc, run, rules)
    method_section(doc, run, rule_set, excluded, period_label, command, previous)

    title = "Network adequacy report" + (f" — {period_label}" if period_given else "")
    banner = ""
    if synthetic:
        banner = (
            '<div class="banner">SYNTHETIC DATA — NOT FOR FILING. <span>The members and '
            "practices in this report are made up (demo); roads, counties and hospitals are "
            "real.</span></div>"
        )
    meta = [
        ("Plan", escape(plan_title(manifest, plan))),
        ("Reporting period", escape(period_label)),
        (
            "Standards",
            f"{escape(str(standards.get('title') or standards.get('name')))} "
            f"({escape(str(standards.get('name')))}@{escape(str(standards.get('version')))})",
        ),
        ("Evaluated", f"{escape(str(manifest.get('created_utc', '–')))} UTC"),
        ("Road network", escape(str((manifest.get("road_network") or {}).get("source") or "–"))),
    ]
    if previous is not None:
        meta.append(
            ("Compared with", f"run of {escape(str(previous.manifest.get('created_utc', '–')))}")
        )
    toc = "".join(
        f'<div class="{"sub" if sub else ""}"><a href="#{a}">{t}</a></div>' for a, t, sub in doc.toc
    )
    attribution = (manifest.get("road_network") or {}).get("attribution") or ""
    footer = (
        f"Generated by adequacy {escape(__version__)} from the run of "
        f"{escape(str(manifest.get('created_utc', '–')))} UTC."
        + (f" Road data {escape(attribution)}." if attribution else "")
        + (" SYNTHETIC DATA." if synthetic else "")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f'<body class="{"synthetic" if synthetic else ""}"><main>'
        '<header class="cover"><p class="kicker">Network adequacy — time and distance access'
        f"</p><h1>{escape(title)}</h1>"
        '<dl class="meta">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
        + f"</dl></header>{banner}"
        f'<nav class="toc"><b>Contents</b>{toc}</nav>'
        + "\n".join(doc.parts)
        + f"<footer>{footer}</footer></main></body></html>\n"
    )
