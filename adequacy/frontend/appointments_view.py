"""The app's appointment availability view: the wait-time survey's compliance table.

Failing rows first; shares as percentages, blanks where the survey gives no
measure (:mod:`adequacy.frontend.tables`).

Owns: ``appointments_page``. Uses: the table of
:func:`adequacy.engine.appointments.appointment_compliance` (or its CSV read
back) and the app's tables.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from adequacy.frontend.tables import readable, show

#: the columns shown, in reading order (headers: :data:`adequacy.frontend.tables.HEADERS`)
COLUMNS = [
    "provider_type",
    "county",
    "service_label",
    "verdict",
    "share_compliant",
    "threshold",
    "providers_surveyed",
    "responses",
    "judged",
    "compliant",
    "day_limit",
    "median_days",
    "share_within_day_limit",
    "median_office_wait_minutes",
    "share_seen_within_wait_limit",
    "share_callbacks_in_time",
    "share_clinical_callbacks_within_hour",
]
HEADERS = {"verdict": "Meets standard"}


def appointments_page(st: Any, table: pd.DataFrame | None) -> None:
    """Draw the compliance table with ``st`` (the streamlit module)."""
    st.subheader("Appointment availability")
    if table is None or not len(table):
        st.info("No survey: give a survey table (--survey FILE) to see wait-time compliance.")
        return
    if table["synthetic"].astype(str).str.lower().isin(["true", "1"]).any():
        st.warning("Synthetic survey (demo data, not for filing).")
    st.caption(
        "Share of survey answers that comply with the wait-time standards, by provider type, "
        "county and service; failing rows first. An answer complies when the survey says "
        "so or, where it does not, when every measure it gives is within its limit. Shares "
        "are over the answers giving the measure (blank: no answer gives it); providers "
        "not in the roster are listed as 'unknown'."
    )
    show(st, readable(table, COLUMNS, headers=HEADERS))
