"""The app's what-if view, built for network managers.

Find providers by name, type, specialty and county and pick those to terminate
(in-network) or to join (out-of-network candidates); add new sites by clicking
the map (a member's point) or in a small table; the scenario runs on every
change through :func:`adequacy.whatif.run_whatif`, with the checks of the
command line's scenario reader (a site off the roads is refused in one line).
It says why a new site changes nothing (:func:`adequacy.whatif.why_unchanged`),
saves and loads the scenario file ``adequacy whatif`` reads, and builds the
scenario's quarterly report.

A toggle (``st.session_state["view_scenario"]``) switches the app between the
base network and the scenario: :func:`shown_evaluation` gives the evaluation the
other views draw.

Owns: ``whatif_page``, ``shown_evaluation``, ``scenario_report_html`` and the
scenario's state in the browser session. Uses: :mod:`adequacy.whatif`, the
scenario files of :mod:`adequacy.inputs.scenario`, the app's maps, the run
folder writer and the report; streamlit, given by the caller.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.evaluate import Evaluation
from adequacy.engine.standards import Rule
from adequacy.errors import InputError
from adequacy.frontend.uploads import digest
from adequacy.inputs.scenario import Scenario, read_scenario
from adequacy.report.formatting import integer
from adequacy.whatif import WhatIf, continuity_of_care, recruit, run_whatif, why_unchanged

#: Session keys: the toggle other views read, the last scenario run, the new-site table.
VIEW_KEY = "view_scenario"
RESULT_KEY = "_whatif"
SITES_KEY = "whatif_sites"
EDITOR_KEY = "whatif_sites_editor"
META_KEY = "_whatif_meta"  # a loaded file's name, description, as_of and termination dates
PENDING_KEY = "_whatif_pending"  # map clicks, applied before the widgets of the next run
LOADED_KEY = "_whatif_loaded"
SITE_COLUMNS = ["provider_id", "provider_type", "specialty", "lat", "lon", "languages"]
ANY = "any"
SHOWN_ROWS = 200

Clicks = Callable[[str, Any], list[dict]]


def shown_evaluation(
    base_evaluation: Evaluation, state: MutableMapping[str, Any] | None = None
) -> Evaluation:
    """The evaluation to draw: the scenario's when the toggle is on and a scenario of this
    base has run, else ``base_evaluation``. ``state``: the session (default streamlit's)."""
    if state is None:
        import streamlit as st

        state = st.session_state
    record = state.get(RESULT_KEY)
    if not state.get(VIEW_KEY) or record is None or record["result"].base is not base_evaluation:
        return base_evaluation
    record["shown"] = record["result"].evaluation
    return record["shown"]


def _base_of(evaluation: Evaluation, state: MutableMapping[str, Any]) -> Evaluation:
    """The base network of an evaluation the app may have swapped for the scenario's."""
    record = state.get(RESULT_KEY)
    if record is not None and record.get("shown") is evaluation:
        return record["result"].base
    return evaluation


def whatif_page(
    st: Any, evaluation: Evaluation, rule_id: str, language: str, *, new_clicks: Clicks
) -> None:
    """Draw the what-if tab with ``st``; ``new_clicks(key, event)`` gives a chart's new
    clicks (the app's own, so that every map reads clicks the same way)."""
    state = st.session_state
    base = _base_of(evaluation, state)
    rule = base.standards.rule(rule_id)
    before = (state.get(RESULT_KEY) or {}).get("key")
    st.caption(
        "Terminate providers, bring out-of-network ones in and add new sites; the scenario "
        "updates every county and rule incrementally as you go."
    )
    st.toggle(
        "Show: scenario (off: base network)",
        key=VIEW_KEY,
        help="The headline, the maps and the tables of every tab show the network after "
        "the scenario",
    )
    _apply_pending(state)
    _load(st, base)
    terminate, join = _provider_search(st, base)
    st.subheader("New sites")
    sites = _site_table(st, base)
    clicked = _site_map(
        st, base, shown_evaluation(base, state), rule_id, language, new_clicks, sites
    )
    _queue_clicks(st, base, rule, sites, *clicked)
    spec = _spec(state, terminate, join, sites)
    result = None
    if spec["join"] or spec["terminate"] or spec["add"]:
        result = _run(st, base, spec)
    else:
        state.pop(RESULT_KEY, None)
        state.pop("scenario_json", None)
        st.info("Choose providers to terminate or to join, or add a site.")
    if state.get(VIEW_KEY) and (state.get(RESULT_KEY) or {}).get("key") != before:
        st.rerun()  # the headline and the other tabs were drawn from the previous scenario
    if result is not None:
        _results(st, state[RESULT_KEY])
    _recruitment(st, base, rule, language)


# ---------------------------------------------------------------------------
# the scenario's parts: providers found by search, new sites, a loaded file
# ---------------------------------------------------------------------------
def _apply_pending(state: MutableMapping[str, Any]) -> None:
    """Map clicks of the previous run: terminations and the site table with new rows."""
    pending = state.pop(PENDING_KEY, None)
    if not pending:
        return
    if pending.get("terminate"):
        chosen = list(state.get("terminate", []))
        state["terminate"] = chosen + [p for p in pending["terminate"] if p not in chosen]
    if pending.get("sites") is not None:
        state[SITES_KEY] = pending["sites"]
        state.pop(EDITOR_KEY, None)  # the table starts again from the rows with the new one


def _provider_search(st: Any, base: Evaluation) -> tuple[list[str], list[str]]:
    """Search by name or ID, type, specialty and county; pick in-network providers to
    terminate and out-of-network ones to join (multi-select, ``terminate`` and ``join``)."""
    state = st.session_state
    p = base.providers
    counties = _county_names(base)
    st.subheader("Providers")
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    text = c1.text_input("Search providers", key="whatif_search", placeholder="name or ID")
    kind = c2.selectbox(
        "Type", [ANY, *sorted(p["provider_type"].unique())], key="whatif_search_type"
    )
    specialties = sorted(s for s in p["specialty"].fillna("").astype(str).unique() if s)
    specialty = c3.selectbox("Specialty", [ANY, *specialties], key="whatif_search_specialty")
    fips = c4.selectbox(
        "County",
        [ANY, *counties],
        key="whatif_search_county",
        format_func=lambda f: counties.get(f, f),
    )
    found = p[_matches(p, text, kind, specialty, fips)]
    table = found[["provider_id", "name", "provider_type", "specialty", "county_fips"]].assign(
        county=found["county_fips"].map(counties).fillna("outside the service area"),
        network=np.where(found["in_network"], "in network", "out of network"),
    )
    st.caption(
        f"{integer(len(found))} provider sites match"
        + (f"; the first {SHOWN_ROWS} are listed" if len(found) > SHOWN_ROWS else "")
    )
    st.dataframe(table.head(SHOWN_ROWS), hide_index=True, width="stretch")
    labels = {
        pid: f"{pid} · {name} · {kind}{f' ({spec})' if spec else ''} · {counties.get(f, f)}"
        for pid, name, kind, spec, f in zip(
            p["provider_id"],
            p["name"].fillna(""),
            p["provider_type"],
            p["specialty"].fillna(""),
            p["county_fips"],
            strict=True,
        )
    }
    in_net = set(p.loc[p["in_network"], "provider_id"])
    out_net = set(p.loc[~p["in_network"], "provider_id"])
    chosen = {}
    for key, pool in (("terminate", in_net), ("join", out_net)):
        state[key] = [pid for pid in state.get(key, []) if pid in pool]  # e.g. a new site clicked
        shown = set(found["provider_id"]) & pool
        chosen[key] = sorted(shown | set(state[key]))
    c1, c2 = st.columns(2)
    terminate = c1.multiselect(
        "Terminate (in-network)",
        chosen["terminate"],
        key="terminate",
        format_func=labels.get,
        help="Narrow the list with the search above; a PCP's panel is re-homed below",
    )
    join = c2.multiselect(
        "Join (out-of-network)",
        chosen["join"],
        key="join",
        format_func=labels.get,
        help="Out-of-network providers of the roster who join the network",
    )
    return list(terminate), list(join)


def _matches(p: pd.DataFrame, text: str, kind: str, specialty: str, fips: str) -> np.ndarray:
    """Providers whose name or ID has a word starting with each word of ``text`` (any
    case: 'lee 5' finds 'Lee Clinic 5' and 'Lee Clinic 51', not 'Ashlee 15'), of the
    type, specialty and county chosen (``any``: all)."""
    mask = np.ones(len(p), dtype=bool)
    haystack = (p["provider_id"].astype(str) + " " + p["name"].fillna("").astype(str)).str.lower()
    for word in text.lower().split():
        mask &= haystack.str.contains(r"(?<!\w)" + re.escape(word), regex=True).to_numpy()
    for column, value in (("provider_type", kind), ("specialty", specialty), ("county_fips", fips)):
        if value != ANY:
            mask &= (p[column].fillna("").astype(str) == value).to_numpy()
    return mask


def _county_names(evaluation: Evaluation) -> dict[str, str]:
    regions = evaluation.regions
    if regions is None:
        return {}
    return {str(f): f"{n} ({f})" for f, n in zip(regions["fips"], regions["name"], strict=True)}


def _site_table(st: Any, base: Evaluation) -> pd.DataFrame:
    """The new sites, one row each, editable (added rows too)."""
    frame = st.session_state.get(SITES_KEY)
    if frame is None:
        frame = _site_frame(pd.DataFrame())
    kinds, specialties = _kinds(base)
    column = st.column_config
    edited = st.data_editor(
        frame,
        key=EDITOR_KEY,
        num_rows="dynamic",
        width="stretch",
        column_config={
            "provider_id": column.TextColumn("ID", help="left blank: NEW-1, NEW-2, …"),
            "provider_type": column.SelectboxColumn("Type", options=kinds),
            "specialty": column.SelectboxColumn("Specialty", options=specialties),
            "lat": column.NumberColumn("Latitude", format="%.5f", min_value=-90, max_value=90),
            "lon": column.NumberColumn("Longitude", format="%.5f", min_value=-180, max_value=180),
            "languages": column.TextColumn(
                "Languages", help="separated by ;, e.g. English;Spanish"
            ),
        },
    )
    st.caption("Add rows here, or click a member's point on the map below or in the drill-down.")
    return edited


def _kinds(base: Evaluation) -> tuple[list[str], list[str]]:
    """The provider types and specialties a new site can have."""
    p = base.providers
    kinds = sorted(set(p["provider_type"]) | set(base.standards.provider_types))
    return kinds, sorted(s for s in p["specialty"].fillna("").astype(str).unique() if s)


def _site_map(
    st: Any,
    base: Evaluation,
    shown: Evaluation,
    rule_id: str,
    language: str,
    new_clicks: Clicks,
    sites: pd.DataFrame,
) -> tuple[list[tuple[float, float]], list[str]]:
    """A county's members failing the rule, its providers and the new sites; returns the
    places of members clicked (new sites there) and the providers clicked (terminated)."""
    from adequacy.frontend.maps import points_map, rule_rows

    if shown.regions is None:
        st.caption("No county polygons: add sites in the table.")
        return [], []
    counties = _county_names(shown)
    rows = rule_rows(shown, rule_id, language)
    failing = [str(f) for f in rows.loc[rows["verdict"] == "fail", "county_fips"]]
    order = failing + [f for f in counties if f not in failing]
    fips = st.selectbox(
        "County on the map", order, key="whatif_county", format_func=lambda f: counties.get(f, f)
    )
    fig = points_map(shown, rule_id, fips, language=language)
    placed = sites.dropna(subset=["lat", "lon"])
    if len(placed):
        import plotly.graph_objects as go

        fig.add_trace(
            go.Scattermap(
                lon=placed["lon"],
                lat=placed["lat"],
                mode="markers",
                marker={"size": 14, "color": "#1b9e77"},
                text=[f"new site {i or ''}" for i in placed["provider_id"].fillna("")],
                customdata=["new site"] * len(placed),
                hoverinfo="text",
                name="new sites",
            )
        )
    event = st.plotly_chart(
        fig, width="stretch", key="whatif_map", on_select="rerun", selection_mode="points"
    )
    st.caption(
        "Members shown fail the rule: click one to add a site at that place; click a provider "
        "to terminate it."
    )
    in_net = set(base.providers.loc[base.providers["in_network"], "provider_id"])
    places, terminate = [], []
    for point in new_clicks("whatif_map", event):
        pid = point.get("customdata")
        if isinstance(pid, list):
            pid = pid[0] if pid else None
        if isinstance(pid, str):  # a provider or a new site: only in-network ones can go
            if pid in in_net:
                terminate.append(pid)
        elif point.get("lat") is not None and point.get("lon") is not None:
            places.append((float(point["lat"]), float(point["lon"])))
    return places, terminate


def _queue_clicks(
    st: Any,
    base: Evaluation,
    rule: Rule,
    sites: pd.DataFrame,
    places: list[tuple[float, float]],
    terminate: list[str],
) -> None:
    """Clicks of this run (here, or the drill-down's ``add_lat``/``add_lon``/``add_one``)
    go to the controls before their widgets are drawn: kept, and the page run again."""
    state = st.session_state
    places = list(places)
    if state.get("add_one") and state.get("add_lat") is not None:
        places.append((float(state["add_lat"]), float(state["add_lon"])))
        state["add_one"] = False
    if not places and not terminate:
        return
    pending: dict[str, Any] = {"terminate": list(terminate)}
    if places:
        kinds, specialties = _kinds(base)
        kind = rule.provider_type if rule.provider_type in kinds else kinds[0]
        specialty = rule.specialty if rule.specialty in specialties else None
        new = pd.DataFrame(
            [
                {
                    "provider_type": kind,
                    "specialty": specialty,
                    "lat": round(lat, 5),
                    "lon": round(lon, 5),
                    "languages": "English",
                }
                for lat, lon in places
            ]
        )
        pending["sites"] = _site_frame(pd.concat([sites, new], ignore_index=True))
    state[PENDING_KEY] = pending
    st.rerun()


def _site_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Site rows with the table's columns first (a loaded file's other columns kept)."""
    frame = rows.reset_index(drop=True).copy()
    for col in SITE_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan if col in ("lat", "lon") else None
    frame["lat"] = pd.to_numeric(frame["lat"], errors="coerce")
    frame["lon"] = pd.to_numeric(frame["lon"], errors="coerce")
    return frame[SITE_COLUMNS + [c for c in frame.columns if c not in SITE_COLUMNS]]


def _site_rows(sites: pd.DataFrame) -> list[dict[str, Any]]:
    """Scenario ``add`` rows of the table: blank rows left out, blank IDs numbered NEW-1, ..."""
    rows = []
    for record in sites.to_dict("records"):
        row = {k: v for k, v in record.items() if not _blank(v)}
        if any(k in row for k in ("provider_type", "lat", "lon")):
            rows.append(row)
    used = {str(r["provider_id"]) for r in rows if "provider_id" in r}
    n = 0
    for row in rows:
        if "provider_id" not in row:
            n += 1
            while f"NEW-{n}" in used:
                n += 1
            row["provider_id"] = f"NEW-{n}"
    return [{k: v.item() if isinstance(v, np.generic) else v for k, v in r.items()} for r in rows]


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or bool(pd.isna(value))


def _spec(
    state: MutableMapping[str, Any], terminate: list[str], join: list[str], sites: pd.DataFrame
) -> dict[str, Any]:
    """The scenario as the file's mapping (see :mod:`adequacy.inputs.scenario`)."""
    meta = state.get(META_KEY) or {}
    dates = meta.get("terminate", {})
    return {
        "name": meta.get("name") or "browser scenario",
        "description": meta.get("description") or "",
        "as_of": meta.get("as_of"),
        "join": list(join),
        "terminate": [{"provider_id": pid, **dates.get(pid, {})} for pid in terminate],
        "add": _site_rows(sites),
    }


