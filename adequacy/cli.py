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

from adequacy.console import (
    pd_isna,
    print_findings,
    print_graph_summary,
    print_result,
    progress_bar,
)
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
HSD_REFERENCE = Annotated[
    Path | None,
    typer.Option(
        help="--standards cms-ma: CMS's HSD Reference File (.xlsx) of another contract "
        "year (default: the bundled CY2026 file)"
    ),
]
CMS_CROSSWALK = Annotated[
    Path | None,
    typer.Option(
        help="--standards cms-ma: NPPES taxonomy -> CMS specialty code crosswalk "
        "(taxonomy, cms_specialty_code) for rosters without cms_specialty_code"
    ),
]
PROFILE = Annotated[
    str | None,
    typer.Option(help="Speed profile name (default: calibrated for OSM, tiger-prisec for TIGER)"),
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

    print_graph_summary(load_road_graph(source, class_column=class_column, profile=profile))


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
    hsd_reference=None,
    cms_crosswalk=None,
    command: str,
    extra=None,
    stage=None,
) -> None:
    from adequacy.engine import evaluate
    from adequacy.findings import deficiencies, outside_candidates
    from adequacy.network import load_road_graph
    from adequacy.runs import write_run

    bar, update = progress_bar()
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
            hsd_reference=hsd_reference,
            cms_crosswalk=cms_crosswalk,
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
                "hsd_reference": hsd_reference,
                "cms_crosswalk": cms_crosswalk,
            },
        )
    print_result(evaluation)
    print_findings(found, by_county)
    typer.echo(
        f"\nwrote {len(paths)} files to {out}/ (members.parquet, county_summary.csv, "
        "county_summary.gpkg, manifest.json, ...)"
    )


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
    profile: PROFILE = None,
    distance_basis: DISTANCE_BASIS = None,
    hsd_reference: HSD_REFERENCE = None,
    cms_crosswalk: CMS_CROSSWALK = None,
    force: FORCE = False,
) -> None:
    """Evaluate a provider network against access standards and write the results."""
    from adequacy.runs.write import check_out

    check_out(
        out,
        force=force,
        inputs=[
            members, providers, claims, regions, languages, survey, supply, network, standards,
            hsd_reference, cms_crosswalk,
        ],
        kind="run",
    )  # fmt: skip
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
        hsd_reference=hsd_reference,
        cms_crosswalk=cms_crosswalk,
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
    profile: PROFILE = None,
    distance_basis: DISTANCE_BASIS = None,
    force: FORCE = False,
) -> None:
    """Build the demo scenario (real roads and hospitals, synthetic members) and evaluate it."""
    from adequacy.demo import REGIONS, build_demo
    from adequacy.runs.write import check_out, staging

    if region not in REGIONS:
        raise InputError(f"unknown demo region {region!r}; use one of: {', '.join(REGIONS)}")
    check_out(out, force=force, kind="run")
    scenario = build_demo(region, seed=seed, cms=_is_cms(standards))
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


def _is_cms(standards: str) -> bool:
    """Whether a --standards value builds its rules from CMS's reference file."""
    from adequacy.engine.cms_ma import is_recipe
    from adequacy.engine.standards import load_standards

    return is_recipe(load_standards(standards))


def _base(run_dir: Path):
    from adequacy.runs import evaluate_run

    bar, update = progress_bar()
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


@app.command()
@_friendly
def hsd(
    run: Annotated[Path, typer.Option(help="Run folder of a --standards cms-ma evaluation")],
    out: Annotated[Path, typer.Option(help="Output folder for the HSD tables")],
    force: FORCE = False,
) -> None:
    """Write CMS's Provider and Facility HSD tables (CSV and XLSX) of a Medicare Advantage run."""
    from adequacy.runs.hsd_run import hsd_of_evaluation
    from adequacy.runs.hsd_tables import HSD_KIND, write_hsd_tables
    from adequacy.runs.write import check_out

    check_out(out, force=force, inputs=[run], kind=HSD_KIND)
    evaluation, manifest = _base(run)
    reference = (manifest.get("inputs") or {}).get("hsd_reference") or {}
    providers, facilities, notes = hsd_of_evaluation(evaluation, reference.get("path"))
    paths = write_hsd_tables(
        out,
        providers,
        facilities,
        force=force,
        manifest={"run": str(run.resolve()), "notes": notes},
    )
    for note in notes:
        typer.echo(f"note: {note}")
    typer.echo(
        f"wrote {len(providers):,} provider rows and {len(facilities):,} facility rows "
        f"({', '.join(p.name for p in paths)}) to {out}/"
    )


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
