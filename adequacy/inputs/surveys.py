"""Read and validate an appointment availability survey (the manual's "Wait Time Access
Standards": emergency, urgent, routine symptomatic, routine non-symptomatic and after-hours
care).

One row per answer: a provider, a service, and what the survey found. Every problem in the
file is listed at once, one line each, naming the file, the lines (CSV) or rows, and the fix.

Owns: ``read_survey``, the canonical services and their accepted spellings. Uses:
:mod:`adequacy.inputs.tables`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from adequacy.inputs.tables import Problems, booleans, ids_of, numbers, read_table, require

#: Canonical services, in report order, and the spellings accepted for each (compared in
#: lower case, punctuation as spaces, the word "care" left out).
SERVICES: dict[str, tuple[str, ...]] = {
    "emergency": ("emergency", "emergent"),
    "urgent": ("urgent",),
    "routine_symptomatic": (
        "routine symptomatic",
        "symptomatic",
        "non urgent symptomatic",
        "nonurgent symptomatic",
        "routine sick",
        "sick visit",
    ),
    "routine_nonsymptomatic": (
        "routine non symptomatic",
        "routine nonsymptomatic",
        "non symptomatic",
        "nonsymptomatic",
        "routine asymptomatic",
        "asymptomatic",
        "routine well",
        "well visit",
    ),
    "after_hours": ("after hours", "afterhours", "after hour"),
}
#: Measure columns; a survey needs at least one.
MEASURES = ("days_to_appointment", "compliant", "office_wait_minutes", "callback_hours")
CALLBACK_TYPES = ("clinical", "administrative")
SURVEY_COLUMNS = [
    "provider_id",
    "service",
    "days_to_appointment",
    "office_wait_minutes",
    "callback_hours",
    "callback_type",
    "compliant",
    "synthetic",
]


def _key(text: Any) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", str(text).strip().lower()).split()
    return " ".join(w for w in words if w != "care")


_SERVICE_LOOKUP = {
    _key(alias): canon for canon, aliases in SERVICES.items() for alias in (canon, *aliases)
}


def canonical_service(value: Any) -> str | None:
    """The canonical service for a spelling ('Routine - symptomatic' -> routine_symptomatic),
    or None when unknown."""
    return _SERVICE_LOOKUP.get(_key(value))


def read_survey(source: Any) -> pd.DataFrame:
    """Read and validate an appointment availability survey.

    Required: ``provider_id``, ``service`` (emergency, urgent, routine_symptomatic,
    routine_nonsymptomatic, after_hours; spellings such as "Routine - symptomatic" or
    "after hours" are understood) and at least one measure column:
    ``days_to_appointment`` (days from the request to the first appointment offered),
    ``compliant`` (yes/no: the survey's own verdict), ``office_wait_minutes`` (minutes from
    the appointment time until the patient was seen), ``callback_hours`` (hours until a call
    was returned, business days only). Optional: ``callback_type`` (``clinical``, the
    default, or ``administrative``), ``synthetic``.

    Returns :data:`SURVEY_COLUMNS`: measures as floats (NaN when not answered), ``compliant``
    as a nullable boolean (NA when not given), ``callback_type`` "" where no callback was
    timed. Every row must answer at least one measure.
    """
    table = read_table(source, "survey")
    frame = table.frame
    problems = Problems(table, "survey")
    if not require(
        problems, frame, ["provider_id", "service"], "a survey needs provider_id and service"
    ):
        problems.raise_if_any()
    present = [m for m in MEASURES if m in frame.columns]
    if not present:
        problems.add(
            "no measure column; give at least one of " + ", ".join(MEASURES) + " (the file has: "
            f"{', '.join(frame.columns[:12])})"
        )
    n = len(frame)
    ids = ids_of(frame, "provider_id")
    empty = np.flatnonzero(ids == "")
    if len(empty):
        problems.add(f"provider_id is empty at {table.rows(empty)}; name the provider surveyed")
    raw = frame["service"].fillna("").astype(str).to_numpy()
    services = np.array([canonical_service(s) for s in raw], dtype=object)
    unknown = np.flatnonzero(pd.isna(services))
    if len(unknown):
        values = sorted({raw[i] for i in unknown})[:5]
        problems.add(
            f"unknown service {', '.join(map(repr, values))} at {table.rows(unknown)}; "
            f"use one of: {', '.join(SERVICES)}"
        )
    measures = {}
    fixes = {
        "days_to_appointment": "give the days to the first appointment offered, e.g. 3",
        "office_wait_minutes": "give the minutes from the appointment time to being seen",
        "callback_hours": "give the hours until the call was returned, e.g. 0.5",
    }
    for column, fix in fixes.items():
        if column not in frame.columns:
            measures[column] = np.full(n, np.nan)
            continue
        values = numbers(problems, frame, column, fix=fix)
        with np.errstate(invalid="ignore"):
            negative = np.flatnonzero(values < 0)
        if len(negative):
            problems.add(f"{column} is negative at {table.rows(negative)}; use 0 or more")
        measures[column] = values
    compliant = pd.array([pd.NA] * n, dtype="boolean")
    if "compliant" in frame.columns and (
        isinstance(frame["compliant"].dtype, pd.BooleanDtype) or frame["compliant"].dtype == bool
    ):
        compliant = pd.array(frame["compliant"], dtype="boolean")
    elif "compliant" in frame.columns:
        given = booleans(problems, frame, "compliant", False)
        text = frame["compliant"].astype(str).str.strip().str.lower()
        blank = (frame["compliant"].isna() | text.isin(["", "nan"])).to_numpy()
        compliant = pd.array(np.where(blank, None, given), dtype="boolean")
    kind = np.full(n, "clinical", dtype=object)
    if "callback_type" in frame.columns:
        text = frame["callback_type"].fillna("").astype(str).str.strip().str.lower()
        bad = np.flatnonzero(~text.isin(["", *CALLBACK_TYPES]).to_numpy())
        if len(bad):
            problems.add(
                f"callback_type is not clinical or administrative at {table.rows(bad)}; "
                "use clinical (active clinical problems) or administrative (routine "
                "administrative requests), or leave it blank for clinical"
            )
        kind = np.where(text == "", "clinical", text).astype(object)
    kind = np.where(np.isnan(measures["callback_hours"]), "", kind).astype(object)
    if present:
        answered = np.zeros(n, dtype=bool)
        for column in present:  # a cell given but unreadable is reported above, not here
            text = frame[column].astype(str).str.strip().str.lower()
            answered |= (frame[column].notna() & ~text.isin(["", "nan"])).to_numpy()
        blank_rows = np.flatnonzero(~answered)
        if len(blank_rows):
            problems.add(
                f"no answer at {table.rows(blank_rows)}; give {' or '.join(present)} "
                "for each row, or remove the row"
            )
    synthetic = booleans(problems, frame, "synthetic", False)
    problems.raise_if_any()
    return pd.DataFrame(
        {
            "provider_id": ids.astype(str),
            "service": services.astype(str),
            **measures,
            "callback_type": kind,
            "compliant": compliant,
            "synthetic": synthetic.astype(bool),
        }
    )[SURVEY_COLUMNS]