def _load(st: Any, base: Evaluation) -> None:
    """Load a scenario file (YAML or JSON, as ``adequacy whatif`` reads) into the controls,
    once per file; or start again."""
    state = st.session_state
    c1, c2 = st.columns([3, 1])
    upload = c1.file_uploader(
        "Load a scenario file", type=["yaml", "yml", "json"], key="whatif_upload"
    )
    if c2.button("Start again", key="whatif_clear", help="Clear the scenario"):
        for key in ("terminate", "join", SITES_KEY, EDITOR_KEY, META_KEY, RESULT_KEY, PENDING_KEY):
            state.pop(key, None)
        state["terminate"], state["join"] = [], []
    if upload is None:
        return
    key = digest(upload.name, upload.getvalue())
    if state.get(LOADED_KEY) == key:
        return
    state[LOADED_KEY] = key
    try:
        scenario = read_uploaded_scenario(upload.name, upload.getvalue())
    except InputError as exc:
        st.error(str(exc))
        return
    p = base.providers
    in_net = set(p.loc[p["in_network"], "provider_id"])
    out_net = set(p.loc[~p["in_network"], "provider_id"])
    state["terminate"] = [t.provider_id for t in scenario.terminate if t.provider_id in in_net]
    state["join"] = [pid for pid in scenario.join if pid in out_net]
    state[SITES_KEY] = _site_frame(scenario.add)
    state.pop(EDITOR_KEY, None)
    state[META_KEY] = {
        "name": scenario.name,
        "description": scenario.description,
        "as_of": scenario.as_of.isoformat() if scenario.as_of else None,
        "terminate": {
            t.provider_id: {
                "effective": t.effective.isoformat() if t.effective else None,
                "reason": t.reason,
            }
            for t in scenario.terminate
        },
    }
    missing = [t.provider_id for t in scenario.terminate if t.provider_id not in in_net]
    missing += [pid for pid in scenario.join if pid not in out_net]
    if missing:
        st.warning(f"{upload.name}: not in this network's roster, left out: {', '.join(missing)}")


