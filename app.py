"""adequacy in the browser: maps of gaps by county, drill-down, languages and what-if.

Run with ``streamlit run app.py --server.fileWatcherType none`` (streamlit's file
watcher would watch this folder, ``.venv`` included, and slow every page). It
opens on the bundled Boston demo: the title and a status line first, then each
stage named as it loads. Uploaded files are read in memory and kept in this
browser session only: nothing of them is written to disk, logged or sent anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import streamlit as st

# first paint: the title and a status line, before any heavy import or work
st.set_page_config(page_title="adequacy: network adequacy", layout="wide")
st.title("Network adequacy")
SUBTITLE = st.empty()  # the standards and the road data, once known
STATUS = st.status("Loading the analysis library…", expanded=False)

import pandas as pd  # noqa: E402 - after the first paint

from adequacy.demo import REGIONS  # noqa: E402
from adequacy.errors import InputError  # noqa: E402
from adequacy.frontend import whatif_view  # noqa: E402
from adequacy.frontend.appointments_view import appointments_page  # noqa: E402
from adequacy.frontend.deficiencies_view import deficiencies_page  # noqa: E402
from adequacy.frontend.downloads_view import downloads_page  # noqa: E402
from adequacy.frontend.pages import (  # noqa: E402
    county_rules_table,
    county_table,
    failing_members_table,
    headline,
    language_page,
)
from adequacy.frontend.sources import (  # noqa: E402
    builtin_standards_titles,
    bundled_roads,
    demo_class_column,
    demo_regions,
    service_area_note,
    speed_profiles,
)
from adequacy.frontend.status import Stages  # noqa: E402
from adequacy.frontend.uploads import digest, read_upload, with_service_area  # noqa: E402

STAGES = Stages(STATUS)
SHOWN: dict[str, str | None] = {"demo_region": None}  # what this run shows (the downloads')
BUILTIN_STANDARDS = builtin_standards_titles()
ROADS = bundled_roads()
OTHER_ROADS = "Another file on this server…"
HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# cached work: the graph and the demo evaluations are shared, uploads are not
# ---------------------------------------------------------------------------
# (the status line names each stage; no spinner of their own)
@st.cache_resource(show_spinner=False)
def road_graph(path: str, class_column: str | None, profile: str | None = None):
    from adequacy import load_road_graph

    # absolute paths stay; profile None: the source's default (calibrated for OSM)
    return load_road_graph(HERE / path, class_column=class_column, profile=profile)


@st.cache_resource(show_spinner=False)
def demo_scenario(region: str):
    from adequacy.demo import build_demo

    return build_demo(region)


@st.cache_resource(show_spinner=False)
def demo_evaluation(region: str, standards: str, profile: str | None = None):
    from adequacy import evaluate

    spec = REGIONS[region]
    graph = road_graph(str(spec.roads.relative_to(HERE)), spec.class_column, profile)
    scenario = demo_scenario(region)
    return evaluate(
        scenario.members,
        scenario.providers,
        graph,
        standards,
        claims=scenario.claims,
        survey=scenario.survey,
        regions=scenario.regions,
    )


def _upload_table(upload, what: str) -> pd.DataFrame | None:
    """An uploaded file as a table, read in memory (None when nothing was uploaded)."""
    return None if upload is None else read_upload(upload.name, upload.getvalue(), what)


def uploaded_evaluation(files: dict, road: str, standards, profile: str | None = None):
    """Evaluate uploaded tables; kept in this session's state only."""
    from adequacy import evaluate

    key = digest(
        *(f.getvalue() if f is not None else b"-" for f in files.values()), str(road), str(profile)
    )
    cache = st.session_state.setdefault("_uploaded", {})
    if key not in cache:
        STAGES("Reading the uploads")
        tables = {name: _upload_table(f, name) for name, f in files.items()}
        if tables["members"] is None or tables["providers"] is None:
            raise InputError("upload at least a members file and a providers file")
        tables, found = with_service_area(tables, standards)  # no polygons: their counties
        path, class_column = ROADS[road] if isinstance(road, str) else road
        STAGES("Loading the road graph")
        graph = road_graph(path, class_column, profile)
        cache.clear()  # one uploaded evaluation per session
        evaluation = evaluate(
            tables["members"], tables["providers"], graph, standards,
            claims=tables["claims"], survey=tables["survey"], regions=tables["regions"],
            progress=STAGES.progress("Evaluating"),
        )  # fmt: skip
        cache[key] = evaluation, service_area_note(evaluation) if found else None
    evaluation, note = cache[key]
    if note:
        st.info(note)
    return evaluation


def run_folder_evaluation(folder: str):
    """Evaluate a run folder's inputs again; kept in this session's state only (members
    are personal data), and only for folders under ``ADEQUACY_RUNS_ROOT`` (default:
    the folder the app was started in)."""
    from adequacy.runs import evaluate_run

    root = Path(os.environ.get("ADEQUACY_RUNS_ROOT", os.getcwd())).resolve()
    path = Path(folder).expanduser().resolve()
    if path != root and root not in path.parents:
        raise InputError(
            f"{folder}: only run folders under {root} can be opened here "
            "(set ADEQUACY_RUNS_ROOT when starting the app to allow another folder)"
        )
    manifest = path / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.exists() else 0.0
    key = digest(str(path), str(stamp))
    cache = st.session_state.setdefault("_run_folder", {})
    if key not in cache:
        cache.clear()
        cache[key] = evaluate_run(path, progress=STAGES.progress("Evaluating the run again"))[0]
    return cache[key]


