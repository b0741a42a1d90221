"""The app's appointment availability view: the wait-time survey's compliance table.

Owns: ``appointments_page``. Uses: the table of
:func:`adequacy.engine.appointments.appointment_compliance` (or its CSV read back).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: table column -> header in words; shares are shown as percentages
HEADERS = {
    "provider_type": "Provider type",
    "county": "County",
    "county_fips": "FIPS",
    "service_label": "Service",
    "providers_surveyed": "Providers surveyed",
    "responses": "Answers",
    "judged": "Judged",
    "compliant": "Compliant",
    "share_compliant": "Share compliant",
    "verdict": "Meets standard",
    "day_limit": "Day limit",
    "median_days": "Median days to appointment",
    "share_within_day_limit": "Within day limit",
    "median_office_wait_minutes": "Median office wait (min)",
    "share_seen_within_wait_limit": "Seen within wait limit",
    "share_callbacks_in_time": "Calls returned in time",
    "share_clinical_callbacks_within_hour": "Clinical calls within the hour",
}
SHARES = [c for c in HEADERS if c.startswith("share_")]


def appointments_page(st: Any, table: pd.DataFrame) -> None:
    """Draw the compliance table with ``st`` (the streamlit module)."""
    st.subheader("Appointment availability")
    if table is None or not len(table):
        st.info("No survey: give a survey table (--survey FILE) to see wait-time compliance.")
        return
    if table["synthetic"].astype(str).str.lower().isin(["true", "1"]).any():
        st.warning("Synthetic survey (demo data, not for filing).")
    st.caption(
        "Share of survey answers that comply with the wait-time standards, by provider type, "
        "county and service. An answer complies when the survey says so or, where it does "
        "not, when every measure it gives is within its limit. Shares are over the answers "
        "giving the measure; providers not in the roster are listed as 'unknown'."
    )
    view = table[list(HEADERS)].copy()
    for column in SHARES:
        view[column] = pd.to_numeric(view[column], errors="coerce") * 100.0
    verdict = view["verdict"].astype(str).str.strip().str.lower()
    view["verdict"] = verdict.map({"pass": "yes", "fail": "no"}).fillna("–")
    config = {
        HEADERS[c]: st.column_config.NumberColumn(HEADERS[c], format="%.1f%%") for c in SHARES
    }
    st.dataframe(
        view.rename(columns=HEADERS), hide_index=True, width="stretch", column_config=config
    )