def read_uploaded_scenario(name: str, data: bytes) -> Scenario:
    """A scenario file uploaded to the app, read by the command line's reader (its
    messages name the uploaded file)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "scenario.yaml")
        path.write_bytes(data)
        try:
            scenario = read_scenario(path)
        except InputError as exc:
            head = str(exc.args[0]).replace(str(path), name)
            raise InputError(head, [p.replace(str(path), name) for p in exc.problems]) from None
    scenario.path = name
    return scenario


def scenario_text(scenario: Scenario, suffix: str) -> str:
    """The scenario file's text (``.yaml`` or ``.json``), as :meth:`Scenario.save` writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"scenario{suffix}"
        scenario.save(path)
        return path.read_text()


# ---------------------------------------------------------------------------
# running it and what it shows
# ---------------------------------------------------------------------------
def _run(st: Any, base: Evaluation, spec: dict[str, Any]) -> WhatIf | None:
    """Run the scenario (again only when it or the base changed); None when refused."""
    state = st.session_state
    key = digest(json.dumps(spec, sort_keys=True, default=str))
    record = state.get(RESULT_KEY)
    if record is None or record["key"] != key or record["result"].base is not base:
        start = time.perf_counter()
        try:
            result = run_whatif(base, read_scenario(spec))
        except InputError as exc:  # the scenario reader's and the roster's checks
            state.pop(RESULT_KEY, None)
            state.pop("scenario_json", None)
            st.error(str(exc))
            return None
        record = {"key": key, "result": result, "ms": (time.perf_counter() - start) * 1000}
        state[RESULT_KEY] = record
        state["scenario_json"] = json.dumps(result.scenario.to_dict(), indent=2)
    st.success(f"Updated every county and rule in {record['ms']:,.0f} ms")
    return record["result"]