# ---------------------------------------------------------------------------
# sidebar: data in
# ---------------------------------------------------------------------------
def profile_choice(class_column: str | None) -> str | None:
    """The drive-time profile, where the road source offers a choice (OpenStreetMap)."""
    choices = speed_profiles(class_column)
    if len(choices) < 2:
        return None
    label = st.sidebar.selectbox("Drive times", list(choices), key="profile")
    return choices[label]


def wait_for(message: str) -> NoReturn:
    """Say what the page needs to go on, in the status line and the page, and stop."""
    STAGES.done(message)
    st.info(message)
    st.stop()


def sidebar():
    st.sidebar.title("adequacy")
    st.sidebar.caption("Can members reach enough providers by road?")
    source = st.sidebar.radio(
        "Data", ["Demo region", "Upload files", "Previous output folder"], key="source"
    )
    label = st.sidebar.selectbox("Standards", list(BUILTIN_STANDARDS), key="standards")
    standards = BUILTIN_STANDARDS[label]
    std_upload = st.sidebar.file_uploader("…or a standards YAML", type=["yaml", "yml"])
    if std_upload is not None:
        import yaml

        from adequacy.engine import load_standards

        try:
            data = yaml.safe_load(std_upload.getvalue())
        except yaml.YAMLError as exc:
            raise InputError(f"{std_upload.name}: not valid YAML ({exc.problem})") from None
        standards = load_standards(data)
    if source == "Demo region":
        regions = demo_regions()
        region = st.sidebar.selectbox("Region", list(regions), key="region",
                                      format_func=regions.get)  # fmt: skip
        profile = profile_choice(demo_class_column(region))
        SHOWN["demo_region"] = region
        STAGES("Loading the road graph")
        spec = REGIONS[region]
        graph = road_graph(str(spec.roads.relative_to(HERE)), spec.class_column, profile)
        STAGES("Building the demo")
        demo = demo_scenario(region)
        if not isinstance(standards, str):
            from adequacy import evaluate

            return evaluate(
                demo.members, demo.providers, graph, standards,
                claims=demo.claims, regions=demo.regions, survey=demo.survey,
                progress=STAGES.progress("Evaluating"),
            )  # fmt: skip
        STAGES("Evaluating")
        return demo_evaluation(region, standards, profile)
    if source == "Upload files":
        st.sidebar.caption(
            "Files stay in this session's memory only: nothing is written, logged or sent."
        )
        files = {
            "members": st.sidebar.file_uploader("Members", type=["csv", "parquet", "gpkg"]),
            "providers": st.sidebar.file_uploader("Providers", type=["csv", "parquet", "gpkg"]),
            "claims": st.sidebar.file_uploader("Claims (optional)", type=["csv", "parquet"]),
            "regions": st.sidebar.file_uploader(
                "County polygons (optional)", type=["gpkg", "geojson"]
            ),
            "survey": st.sidebar.file_uploader(
                "Appointment survey (optional)", type=["csv", "parquet"]
            ),
        }
        road = st.sidebar.selectbox("Road network", [*ROADS, OTHER_ROADS], key="road")
        if road == OTHER_ROADS:
            path = st.sidebar.text_input(
                "Road network file on this server (.osm.pbf, .graphml, road lines)"
            )
            column = st.sidebar.text_input("Road-class column (road-line files)", "")
            if not path:
                wait_for("Give the path of a road network file on the server.")
            road = (path, column or None)
        profile = profile_choice((ROADS[road] if isinstance(road, str) else road)[1])
        if files["members"] is None or files["providers"] is None:
            wait_for("Upload a members file and a providers file to evaluate them.")
        return uploaded_evaluation(files, road, standards, profile)
    folder = st.sidebar.text_input("Run folder (the --out of adequacy evaluate/demo)")
    if not folder:
        wait_for("Give the folder of an earlier run.")
    return run_folder_evaluation(folder)


# ---------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------
def rule_choice(evaluation):
    rules = evaluation.standards.rules
    labels = {r.id: f"{r.label} ({r.describe().split(';')[0]})" for r in rules}
    rule_id = st.sidebar.selectbox(
        "Rule", [r.id for r in rules], format_func=labels.get, key="rule"
    )
    rule = evaluation.standards.rule(rule_id)
    languages = [""]
    if rule.languages and len(evaluation.language_summary):
        languages += sorted(evaluation.language_summary["language"].unique())
    language = st.sidebar.selectbox(
        "Members and providers",
        languages,
        format_func=lambda x: "all members" if not x else f"{x} (language-concordant)",
        key="language",
    )
    return rule_id, language


