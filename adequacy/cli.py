"""The ``adequacy`` command line.

Every user-facing error is an :class:`~adequacy.errors.InputError`; the command
line prints its message on one line (or a few, one per problem) and exits with
status 2, without a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from adequacy.cli_options import (
    CHUNK_MEMBERS,
    CMS_CROSSWALK,
    DISTANCE_BASIS,
    FORCE,
    HSD_REFERENCE,
    PARTITION_BY,
    PARTITION_GRAPHS,
    PARTITIONS,
    PROFILE,
    QUIET,
    SCHEDULER,
    WORK_DIR,
    WORKERS,
)
from adequacy.console import (
    print_findings,
    print_graph_summary,
    print_next_steps,
    print_recruitment,
    print_result,
    print_whatif,
    progress_bar,
    worst_rule,
)
from adequacy.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Network adequacy analysis: can members reach enough providers by road?",
)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEMO_OUTPUT = Path("demo-output")  # the demo's runs: DEMO_OUTPUT/<region> unless --out


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
    quiet: QUIET = False,
) -> None:
    """Build (or load from cache) a road graph and print its summary."""
    from adequacy.network import load_road_graph

    bar, update = progress_bar(quiet=quiet)
    with bar:
        update("loading road graph", 0, 0)
        road_graph = load_road_graph(source, class_column=class_column, profile=profile)
    print_graph_summary(road_graph)


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
    update,
    extra=None,
    stage=None,
    cluster=None,
    chunk_members=None,
):
    """Evaluate and write the run folder, reporting each stage to ``update``; returns
    what :func:`_print_run` prints (call it once the progress bar is closed)."""
    from contextlib import nullcontext

    from adequacy.engine import evaluate
    from adequacy.findings import deficiencies, outside_candidates
    from adequacy.network import load_road_graph
    from adequacy.runs import write_run
    from adequacy.runs.write import staging

    # the run folder is staged from the start: members' results stream into it, and a
    # failure anywhere leaves no output folder (and no earlier one touched)
    with nullcontext(stage) if stage is not None else staging(out) as tmp:
        if cluster is not None and cluster.graphs == "extract":  # workers cut their own
            graph, cluster = network, replace(cluster, profile=profile)
        else:
            update("loading road graph", 0, 0)
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
            results_path=tmp / "members.parquet",  # written chunk by chunk, never all in memory
            cluster=cluster,
            **({"chunk_members": chunk_members} if chunk_members else {}),
        )
        if evaluation.partitions:  # which partitions judged whom (no timings: bytes stay equal)
            extra = {
                **(extra or {}),
                "partitions": [
                    {"name": p.name, "members": p.members, "graph_nodes": p.nodes}
                    for p in evaluation.partitions
                ],
            }
        update("deficiency workpaper", 0, 0)
        if evaluation.graph is not None:
            found = deficiencies(evaluation, supply=supply)
            outside, by_county = outside_candidates(evaluation, supply=supply)
        else:  # no graph here: made on the workers, group by group
            from adequacy.distributed.findings import partitioned_findings

            found, outside, by_county = partitioned_findings(
                evaluation, cluster, supply=supply, beside=tmp, progress=update
            )
        findings = {**found.tables(), "outside_candidates": outside, "outside_by_county": by_county}
        update("writing outputs", 0, 0)
        paths = write_run(
            evaluation,
            out,
            command=command,
            extra=extra,
            findings=findings,
            stage=tmp,
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
    return evaluation, found, by_county, paths


def _print_run(evaluation, found, by_county, paths, out: Path) -> None:
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
    workers: WORKERS = None,
    scheduler: SCHEDULER = None,
    partition_by: PARTITION_BY = "county",
    partitions: PARTITIONS = None,
    work_dir: WORK_DIR = None,
    partition_graphs: PARTITION_GRAPHS = "clip",
    chunk_members: CHUNK_MEMBERS = None,
    force: FORCE = False,
    quiet: QUIET = False,
) -> None:
    """Evaluate a provider network against access standards and write the results."""
    from adequacy.distributed import cluster_options
    from adequacy.runs.write import check_out

    cluster = cluster_options(
        workers, scheduler, partition_by, partitions, work_dir, graphs=partition_graphs
    )
    check_out(
        out,
        force=force,
        inputs=[
            members, providers, claims, regions, languages, survey, supply, network, standards,
            hsd_reference, cms_crosswalk,
        ],
        kind="run",
    )  # fmt: skip
    bar, update = progress_bar(quiet=quiet)
    with bar:
        result = _run(
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
            update=update,
            cluster=cluster,
            chunk_members=chunk_members,
        )
    _print_run(*result, out)


@app.command()
@_friendly
def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder (default: demo-output/<region>, or "
            "demo-output/<region>-<standards> with other --standards than seed-manual)"
        ),
    ] = None,
    region: Annotated[str, typer.Option(help="boston (urban) or eastern-idaho (rural)")] = "boston",
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data")] = 2026,
    standards: Annotated[
        str, typer.Option(help="Standards YAML or built-in set name")
    ] = "seed-manual",
    period: Annotated[str | None, typer.Option(help="Report quarter, e.g. 2026Q4")] = None,
    profile: PROFILE = None,
    distance_basis: DISTANCE_BASIS = None,
    force: FORCE = False,
    quiet: QUIET = False,
) -> None:
    """Build the demo scenario (real roads and hospitals, synthetic members), evaluate it,
    and print the commands to run next on its output."""
    from adequacy.demo import REGIONS, WHATIF_EXAMPLE, build_demo, example_whatif
    from adequacy.runs.write import check_out, staging

    if region not in REGIONS:
        raise InputError(f"unknown demo region {region!r}; use one of: {', '.join(REGIONS)}")
    if out is None:  # one folder per region (and standards), so that no demo replaces another
        out = DEMO_OUTPUT / (
            region if standards == "seed-manual" else f"{region}-{Path(standards).stem}"
        )
        if (DEMO_OUTPUT / "manifest.json").is_file():
            typer.echo(
                f"note: {DEMO_OUTPUT}/ holds a run of an earlier version; the demo now writes "
                f"{out}/ (remove the old files of {DEMO_OUTPUT}/ once you no longer need them)",
                err=True,
            )
    check_out(out, force=force, kind="run")
    cms = _is_cms(standards)
    bar, update = progress_bar(quiet=quiet)
    with bar:
        update("building demo scenario", 0, 0)
        scenario = build_demo(region, seed=seed, cms=cms)
        spec = scenario.region
        with staging(out) as stage:  # the inputs are part of the run folder, published whole
            update("writing demo inputs", 0, 0)
            inputs = scenario.write_inputs(stage / "inputs")
            whatif_text, whatif_name = example_whatif(scenario)
            (stage / WHATIF_EXAMPLE).write_text(whatif_text)
            result = _run(
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
                update=update,
            )
    typer.echo(f"demo region {spec.title}; seed {seed}; synthetic inputs in {out / 'inputs'}/")
    _print_run(*result, out)
    print_next_steps(
        out,
        period=period or "2026Q4",
        scenario=out / WHATIF_EXAMPLE,
        scenario_name=whatif_name,
        recruit=worst_rule(result[0]),
        hsd=cms,
    )


def _is_cms(standards: str) -> bool:
    """Whether a --standards value builds its rules from CMS's reference file."""
    from adequacy.engine.cms_ma import is_recipe
    from adequacy.engine.standards import load_standards

    return is_recipe(load_standards(standards))


