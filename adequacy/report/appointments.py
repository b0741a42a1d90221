"""The report's appointment availability section: the wait-time survey's compliance.

``appointments_section(table)`` returns the HTML fragment (without its heading: the
caller numbers it with ``Doc.h2("Appointment availability")``) of the table that
:func:`adequacy.engine.appointments.appointment_compliance` made, or read back from a run
folder's ``appointment_compliance.csv``.

Owns: ``appointments_section``. Uses: :mod:`adequacy.report.formatting`,
:func:`adequacy.report.tables.flag`, the engine's appointment standards and the survey's
services.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import pandas as pd

from adequacy.engine.appointments import AppointmentStandards
from adequacy.inputs.surveys import SERVICES
from adequacy.report.formatting import amount, badge, html_table, integer, number, percent
from adequacy.report.tables import flag

TYPE_NAMES = {
    "pcp": "Primary care",
    "obgyn": "OB/GYN",
    "specialist": "Specialist",
    "urgent_care": "Urgent care",
    "acute_care": "Acute care",
    "rehabilitation": "Rehabilitation",
    "unknown": "Not in the roster",
}


def _flag(value: Any) -> bool | None:
    return None if value is None or value is pd.NA or value == "" else flag(value)


def _days(value: Any) -> str:
    v = number(value)
    if math.isnan(v):
        return "–"
    return "same day" if v == 0 else f"{v:g} day{'s' if v != 1 else ''}"


def _standard(std: AppointmentStandards) -> str:
    days = "; ".join(
        f"{escape(s.label.lower())} {_days(s.days) if s.days is not None else 'no day limit'}"
        for s in std.services
    )
    c = std.callbacks
    return (
        '<div class="standard"><b>Standard.</b> Days to the first appointment offered: '
        f"{days}. Patients seen within {std.office_wait_minutes:g} minutes of the "
        f"appointment time. Calls about active clinical problems returned within "
        f"{c.clinical_within_hours:g} hour{'s' if c.clinical_within_hours != 1 else ''} when "
        f"clinically appropriate, otherwise the same day (within "
        f"{c.clinical_same_day_hours:g} hours); administrative calls within "
        f"{c.administrative_business_days:g} business days. At least {std.threshold:.0%} of "
        f"answers must comply. ({escape(std.label)})</div>"
    )


def appointments_section(table: pd.DataFrame, standards: AppointmentStandards | None = None) -> str:
    """The survey's compliance by service, then by provider type, county and service.

    ``standards`` (optional) words the limits above the tables.
    """
    parts = []
    if standards is not None:
        parts.append(_standard(standards))
    if not len(table):
        return "".join([*parts, "<p>No survey answers.</p>"])
    t = table.copy()
    if t["synthetic"].map(_flag).any():
        parts.append('<p class="note"><b>Synthetic survey</b> (demo data, not for filing).</p>')
    parts.append(
        "<p>Wait-time compliance from the access and availability survey. "
        "An answer complies when the survey says so or, where it does not, when every "
        "measure it gives is within its limit. A service meets the standard when the share "
        "of its judged answers that comply reaches the threshold.</p>"
    )
    by_service = (
        t.groupby(["service", "service_label"], sort=False)[["responses", "judged", "compliant"]]
        .sum()
        .reset_index()
        .sort_values("service", key=lambda s: s.map(list(SERVICES).index), kind="stable")
    )
    threshold = number(t["threshold"].iloc[0])
    rows = []
    for _, r in by_service.iterrows():
        share = r["compliant"] / r["judged"] if r["judged"] else math.nan
        ok = None if math.isnan(share) else share >= threshold
        rows.append(
            [
                escape(r["service_label"]),
                integer(r["responses"]),
                integer(r["judged"]),
                integer(r["compliant"]),
                (percent(share), "na" if ok is None else "pass" if ok else "fail"),
                badge(ok, "Meets", "Below"),
            ]
        )
    head = ["Service", "Answers", "Judged", "Compliant", "Share compliant", "Standard"]
    parts.append("<h4>By service</h4>" + html_table(head, rows, "narrow", "lrrrrc"))
    parts.append(
        f'<p class="legend">All counties and provider types together; threshold '
        f"{threshold:.0%}. An answer counts once in each county where the provider "
        "practises.</p>"
    )
    rows = []
    for _, r in t.iterrows():
        f = _flag(r["verdict"])
        fips, county = escape(str(r["county_fips"])), escape(str(r["county"]))
        rows.append(
            [
                escape(TYPE_NAMES.get(r["provider_type"], str(r["provider_type"]))),
                county if county == fips else f"{county} <span class='note'>{fips}</span>",
                escape(r["service_label"]),
                integer(r["providers_surveyed"]),
                integer(r["responses"]),
                f"{integer(r['compliant'])} of {integer(r['judged'])}",
                (percent(r["share_compliant"]), "na" if f is None else "pass" if f else "fail"),
                badge(f, "Meets", "Below"),
                f"{amount(r['median_days'])} <span class='note'>≤ {_days(r['day_limit'])}</span>"
                if not math.isnan(number(r["day_limit"]))
                else amount(r["median_days"]),
                percent(r["share_within_day_limit"]),
                percent(r["share_seen_within_wait_limit"]),
                percent(r["share_callbacks_in_time"]),
            ]
        )
    head = [
        "Provider type",
        "County",
        "Service",
        "Providers",
        "Answers",
        "Compliant",
        "Share compliant",
        "Standard",
        "Median days",
        "Within day limit",
        "Seen on time",
        "Calls returned in time",
    ]
    parts.append(
        "<h4>By provider type and county</h4>" + html_table(head, rows, "", "lllrrrrcrrrr")
    )
    parts.append(
        '<p class="legend">Shares are over the answers that give the measure (– : none did). '
        "Seen on time: within the office-wait limit of the appointment time. Calls: clinical "
        "calls the same day, administrative calls within the business days allowed. "
        "Providers not in the roster are listed apart, not dropped.</p>"
    )
    return "".join(parts)