def map_page(evaluation, rule_id: str, language: str) -> None:
    from adequacy.frontend.maps import county_map

    if evaluation.regions is None:
        st.info("No county polygons: the map needs regions.")
        return
    fig = county_map(evaluation, rule_id, language)
    event = st.plotly_chart(
        fig, width="stretch", key="county_map", on_select="rerun", selection_mode="points"
    )
    for point in _new_clicks("county_map", event):
        if point.get("location"):
            st.session_state["county"] = point["location"]  # the drill-down shows it
    st.caption("Click a county to open it in the drill-down tab.")
    county_table(st, evaluation, rule_id, language)


def _new_clicks(key: str, event) -> list[dict]:
    """Points clicked on a chart since the last run (a selection persists across reruns)."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    seen = st.session_state.setdefault("_clicks_seen", {})
    signature = repr(points)
    if not points or seen.get(key) == signature:
        return []
    seen[key] = signature
    return points


def drill_page(evaluation, rule_id: str, language: str, *, shown: bool = True) -> None:
    """The county drill-down; its map of points is drawn only while the tab is ``shown``
    (a map in a hidden tab would slow the page's first paint)."""
    from adequacy.frontend.maps import points_map

    regions = evaluation.regions
    names = dict(zip(regions["fips"], regions["name"], strict=True))
    fips = st.selectbox(
        "County", list(regions["fips"]), format_func=lambda f: f"{names[f]} ({f})", key="county"
    )
    event = None
    if shown:
        event = st.plotly_chart(
            points_map(evaluation, rule_id, fips, language=language),
            width="stretch",
            key="points_map",
            on_select="rerun",
            selection_mode="points",
        )
    st.caption(
        "Click a provider to terminate it in the what-if tab; click a member's point to "
        "place a new provider there."
    )
    in_network = set(evaluation.providers.loc[evaluation.providers["in_network"], "provider_id"])
    for point in _new_clicks("points_map", event):
        pid = point.get("customdata")
        if isinstance(pid, list):
            pid = pid[0] if pid else None
        if pid in in_network:
            chosen = st.session_state.get("terminate", [])
            if pid not in chosen:
                st.session_state["terminate"] = [*chosen, pid]
        elif point.get("lat") is not None and point.get("lon") is not None:
            st.session_state["add_lat"] = round(float(point["lat"]), 5)
            st.session_state["add_lon"] = round(float(point["lon"]), 5)
            st.session_state["add_one"] = True
    st.subheader("Every rule in this county")
    county_rules_table(st, evaluation, fips)
    failing_members_table(st, evaluation, rule_id, language, fips)


def whatif_page(evaluation, rule_id: str, language: str) -> None:
    whatif_view.whatif_page(st, evaluation, rule_id, language, new_clicks=_new_clicks)


UNEXPECTED = (
    "An unexpected problem ({name}) stopped this page. Nothing of your data was shown "
    "or logged; please report it with the steps that led here."
)


def _show(exc: Exception) -> None:
    """One line for any exception at the page boundary: the package's own message
    (written to name files and rows, never cell values), else only the error's type,
    since its text could hold a cell of an upload. Nothing is logged."""
    STAGES.done("Stopped: see the message below", error=True)
    if isinstance(exc, InputError):
        st.error(str(exc))
    else:
        st.error(UNEXPECTED.format(name=type(exc).__name__))


def main() -> None:
    try:
        evaluation = whatif_view.shown_evaluation(sidebar())
        rule_id, language = rule_choice(evaluation)
    except Exception as exc:  # noqa: BLE001 - the page boundary (st.stop is not an Exception)
        _show(exc)
        st.stop()
    std = evaluation.standards
    SUBTITLE.caption(
        f"{std.title or std.name} ({std.label}) · road data: {evaluation.graph.profile_label}"
    )
    STAGES("Drawing the map")
    headline(st, evaluation, rule_id, language)
    tabs = st.tabs(
        [
            "County map",
            "County drill-down",
            "Deficiencies",
            "Languages",
            "Appointments",
            "What-if",
            "Downloads",
        ],
        key="tab",
        on_change="rerun",  # a tab knows whether it is open: maps are drawn only when seen
    )
    try:
        with tabs[0]:
            map_page(evaluation, rule_id, language)
        STAGES("Filling the other tabs")
        with tabs[1]:
            drill_page(evaluation, rule_id, language, shown=bool(tabs[1].open))
        with tabs[2]:
            deficiencies_page(st, evaluation)
        with tabs[3]:
            language_page(st, evaluation)
        with tabs[4]:
            appointments_page(st, evaluation.appointment_compliance)
        with tabs[5]:
            whatif_page(evaluation, rule_id, language)
        with tabs[6]:
            downloads_page(st, evaluation, rule_id, language, demo_region=SHOWN["demo_region"])
    except Exception as exc:  # noqa: BLE001 - the page boundary (st.stop is not an Exception)
        _show(exc)
        return
    members = int(evaluation.members["in_service_area"].sum())
    STAGES.done(f"Ready in {STAGES.seconds():.1f} s: {members:,} members in the service area")


main()
