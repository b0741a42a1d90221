"""What the terminal shows: progress bars, run summaries and findings.

Owns the console output of the command line (``adequacy.cli``): counts and
verdicts, never member rows. Uses ``rich`` and ``typer``.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from adequacy.engine.engine import Progress


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


def progress_bar(*, quiet: bool = False) -> tuple[AbstractContextManager, Progress]:
    """A progress bar on stderr and its ``update(step, done, total)``, which the commands
    and the evaluation call with a stage name (``total`` 0 or 1 with nothing done: a
    stage without counts).

    Shown only on a terminal: with ``quiet`` (``--quiet``), or when stderr is a pipe or
    a file, the bar is a no-op, so scripts and tests see stdout's results alone. Stage
    names are fixed words of the code and counts are searches and steps, never an
    input's values: nothing in it names a member. Each new stage is drawn at once, so
    every stage shows, however short. Print nothing while the bar is live (it is cleared
    when it ends).
    """
    if quiet or not sys.stderr.isatty():
        return nullcontext(), _no_progress
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.fields[count]:>13}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task("", total=None, count="")
    shown = {"step": None}

    def update(step: str, done: int, total: int) -> None:
        counted = total > 1 or done > 0
        bar.update(
            task,
            description=step,
            completed=done,
            total=max(total, 1) if counted else None,  # None: a bar that pulses
            count=f"{done:,}/{total:,}" if total > 1 else "",
            refresh=step != shown["step"],
        )
        shown["step"] = step

    return bar, update


def _no_progress(step: str, done: int, total: int) -> None:
    return None


def command_path(name: str) -> str:
    """How to call the program ``name`` of this Python environment from the current
    folder: its bare name when that is the one on PATH, else its path (relative when
    it lies below the current folder, e.g. ``.venv/bin/adequacy``)."""
    path = Path(sys.executable).parent / name
    found = shutil.which(name)
    if found and Path(found).resolve() == path.resolve():
        return name
    if path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def worst_rule(evaluation) -> tuple[str, str, str] | None:
    """(rule, language, label) of the service-area row with the most members not meeting
    it (the first such in the table's order), for a recruitment example; None when every
    member meets every rule."""
    area = evaluation.service_area_summary
    short = area["members"] - area["meeting"]
    if not len(area) or not (short > 0).any():
        return None
    row = area.loc[short.idxmax()]
    return str(row["rule"]), str(row["language"] or ""), str(row["label"])


def print_next_steps(
    out: Path,
    *,
    period: str,
    scenario: Path | None = None,
    scenario_name: str = "",
    recruit: tuple[str, str, str] | None = None,
    hsd: bool = False,
) -> None:
    """The commands to run next on a run folder (``adequacy demo`` ends with them), with
    its path, one per line and never wrapped, to copy as they are."""
    adequacy = command_path("adequacy")
    run = shlex.quote(str(out))

    def beside(suffix: str) -> str:
        return shlex.quote(str(out.parent / f"{out.name}-{suffix}"))

    steps: list[tuple[str, str]] = []
    app = Path(__file__).resolve().parents[1] / "app.py"
    if app.is_file():
        where = app.relative_to(Path.cwd()) if app.is_relative_to(Path.cwd()) else app
        steps.append(
            (
                f'the map in a browser (Data: "Previous output folder", {out})',
                f"{command_path('streamlit')} run {shlex.quote(str(where))}",
            )
        )
    steps.append(
        (
            f"the quarterly report of {period}",
            f"{adequacy} report --run {run} --period {period} --out {beside('report-' + period)}",
        )
    )
    if hsd:
        steps.append(("CMS's HSD tables", f"{adequacy} hsd --run {run} --out {beside('hsd')}"))
    if scenario is not None:
        steps.append(
            (
                f"a what-if ({scenario_name}; {scenario})",
                f"{adequacy} whatif --base {run} --scenario {shlex.quote(str(scenario))} "
                f"--out {beside('whatif')}",
            )
        )
    if recruit is not None:
        rule, language, label = recruit
        lang = f" --language {shlex.quote(language)}" if language else ""
        steps.append(
            (
                f"recruitment where most members fall short: {label}"
                + (f" [{language}]" if language else ""),
                f"{adequacy} recruit --base {run} --rule {shlex.quote(rule)}{lang} "
                f"--out {beside('recruit')}",
            )
        )
    typer.echo(f"\nnext, on {out}/:")
    for what, command in steps:
        typer.echo(f"  # {what}\n  {command}")


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
    if evaluation.network_meta.get("source_kind") == "osm":
        console.print("road data © OpenStreetMap contributors (ODbL)")


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def synthetic_banner(evaluation) -> Console:
    """The console to print a result on, after the synthetic banner when it is the demo's."""
    from rich.console import Console

    console = Console()
    if evaluation.synthetic:
        console.print("[bold red]SYNTHETIC DEMO DATA[/]")
    return console


def print_whatif(evaluation, plan, result, panels) -> None:
    """A what-if's changes: per rule for the service area, the counties whose verdict
    flips, and each terminated panel's continuity of care (counts, never members)."""
    console = synthetic_banner(evaluation)
    p = result.providers
    console.print(
        f"scenario [bold]{plan.name}[/]: {int((p['status'] == 'added').sum())} site(s) added, "
        f"{int((p['status'] == 'joined').sum())} joined, "
        f"{int((p['status'] == 'terminated').sum())} terminated, "
        f"{len(result.pending)} pending; updated in {result.timings['total'] * 1000:,.0f} ms"
    )
    d = result.delta
    area = d[(d["county_fips"] == "ALL") & (d["language"] == "")]
    for _, r in area.iterrows():
        if r["gained"] or r["lost"] or r["providers_before"] != r["providers_after"]:
            console.print(
                f"  {r['rule']:<28} {r['share_before']:.1%} -> {r['share_after']:.1%}  "
                f"(+{r['gained']:,} / -{r['lost']:,} members; providers "
                f"{r['providers_before']:g} -> {r['providers_after']:g})"
            )
    flips = d[d["status_change"] != ""]
    for _, r in flips.head(10).iterrows():
        lang = f" [{r['language']}]" if r["language"] else ""
        console.print(f"  county {r['county_fips']} {r['rule']}{lang}: {r['status_change']}")
    if len(flips) > 10:
        console.print(f"  ... and {len(flips) - 10} more pass/fail changes (delta.csv)")
    for _, r in panels.iterrows():
        verdict = "absorbed" if r["absorbed"] else f"{r['unassigned']} member(s) without a place"
        console.print(
            f"  continuity: {r['terminated_pcp']} panel of {r['displaced_members']} "
            f"({r['in_treatment']} in treatment): {verdict}"
        )


def print_recruitment(evaluation, result) -> None:
    """The recruitment picks and the counties they bring to the threshold."""
    console = synthetic_banner(evaluation)
    console.print(
        f"rule {result.rule}{' [' + result.language + ']' if result.language else ''}: "
        f"{result.failing_members:,} members fail; {result.candidates_considered:,} candidates "
        f"({result.candidate_source})"
    )
    if result.message:
        console.print(f"[yellow]{result.message}[/]")
    for _, r in result.picks.iterrows():
        console.print(
            f"  {r['rank']:>2}. {r['candidate']:<22} +{r['newly_meeting']:,} members "
            f"({r['newly_meeting_in_failing_counties']:,} in failing counties) "
            f"(total {r['total_newly_meeting']:,}; service area {r['share_meeting_after']:.1%})"
        )
    for _, r in result.counties.iterrows():
        n = r["picks_to_threshold"]
        got = f"reaches the threshold after pick {int(n)}" if pd_isna(n) is False else "not reached"
        console.print(
            f"  county {r['county_fips']} {r['county']}: {r['share_meeting']:.1%}, "
            f"{r['members_short']:,} members short; {got}"
        )
