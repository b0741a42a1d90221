"""The app's downloads: the county summary, failing members, the what-if scenario,
and on request the quarterly report (HTML, XLSX), the deficiency workpaper (XLSX)
and the exception-request drafts.

Everything is made in memory (:mod:`adequacy.frontend.exports`) and kept for the
session only; a preview shows the county summary as people read it.

Owns: ``downloads_page``. Uses: the exports, the workpaper of the deficiency
view, :func:`adequacy.runs.write.county_wide` and the app's tables; streamlit is
given by the caller.
"""

from __future__ import annotations

from typing import Any

from adequacy.frontend.deficiencies_view import workpaper
from adequacy.frontend.exports import memory_folder, report_files, workpaper_files
from adequacy.frontend.tables import horizons, readable, show

CACHE_KEY = "_downloads"
#: the preview of the county summary, in reading order
PREVIEW_COLUMNS = [
    "label",
    "language",
    "county",
    "verdict",
    "verdict_reasons",
    "members",
    "share_meeting",
    "threshold",
    "providers",
    "members_per_provider",
    "median_miles",
    "median_minutes",
]
MIME = {
    ".html": "text/html",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".csv": "text/csv",
    ".gpkg": "application/geopackage+sqlite3",
}
LABELS = {
    "report.html": "Quarterly report (HTML)",
    "report.xlsx": "Quarterly report (XLSX)",
    "exception_drafts.zip": "Exception-request drafts (HTML, zipped)",
    "deficiency_workpaper.xlsx": "Deficiency workpaper (XLSX)",
    "members_not_served.csv": "Members not served (CSV, by member ID)",
}


def _mime(name: str) -> str:
    return next((m for suffix, m in MIME.items() if name.endswith(suffix)), "text/plain")


def _cache(st: Any, evaluation: Any) -> dict[str, Any]:
    """This session's downloads of ``evaluation`` (dropped when the evaluation changes)."""
    cache = st.session_state.setdefault(CACHE_KEY, {})
    if cache.get("evaluation") is not evaluation:
        cache.clear()
        cache["evaluation"] = evaluation
    return cache


def _geopackage(evaluation: Any) -> bytes:
    """The county summary with a column pair per rule, as a GeoPackage (county figures
    only, no member rows), written in a memory folder."""
    from adequacy.runs.write import county_wide

    with memory_folder() as tmp:
        path = tmp / "county_summary.gpkg"
        county_wide(evaluation).to_file(path, driver="GPKG", layer="county_summary")
        return path.read_bytes()


def downloads_page(
    st: Any, evaluation: Any, rule_id: str, language: str, *, demo_region: str | None = None
) -> None:
    """Draw the downloads with ``st``; ``demo_region`` names the demo in the report."""
    cache = _cache(st, evaluation)
    flag = evaluation.synthetic
    st.subheader("Quarterly report, workpaper and exception drafts")
    st.caption(
        "As `adequacy report` writes them, built in memory for this session: the report "
        "(counts only, no member rows), the deficiency workpaper and a draft exception "
        "request per failing county and rule. Building them takes a few seconds."
    )
    c1, c2 = st.columns(2)
    period = c1.text_input(
        "Reporting period", key="report_period", placeholder="e.g. 2026Q3; blank: every rule"
    )
    plan = c2.text_input("Plan name for the report's title", key="report_plan")
    wanted = (period.strip() or None, plan.strip() or None)
    files = cache.get("report") if cache.get("report_for") == wanted else None
    slot = st.empty()  # the button, until the files are made
    if files is None and slot.button("Prepare the report and the workpaper", key="prepare_report"):
        slot.empty()
        found = workpaper(st, evaluation)
        with st.spinner("Writing the quarterly report, the workpaper and the drafts…"):
            files = report_files(
                evaluation,
                found.tables(),
                period=wanted[0],
                plan=wanted[1],
                demo_region=demo_region,
            )
            files.update(workpaper_files(evaluation, found.tables(), found.members))
        cache["report"], cache["report_for"] = files, wanted
    if files is not None:
        for name, data in files.items():
            st.download_button(
                LABELS.get(name, name), data, name, _mime(name), key=f"download_{name}"
            )
        if "exception_drafts.zip" not in files:
            st.caption("No exception draft: no county fails a rule of the period.")

    st.subheader("Tables")
    county = evaluation.county_summary.assign(synthetic=flag)
    st.download_button(
        "County summary (CSV)", county.to_csv(index=False), "county_summary.csv", "text/csv"
    )
    if evaluation.regions is not None:
        if "gpkg" not in cache:
            cache["gpkg"] = _geopackage(evaluation)
        st.download_button(
            "County summary (GeoPackage)", cache["gpkg"], "county_summary.gpkg", _mime(".gpkg")
        )
    res = evaluation.member_results
    failing = res[(res["rule"] == rule_id) & (res["language"] == language) & ~res["meets"]]
    st.download_button(
        f"Members failing {rule_id} (CSV, by member ID)",
        failing.assign(synthetic=flag).to_csv(index=False),
        f"failing_{rule_id}.csv",
        "text/csv",
    )
    scenario = st.session_state.get("scenario_json")
    if scenario:
        st.download_button("Current what-if scenario (JSON)", scenario, "scenario.json")
    else:
        st.caption("Set up a what-if scenario to download it.")
    st.subheader("Preview: the county summary")
    st.caption("Every county and rule, failing first, as the CSV above holds them.")
    preview = readable(evaluation.county_summary, PREVIEW_COLUMNS, horizon=horizons(evaluation))
    show(st, preview)
