"""The ``adequacy`` command line.

Every user-facing error is an :class:`~adequacy.errors.InputError`; the command
line prints its message on one line (or a few, one per problem) and exits with
status 2, without a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adequacy.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Network adequacy analysis: can members reach enough providers by road?",
)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


FORCE = Annotated[
    bool, typer.Option("--force", help="Replace an --out folder that holds other files")
]
DISTANCE_BASIS = Annotated[
    str | None,
    typer.Option(
        help="How miles are measured: shortest, fastest_route or straight_line "
        "(default: the standards set's own)"
    ),
]


def _friendly(func):
    """Turn InputError into a short message and exit status 2; anything else into one
    line without the exception's text (it could hold a cell of an input) and status 1.
    ``ADEQUACY_DEBUG=1`` shows the traceback instead."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("ADEQUACY_DEBUG"):
                raise
            typer.secho(
                f"error: an unexpected problem ({type(exc).__name__}) stopped the command; "
                "nothing was written. Please report it; ADEQUACY_DEBUG=1 shows the details "
                "(they may include input data)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper


def _print_graph_summary(graph) -> None:
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


@app.command()
@_friendly
def graph(
    source: Annotated[
        Path, typer.Argument(help="Road network: .osm.pbf, .osm(.bz2), .graphml or road lines")
    ],
    class_column: Annotated[
        str | None, typer.Option(help="Road-lines files: the road-class column (TIGER: prisec_fl)")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="Speed profile name")] = None,
) -> None:
    """Build (or load from cache) a road graph and print its summary."""
    from adequacy.network import load_road_graph

    _print_graph_summary(load_road_graph(source, class_column=class_column, profile=profile))


def _progress_bar():
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


def _period_quarter(period: str | None) -> int | None:
    from adequacy.engine import parse_period

    return None if period is None else parse_period(period)[1]


def _run(
    members,
    providers,
    network,
    *,
    standards,
    claims,
    regions,
    languages,
    period,
    class_column,
    out: Path,
    survey=None,
    appointment_standards="seed-manual",
    supply=None,
    profile=None,
    distance_basis=None,
    command: str,
    extra=None,
    stage=None,
) -> None:
    from adequacy.engine import evaluate
    from adequacy.findings import deficiencies, outside_candidates
    from adequacy.network import load_road_graph
    from adequacy.runs import write_run

    bar, update = _progress_bar()
    with bar:
        update("loading road graph", 0, 1)
        graph = load_road_graph(network, class_column=class_column, profile=profile)
        evaluation = evaluate(
            members,
            providers,
            graph,
            standards,
            claims=claims,
            regions=regions,
            census_languages=languages,
            survey=survey,
            appointment_standards=appointment_standards,
            quarter=_period_quarter(period),
            distance_basis=distance_basis,
            progress=update,
        )
        update("deficiency workpaper", 0, 1)
        found = deficiencies(evaluation, supply=supply)
        outside, by_county = outside_candidates(evaluation, supply=supply)
        findings = {**found.tables(), "outside_candidates": outside, "outside_by_county": by_county}
        update("writing outputs", 0, 1)
        paths = write_run(
            evaluation,
            out,
            command=command,
            extra=extra,
            findings=findings,
            stage=stage,
            inputs={
                "members": members,
                "providers": providers,
                "claims": claims,
                "regions": regions,
                "census_languages": languages,
                "survey": survey,
                "supply": supply,
                "road_network": network,
                "standards": evaluation.standards.path or evaluation.standards.name,
            },
        )
    _print_result(evaluation)
    _print_findings(found, by_county)
    typer.echo(
        f"\nwrote {len(paths)} files to {out}/ (members.parquet, county_summary.csv, "
        "county_summary.gpkg, manifest.json, ...)"
    )


def _print_findings(found, by_county) -> None:
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


def _print_result(evaluation) -> None:
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


