"""adequacy in the browser: maps of gaps by county, drill-down, languages and what-if.

Run with ``streamlit run app.py``. It opens on the bundled Boston demo. Uploaded
files are read in memory and kept in this browser session only: nothing of
them is written to disk, logged or sent anywhere.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from adequacy.errors import InputError

st.set_page_config(page_title="adequacy: network adequacy", layout="wide")

from adequacy.frontend.appointments_view import appointments_page  # noqa: E402
from adequacy.frontend.deficiencies_view import deficiencies_page  # noqa: E402
from adequacy.frontend.sources import (  # noqa: E402 - after set_page_config
    BUNDLED_COUNTIES,
    builtin_standards_titles,
    bundled_roads,
    demo_class_column,
    demo_regions,
    speed_profiles,
)
from adequacy.frontend.uploads import digest, read_upload  # noqa: E402

BUILTIN_STANDARDS = builtin_standards_titles()
ROADS = bundled_roads()
OTHER_ROADS = "Another file on this server…"
HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# cached work: the graph and the demo evaluations are shared, uploads are not
# ---------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the road graph…")
def road_graph(path: str, class_column: str | None, profile: str | None = None):
    from adequacy import load_road_graph

    # absolute paths stay; profile None: the source's default (calibrated for OSM)
    return load_road_graph(HERE / path, class_column=class_column, profile=profile)


@st.cache_resource(show_spinner="Building and evaluating the demo…")
def demo_evaluation(region: str, standards: str, profile: str | None = None):
    from adequacy import evaluate
    from adequacy.demo import REGIONS, build_demo

    spec = REGIONS[region]
    graph = road_graph(str(spec.roads.relative_to(HERE)), spec.class_column, profile)
    scenario = build_demo(region)
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
        tables = {name: _upload_table(f, name) for name, f in files.items()}
        if tables["members"] is None or tables["providers"] is None:
            raise InputError("upload at least a members file and a providers file")
        path, class_column = ROADS[road] if isinstance(road, str) else road
        cache.clear()  # one uploaded evaluation per session
        cache[key] = evaluate(
            tables["members"],
            tables["providers"],
            road_graph(path, class_column, profile),
            standards,
            claims=tables["claims"],
            survey=tables["survey"],
            regions=tables["regions"] if tables["regions"] is not None else str(BUNDLED_COUNTIES),
        )
    return cache[key]


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
        with st.spinner("Evaluating the run's inputs again…"):
            cache[key] = evaluate_run(path)[0]
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
        if not isinstance(standards, str):
            from adequacy import evaluate
            from adequacy.demo import build_demo

            demo = build_demo(region)
            graph = road_graph(str(demo.region.roads), demo.region.class_column, profile)
            return evaluate(
                demo.members, demo.providers, graph, standards,
                claims=demo.claims, regions=demo.regions, survey=demo.survey,
            )  # fmt: skip
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
                st.info("Give the path of a road network file on the server.")
                st.stop()
            road = (path, column or None)
        profile = profile_choice((ROADS[road] if isinstance(road, str) else road)[1])
        if files["members"] is None or files["providers"] is None:
            st.info("Upload a members file and a providers file to evaluate them.")
            st.stop()
        return uploaded_evaluation(files, road, standards, profile)
    folder = st.sidebar.text_input("Run folder (the --out of adequacy evaluate/demo)")
    if not folder:
        st.info("Give the folder of an earlier run.")
        st.stop()
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


def headline(evaluation, rule_id: str, language: str) -> None:
    from adequacy.frontend.maps import rule_rows

    area = evaluation.service_area_summary
    row = area[(area["rule"] == rule_id) & (area["language"] == language)]
    rows = rule_rows(evaluation, rule_id, language)
    if evaluation.synthetic:
        st.warning(
            "SYNTHETIC DEMO DATA: members and practices are made up; roads, counties and "
            "hospitals are real."
        )
    cols = st.columns(4)
    if len(row):
        r = row.iloc[0]
        cols[0].metric(
            "Members meeting",
            f"{r['share_meeting']:.1%}",
            f"threshold {r['threshold']:.0%}",
            delta_color="off",
        )
        cols[1].metric(
            "Counties failing",
            f"{int((rows['verdict'] == 'fail').sum())} of {len(rows)}",
            "service area fails" if r["verdict"] == "fail" else "service area passes",
            delta_color="inverse" if r["verdict"] == "fail" else "normal",
        )
        ratio = r.get("members_per_provider")
        limit = r.get("ratio_limit")
        cols[2].metric(
            "Members per provider",
            "–" if pd.isna(ratio) or ratio == float("inf") else f"{ratio:,.0f}",
            "" if pd.isna(limit) else f"limit {limit:,.0f}",
            delta_color="off",
        )
    cols[3].metric("Members", f"{len(evaluation.members):,}")


def map_page(evaluation, rule_id: str, language: str) -> None:
    from adequacy.frontend.maps import county_map, rule_rows

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
    rows = rule_rows(evaluation, rule_id, language)
    st.dataframe(
        rows[
            ["county_fips", "county", "verdict", "verdict_reasons", "members", "share_meeting",
             "share_passes", "providers", "members_per_provider", "ratio_passes", "findings",
             "median_miles", "median_minutes"]
        ].sort_values(["verdict", "share_meeting"]),
        hide_index=True,
        width="stretch",
    )  # fmt: skip


def _new_clicks(key: str, event) -> list[dict]:
    """Points clicked on a chart since the last run (a selection persists across reruns)."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    seen = st.session_state.setdefault("_clicks_seen", {})
    signature = repr(points)
    if not points or seen.get(key) == signature:
        return []
    seen[key] = signature
    return points


