"""What the terminal shows: progress bars, run summaries and findings.

Owns the console output of the command line (``adequacy.cli``): counts and
verdicts, never member rows. Uses ``rich`` and ``typer``.
"""

from __future__ import annotations

import typer


def print_graph_summary(graph) -> None:
    s = graph.summary()
    typer.echo(f"road network  {s['source']}  (sha256 {str(s['source_sha256'])[:12]})")
    typer.echo(f"speed profile {s['profile']}")
    typer.echo(
        f"nodes {s['nodes']:,}   directed edges {s['edges']:,}   road miles {s['road_miles']:,.1f}"
    )
    typer.echo(f"{'class':<18}{'miles':>10}{'mean mph':>10}")
    rows = sorted(s["road_miles_by_class"].items(), key=lambda kv: -kv[1])
    for name, miles in rows:
        if miles < 0.05:
            continue
        mph = s["mean_mph_by_class"].get(name, float("nan"))
        typer.echo(f"{name:<18}{miles:>10,.1f}{mph:>10.1f}")


def progress_bar():
    """A rich progress bar whose ``update(step, done, total)`` the evaluation calls."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
    )
    task = bar.add_task("starting", total=1)

    def update(step: str, done: int, total: int) -> None:
        bar.update(task, description=step, completed=done, total=max(total, 1))

    return bar, update


def print_findings(found, by_county) -> None:
    from rich.console import Console

    console = Console()
    d = found.counties
    if len(d):
        oon = int(found.members["out_of_network_within_limits"].sum())
        closes = int(d["recruitment_closes_gap"].sum())
        console.print(
            f"deficiencies: {len(d)} failing (county, rule) rows; {len(found.members):,} "
            f"(member, rule) gaps, {oon:,} with an out-of-network provider within the limits; "
            f"recruitment closes {closes} (deficiencies.csv, deficient_members.csv)"
        )
    if len(by_county):
        where = ", ".join(
            f"{r.residence_county or r.residence_county_fips} ({r.members})"
            for r in by_county.head(5).itertuples(index=False)
        )
        console.print(f"members outside the service area live in: {where} (outside_candidates.csv)")


def print_result(evaluation) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    std = evaluation.standards
    title = f"Network adequacy: {std.title or std.name} ({std.label})"
    if evaluation.synthetic:
        console.print(
            "[bold red]SYNTHETIC DEMO DATA[/]: members and practices are made up; "
            "roads, counties and hospitals are real"
        )
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("rule", "left"),
        ("standard", "left"),
        ("meeting", "right"),
        ("members/provider", "right"),
        ("failing counties", "right"),
        ("verdict", "left"),
    ):
        table.add_column(col, justify=justify)
    area = evaluation.service_area_summary
    base = area[area["language"] == ""]
    for _, r in base.iterrows():
        ok = "green" if r["share_passes"] else "red"
        ratio = "–"
        if r["ratio_passes"] is not None and not pd_isna(r["ratio_passes"]):
            colour = "green" if r["ratio_passes"] else "red"
            ratio = f"[{colour}]{r['members_per_provider']:,.0f}[/] (≤{r['ratio_limit']:,.0f})"
        verdict = "[green]pass[/]" if r["verdict"] == "pass" else "[bold red]FAIL[/]"
        if r["findings"]:
            verdict += " [yellow](findings)[/]"
        table.add_row(
            r["label"].replace("High-volume specialist", "HV"),
            r["standard"].split(";")[0].replace(" within ", " in "),
            f"[{ok}]{r['share_meeting']:.1%}[/] (≥{r['threshold']:.0%})",
            ratio,
            f"{r['counties_failing']}/{r['counties']}",
            verdict,
        )
    console.print(table)
    failing = base[base["verdict"] == "fail"]
    console.print(
        f"[bold]{len(failing)} of {len(base)} rules failing[/] in the service area"
        + (": " + ", ".join(failing["label"]) if len(failing) else "")
    )
    for _, r in failing.iterrows():
        console.print(f"  {r['label']}: {r['verdict_reasons']}")
    for _, r in base[base["findings"] != ""].iterrows():
        console.print(f"  finding, {r['label']}: {r['findings']}")
    m = evaluation.members
    console.print(
        f"members {len(m):,}: {int(m['in_service_area'].sum()):,} in "
        f"{len(evaluation.regions) if evaluation.regions is not None else 0} counties, "
        f"{int((~m['in_service_area']).sum()):,} outside the service area, "
        f"{int(m['off_road'].sum()):,} far from any road"
    )
    lang = evaluation.language_summary
    if len(lang):
        prevalent = lang[lang["prevalent"].astype(bool)]
        fails = prevalent[prevalent["verdict"] == "fail"]
        console.print(
            f"language concordance: {prevalent['language'].nunique()} prevalent languages, "
            f"{len(fails)} of {len(prevalent)} (county, language, rule) combinations failing"
        )
    if len(evaluation.panel_findings):
        console.print(f"panel findings: {len(evaluation.panel_findings)}")
    for note in [*evaluation.warnings, *evaluation.notes]:
        console.print(f"note: {note}")
    if evaluation.graph.meta.get("source_kind") == "osm":
        console.print("road data © OpenStreetMap contributors (ODbL)")


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