@app.command()
@_friendly
def evaluate(
    members: Annotated[Path, typer.Option(help="Members file (CSV, Parquet, GeoPackage)")],
    providers: Annotated[Path, typer.Option(help="Providers file, one row per location")],
    network: Annotated[Path, typer.Option(help="Road network (.osm.pbf, .graphml, road lines)")],
    out: Annotated[Path, typer.Option(help="Output folder")],
    standards: Annotated[
        str, typer.Option(help="Standards YAML or built-in set name")
    ] = "seed-manual",
    claims: Annotated[Path | None, typer.Option(help="Claims by specialty")] = None,
    regions: Annotated[
        Path | None, typer.Option(help="County polygons (GeoPackage, GeoJSON)")
    ] = None,
    languages: Annotated[Path | None, typer.Option(help="Census languages per county")] = None,
    period: Annotated[str | None, typer.Option(help="Report quarter, e.g. 2026Q3")] = None,
    class_column: Annotated[
        str | None, typer.Option(help="Road-lines files: road-class column")
    ] = None,
    survey: Annotated[
        Path | None, typer.Option(help="Appointment-availability survey answers")
    ] = None,
    appointment_standards: Annotated[
        str, typer.Option(help="Wait-time standards YAML or built-in name")
    ] = "seed-manual",
    supply: Annotated[
        Path | None,
        typer.Option(help="Every provider in the market (roster format): out-of-network supply"),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Speed profile name (default: calibrated for OSM, tiger-prisec for TIGER)"
        ),
    ] = None,
    distance_basis: DISTANCE_BASIS = None,
    force: FORCE = False,
) -> None:
    """Evaluate a provider network against access standards and write the results."""
    from adequacy.runs.write import check_out

    check_out(
        out,
        force=force,
        inputs=[members, providers, claims, regions, languages, survey, supply, network, standards],
        kind="run",
    )
    _run(
        members,
        providers,
        network,
        standards=standards,
        claims=claims,
        regions=regions,
        languages=languages,
        period=period,
        class_column=class_column,
        out=out,
        command=" ".join(["adequacy", *sys.argv[1:]]),
        survey=survey,
        appointment_standards=appointment_standards,
        supply=supply,
        profile=profile,
        distance_basis=distance_basis,
    )


@app.command()
@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("demo-output"),
    region: Annotated[str, typer.Option(help="boston (urban) or eastern-idaho (rural)")] = "boston",
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data")] = 2026,
    standards: Annotated[
        str, typer.Option(help="Standards YAML or built-in set name")
    ] = "seed-manual",
    period: Annotated[str | None, typer.Option(help="Report quarter, e.g. 2026Q4")] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Speed profile name (default: calibrated for OSM, tiger-prisec for TIGER)"
        ),
    ] = None,
    distance_basis: DISTANCE_BASIS = None,
    force: FORCE = False,
) -> None:
    """Build the demo scenario (real roads and hospitals, synthetic members) and evaluate it."""
    from adequacy.demo import REGIONS, build_demo
    from adequacy.runs.write import check_out, staging

    if region not in REGIONS:
        raise InputError(f"unknown demo region {region!r}; use one of: {', '.join(REGIONS)}")
    check_out(out, force=force, kind="run")
    scenario = build_demo(region, seed=seed)
    spec = scenario.region
    with staging(out) as stage:  # the inputs are part of the run folder, published whole
        inputs = scenario.write_inputs(stage / "inputs")
        typer.echo(f"demo region {spec.title}; seed {seed}; synthetic inputs in {out / 'inputs'}/")
        _run(
            inputs["members"],
            inputs["providers"],
            spec.roads,
            standards=standards,
            claims=inputs["claims"],
            regions=inputs["regions"],
            survey=inputs["survey"],
            languages=None,
            period=period,
            class_column=spec.class_column,
            out=out,
            command=" ".join(["adequacy", *sys.argv[1:]]),
            extra={"demo": {"region": region, "seed": seed}},
            profile=profile,
            distance_basis=distance_basis,
            stage=stage,
        )


def _base(run_dir: Path):
    from adequacy.runs import evaluate_run

    bar, update = _progress_bar()
    with bar:
        return evaluate_run(run_dir, progress=update)


def _write_base_tables(out, tables, evaluation, base, manifest, extra, *, parquet):
    """Write tables made from a base run, each marked synthetic or not, with a manifest;
    returns the console to print the result on (the synthetic banner already printed)."""
    from rich.console import Console

    from adequacy.runs import write_tables

    flag = evaluation.synthetic
    for table in tables.values():
        table["synthetic"] = flag
    header = {
        "command": " ".join(["adequacy", *sys.argv[1:]]),
        "base_run": str(Path(base).resolve()),
        "base_inputs": manifest.get("inputs"),
        **extra,
        "synthetic": flag,
    }
    write_tables(out, tables, header, parquet=parquet)
    console = Console()
    if flag:
        console.print("[bold red]SYNTHETIC DEMO DATA[/]")
    return console