def drill_page(evaluation, rule_id: str, language: str) -> None:
    from adequacy.frontend.maps import points_map

    regions = evaluation.regions
    names = dict(zip(regions["fips"], regions["name"], strict=True))
    fips = st.selectbox(
        "County", list(regions["fips"]), format_func=lambda f: f"{names[f]} ({f})", key="county"
    )
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
    table = pd.concat([evaluation.county_summary, evaluation.language_summary])
    st.subheader("Every rule in this county")
    st.dataframe(
        table[table["county_fips"] == fips][
            ["rule", "language", "verdict", "verdict_reasons", "members", "share_meeting",
             "threshold", "providers", "members_per_provider", "ratio_limit", "ratio_passes",
             "findings"]
        ],
        hide_index=True, width="stretch",
    )  # fmt: skip
    res = evaluation.member_results
    failing = res[
        (res["rule"] == rule_id)
        & (res["language"] == language)
        & (res["county_fips"] == fips)
        & ~res["meets"]
    ][["member_id", "miles", "minutes", "n_qualifying", "nearest_1"]]
    st.subheader(f"Members failing {rule_id}: {len(failing):,} (shown by member ID only)")
    st.dataframe(failing.head(500), hide_index=True, width="stretch")


def language_page(evaluation) -> None:
    st.subheader("Prevalent languages by county")
    st.caption(
        "Census languages with 10,000+ speakers aged 5+ per county or, without a Census "
        "table, languages spoken by enough members."
    )
    st.dataframe(evaluation.prevalent_languages, hide_index=True, width="stretch")
    lang = evaluation.language_summary
    if len(lang):
        st.subheader("Language-concordant access")
        st.dataframe(
            lang[["county_fips", "county", "language", "rule", "prevalent", "verdict",
                  "verdict_reasons", "members", "share_meeting", "providers",
                  "members_per_provider", "ratio_passes"]],
            hide_index=True, width="stretch",
        )  # fmt: skip


def whatif_page(evaluation, rule_id: str, language: str) -> None:
    from adequacy.whatif import continuity_of_care, recruit, run_whatif

    rule = evaluation.standards.rule(rule_id)
    p = evaluation.providers
    in_net = p[p["in_network"]]
    oon = p[~p["in_network"]]
    st.caption(
        "Changes apply to the evaluation above incrementally: added providers merge one "
        "bounded search into the stored labels; terminations re-run only their type."
    )
    c1, c2 = st.columns(2)
    terminate = c1.multiselect(
        "Terminate providers",
        sorted(in_net["provider_id"].unique()),
        key="terminate",
        help="in-network providers; a PCP's panel is re-homed below",
    )
    join = c2.multiselect("Out-of-network providers who join", sorted(oon["provider_id"].unique()))
    with st.expander("Add a provider at a place"):
        a1, a2, a3 = st.columns(3)
        add_type = a1.selectbox("Type", sorted(p["provider_type"].unique()), key="add_type")
        centre = evaluation.members[evaluation.members["in_service_area"]][["lat", "lon"]].mean()
        st.session_state.setdefault("add_lat", round(float(centre["lat"]), 5))
        st.session_state.setdefault("add_lon", round(float(centre["lon"]), 5))
        add_lat = a2.number_input("Latitude", format="%.5f", key="add_lat")
        add_lon = a3.number_input("Longitude", format="%.5f", key="add_lon")
        add_langs = st.text_input("Languages (;-separated)", "English")
        add = st.checkbox("Add this provider", key="add_one")
    spec = {"name": "browser scenario", "join": join, "terminate": list(terminate)}
    if add:
        spec["add"] = [
            {
                "provider_id": "NEW-1",
                "provider_type": add_type,
                "lat": add_lat,
                "lon": add_lon,
                "languages": add_langs,
                "specialty": rule.specialty if rule.provider_type == add_type else "",
            }
        ]
    if not (join or terminate or add):
        st.info("Choose providers to terminate or to join, or add one.")
    else:
        start = time.perf_counter()
        result = run_whatif(evaluation, spec)
        elapsed = time.perf_counter() - start
        st.success(f"Updated every county and rule in {elapsed * 1000:,.0f} ms")
        d = result.delta
        moved = d[
            (d["gained"] > 0) | (d["lost"] > 0) | (d["providers_before"] != d["providers_after"])
        ]
        st.dataframe(
            moved[["rule", "language", "county_fips", "share_before", "share_after",
                   "verdict_before", "verdict_after", "status_change", "verdict_reasons_after",
                   "gained", "lost", "providers_before", "providers_after",
                   "members_per_provider_before", "members_per_provider_after"]],
            hide_index=True, width="stretch",
        )  # fmt: skip
        _, panels = continuity_of_care(result)
        if len(panels):
            st.subheader("Continuity of care")
            st.dataframe(panels, hide_index=True, width="stretch")
        st.session_state["scenario_json"] = json.dumps(result.scenario.to_dict(), indent=2)
    st.subheader(f"Recruitment targets for {rule.label}")
    if st.button("Rank candidate sites", key="recruit"):
        r = recruit(evaluation, rule_id, language=language or None, top=5)
        st.caption(f"{r.failing_members:,} members fail; candidates: {r.candidate_source}")
        if r.message:
            st.warning(r.message)
        st.dataframe(r.picks, hide_index=True, width="stretch")
        st.dataframe(r.counties, hide_index=True, width="stretch")