def _base(run_dir: Path, update):
    """The run folder's evaluation and manifest, its inputs evaluated again."""
    from adequacy.runs import evaluate_run

    update("reading the run folder", 0, 0)
    return evaluate_run(run_dir, progress=update)


def _write_base_tables(out, tables, evaluation, base, manifest, extra, *, parquet) -> None:
    """Write tables made from a base run, each marked synthetic or not, with a manifest."""
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


@app.command()
@_friendly
def whatif(
    base: Annotated[Path, typer.Option(help="Run folder of the base evaluation")],
    scenario: Annotated[Path, typer.Option(help="Scenario file (YAML or JSON)")],
    out: Annotated[Path, typer.Option(help="Output folder")],
    force: FORCE = False,
    quiet: QUIET = False,
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
    bar, update = progress_bar(quiet=quiet)
    with bar:
        evaluation, manifest = _base(base, update)
        update("applying the scenario", 0, 0)
        result = run_whatif(evaluation, plan)
        update("continuity of care", 0, 0)
        members, panels = continuity_of_care(result)
        tables = {
            "delta": result.delta,
            "member_changes": result.changes,
            "continuity_members": members,
            "continuity_summary": panels,
            "pending_terminations": result.pending,
        }
        update("writing outputs", 0, 0)
        _write_base_tables(
            out,
            tables,
            evaluation,
            base,
            manifest,
            {"scenario": plan.to_dict(), "timings_seconds": result.timings},
            parquet=("delta", "member_changes", "continuity_members"),
        )
    print_whatif(evaluation, plan, result, panels)
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
    quiet: QUIET = False,
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

    bar, update = progress_bar(quiet=quiet)
    with bar:
        evaluation, manifest = _base(base, update)
        update("ranking candidates", 0, 0)
        result = rank_candidates(
            evaluation, rule, language=language, candidates=candidates, top=top
        )
        tables = {"picks": result.picks, "county_targets": result.counties}
        update("writing outputs", 0, 0)
        _write_base_tables(
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
    print_recruitment(evaluation, result)
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
    quiet: QUIET = False,
) -> None:
    """Write the quarterly report (HTML, workbook, GeoPackage) of a run folder."""
    from adequacy.runs.write import check_out

    check_out(out, force=force, inputs=[run / "manifest.json", previous], kind="report")
    import json

    from adequacy.report import build_report

    bar, update = progress_bar(quiet=quiet)
    with bar:
        update("writing the report", 0, 0)
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
    names = [p.name for p in paths.values()]
    drafts = [n for n in names if n.startswith("exception-")]
    listed = [n for n in names if n not in drafts]
    if drafts:
        listed.append(f"{len(drafts)} exception-request draft(s) (exception-*.html)")
    typer.echo(f"wrote {', '.join(listed)} to {out}/")


@app.command()
@_friendly
def hsd(
    run: Annotated[Path, typer.Option(help="Run folder of a --standards cms-ma evaluation")],
    out: Annotated[Path, typer.Option(help="Output folder for the HSD tables")],
    force: FORCE = False,
    quiet: QUIET = False,
) -> None:
    """Write CMS's Provider and Facility HSD tables (CSV and XLSX) of a Medicare Advantage run."""
    from adequacy.runs.hsd_run import hsd_of_evaluation
    from adequacy.runs.hsd_tables import HSD_KIND, earlier_hsd, write_hsd_tables
    from adequacy.runs.write import check_out

    check_out(out, force=force or earlier_hsd(out), inputs=[run], kind=HSD_KIND)
    bar, update = progress_bar(quiet=quiet)
    with bar:
        evaluation, manifest = _base(run, update)
        update("HSD tables", 0, 0)
        reference = (manifest.get("inputs") or {}).get("hsd_reference") or {}
        providers, facilities, notes = hsd_of_evaluation(evaluation, reference.get("path"))
        update("writing outputs", 0, 0)
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