@app.command()
@_friendly
def whatif(
    base: Annotated[Path, typer.Option(help="Run folder of the base evaluation")],
    scenario: Annotated[Path, typer.Option(help="Scenario file (YAML or JSON)")],
    out: Annotated[Path, typer.Option(help="Output folder")],
    force: FORCE = False,
) -> None:
    """Apply a scenario (providers added, joining, terminated) to a base run."""
    from adequacy.runs.write import check_out, run_inputs

    check_out(
        out,
        force=force,
        inputs=[scenario, base / "manifest.json", *run_inputs(base)],
        kind="whatif",
    )

    from adequacy.whatif import continuity_of_care, read_scenario, run_whatif

    plan = read_scenario(scenario)
    evaluation, manifest = _base(base)
    result = run_whatif(evaluation, plan)
    members, panels = continuity_of_care(result)
    tables = {
        "delta": result.delta,
        "member_changes": result.changes,
        "continuity_members": members,
        "continuity_summary": panels,
        "pending_terminations": result.pending,
    }
    console = _write_base_tables(
        out,
        tables,
        evaluation,
        base,
        manifest,
        {"scenario": plan.to_dict(), "timings_seconds": result.timings},
        parquet=("delta", "member_changes", "continuity_members"),
    )
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
    typer.echo(f"wrote {out}/ (delta, member_changes, continuity_*, manifest.json)")


@app.command()
@_friendly
def recruit(
    base: Annotated[Path, typer.Option(help="Run folder of the base evaluation")],
    rule: Annotated[str, typer.Option(help="Rule id, e.g. primary_care")],
    out: Annotated[Path, typer.Option(help="Output folder")],
    candidates: Annotated[
        Path | None, typer.Option(help="Candidate providers (roster format)")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language-concordant rule")] = None,
    top: Annotated[int, typer.Option(help="Number of picks")] = 10,
    force: FORCE = False,
) -> None:
    """Rank candidate sites by the failing members each would bring within a rule."""
    from adequacy.runs.write import check_out, run_inputs

    check_out(
        out,
        force=force,
        inputs=[candidates, base / "manifest.json", *run_inputs(base)],
        kind="recruit",
    )

    from adequacy.whatif import recruit as rank_candidates

    evaluation, manifest = _base(base)
    result = rank_candidates(evaluation, rule, language=language, candidates=candidates, top=top)
    tables = {"picks": result.picks, "county_targets": result.counties}
    console = _write_base_tables(
        out,
        tables,
        evaluation,
        base,
        manifest,
        {
            "rule": result.rule,
            "language": result.language,
            "candidates": str(candidates) if candidates else result.candidate_source,
        },
        parquet=("picks",),
    )
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
    typer.echo(f"wrote {out}/ (picks, county_targets, manifest.json)")


@app.command()
@_friendly
def report(
    run: Annotated[Path, typer.Option(help="Run folder of 'adequacy evaluate' or 'adequacy demo'")],
    out: Annotated[Path, typer.Option(help="Output folder of the report")],
    period: Annotated[
        str | None, typer.Option(help="Report quarter, e.g. 2026Q3 (annual rules in their quarter)")
    ] = None,
    previous: Annotated[
        Path | None, typer.Option(help="Run folder of the previous quarter, to compare with")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Plan name for the report's title")] = None,
    force: FORCE = False,
) -> None:
    """Write the quarterly report (HTML, workbook, GeoPackage) of a run folder."""
    from adequacy.runs.write import check_out

    check_out(out, force=force, inputs=[run / "manifest.json", previous], kind="report")
    import json

    from adequacy.report import build_report

    paths = build_report(
        run,
        out,
        period=period,
        previous=previous,
        plan=plan,
        command=" ".join(["adequacy", *sys.argv[1:]]),
    )
    manifest = json.loads(paths["manifest"].read_text())
    if manifest["synthetic"]:
        typer.secho("SYNTHETIC DEMO DATA: not for filing", fg=typer.colors.RED, bold=True)
    typer.echo(
        f"period {manifest['period']['label']}: {len(manifest['rules_included'])} rule(s) "
        f"reported, {len(manifest['rules_excluded'])} left out (annual rules outside their quarter)"
    )
    typer.echo(f"wrote {', '.join(p.name for p in paths.values())} to {out}/")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