def downloads_page(evaluation, rule_id: str, language: str) -> None:
    from adequacy.runs.write import county_wide

    flag = evaluation.synthetic
    county = evaluation.county_summary.assign(synthetic=flag)
    st.download_button(
        "County summary (CSV)", county.to_csv(index=False), "county_summary.csv", "text/csv"
    )
    if evaluation.regions is not None:
        with tempfile.TemporaryDirectory() as tmp:  # county figures only, no member rows
            path = Path(tmp) / "county_summary.gpkg"
            county_wide(evaluation).to_file(path, driver="GPKG", layer="county_summary")
            data = path.read_bytes()
        st.download_button(
            "County summary (GeoPackage)",
            data,
            "county_summary.gpkg",
            "application/geopackage+sqlite3",
        )
    res = evaluation.member_results
    failing = res[(res["rule"] == rule_id) & (res["language"] == language) & ~res["meets"]]
    st.download_button(
        f"Members failing {rule_id} (CSV)",
        failing.assign(synthetic=flag).to_csv(index=False),
        f"failing_{rule_id}.csv",
        "text/csv",
    )
    scenario = st.session_state.get("scenario_json")
    if scenario:
        st.download_button("Current what-if scenario (JSON)", scenario, "scenario.json")
    else:
        st.caption("Set up a what-if scenario to download it.")


UNEXPECTED = (
    "An unexpected problem ({name}) stopped this page. Nothing of your data was shown "
    "or logged; please report it with the steps that led here."
)


def _show(exc: Exception) -> None:
    """One line for any exception at the page boundary: the package's own message
    (written to name files and rows, never cell values), else only the error's type,
    since its text could hold a cell of an upload. Nothing is logged."""
    if isinstance(exc, InputError):
        st.error(str(exc))
    else:
        st.error(UNEXPECTED.format(name=type(exc).__name__))


def main() -> None:
    try:
        evaluation = sidebar()
        rule_id, language = rule_choice(evaluation)
    except Exception as exc:  # noqa: BLE001 - the page boundary (st.stop is not an Exception)
        _show(exc)
        st.stop()
    st.title("Network adequacy")
    std = evaluation.standards
    st.caption(
        f"{std.title or std.name} ({std.label}) · road data: {evaluation.graph.profile_label}"
    )
    headline(evaluation, rule_id, language)
    tabs = st.tabs(
        [
            "County map",
            "County drill-down",
            "Deficiencies",
            "Languages",
            "Appointments",
            "What-if",
            "Downloads",
        ]
    )
    try:
        with tabs[0]:
            map_page(evaluation, rule_id, language)
        with tabs[1]:
            drill_page(evaluation, rule_id, language)
        with tabs[2]:
            deficiencies_page(st, evaluation)
        with tabs[3]:
            language_page(evaluation)
        with tabs[4]:
            appointments_page(st, evaluation.appointment_compliance)
        with tabs[5]:
            whatif_page(evaluation, rule_id, language)
        with tabs[6]:
            downloads_page(evaluation, rule_id, language)
    except Exception as exc:  # noqa: BLE001 - the page boundary (st.stop is not an Exception)
        _show(exc)


main()