def _results(st: Any, record: dict[str, Any]) -> None:
    result: WhatIf = record["result"]
    if "why" not in record:
        record["why"] = why_unchanged(result)
    if record["why"]:
        st.subheader("Why some new sites change nothing")
        for line in record["why"]:
            st.info(line)
    d = result.delta
    moved = d[(d["gained"] > 0) | (d["lost"] > 0) | (d["providers_before"] != d["providers_after"])]
    st.subheader("Before and after")
    st.dataframe(
        moved[["rule", "language", "county_fips", "share_before", "share_after",
               "verdict_before", "verdict_after", "status_change", "verdict_reasons_after",
               "gained", "lost", "providers_before", "providers_after",
               "members_per_provider_before", "members_per_provider_after"]],
        hide_index=True, width="stretch",
    )  # fmt: skip
    if len(result.pending):
        st.caption("Terminations effective after the scenario's as-of date (not applied):")
        st.dataframe(result.pending, hide_index=True, width="stretch")
    _, panels = continuity_of_care(result)
    if len(panels):
        st.subheader("Continuity of care")
        st.dataframe(panels, hide_index=True, width="stretch")
    st.subheader("Save")
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Scenario file (YAML)",
        scenario_text(result.scenario, ".yaml"),
        "scenario.yaml",
        "application/yaml",
        key="whatif_yaml",
    )
    c2.download_button(
        "Scenario file (JSON)",
        scenario_text(result.scenario, ".json"),
        "scenario.json",
        "application/json",
        key="whatif_json",
    )
    if record.get("report") is None and c3.button(
        "Build the scenario's report",
        key="whatif_build_report",
        help="The quarterly report (HTML) of the network after the scenario",
    ):
        with st.spinner("Building the report…"):
            record["report"] = scenario_report_html(result)
    if record.get("report") is not None:
        c3.download_button(
            "Scenario report (HTML)",
            record["report"],
            "scenario_report.html",
            "text/html",
            key="whatif_report",
        )


def scenario_report_html(result: WhatIf) -> bytes:
    """The quarterly report (HTML) of the network after a scenario, built in memory as
    the Downloads tab builds the base's (:func:`adequacy.frontend.exports.report_files`:
    the member rows written to a temporary folder carry no member ID)."""
    from adequacy.frontend.exports import report_files

    files = report_files(
        result.evaluation,
        {},
        plan=f"What-if scenario: {result.scenario.name}",
        extra={"scenario": result.scenario.to_dict()},
    )
    return files["report.html"]


def _recruitment(st: Any, base: Evaluation, rule: Rule, language: str) -> None:
    st.subheader(f"Recruitment targets for {rule.label}")
    if st.button("Rank candidate sites", key="recruit"):
        r = recruit(base, rule.id, language=language or None, top=5)
        st.caption(f"{r.failing_members:,} members fail; candidates: {r.candidate_source}")
        if r.message:
            st.warning(r.message)
        st.dataframe(r.picks, hide_index=True, width="stretch")
        st.dataframe(r.counties, hide_index=True, width="stretch")
