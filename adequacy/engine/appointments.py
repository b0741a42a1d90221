"""Appointment availability: the wait-time standards and the survey's compliance.

The seed manual's "Wait Time Access Standards" ask plans to survey providers on emergency,
urgent, routine symptomatic, routine non-symptomatic and after-hours care; patients are
seen within 30 minutes of the appointment time; clinical calls are returned within the
hour when clinically appropriate or the same day, administrative calls within two
business days. An *appointment standards* file (YAML, ``appointment_standards/*.yaml``;
not an access standards set) gives these limits and the days to an appointment per
service, which the manual leaves to the plan.

Owns: :class:`AppointmentStandards`, :func:`load_appointment_standards` and
:func:`appointment_compliance`. Uses :mod:`adequacy.inputs.surveys` and the YAML helpers of
:mod:`adequacy.engine.standards`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.judge import FAIL, PASS, share_passes
from adequacy.engine.standards import _number, _unknown_keys
from adequacy.errors import InputError
from adequacy.inputs.surveys import SERVICES, SURVEY_COLUMNS, read_survey
from adequacy.inputs.yamlfile import read_yaml_mapping

APPOINTMENT_STANDARDS_DIR = Path(__file__).resolve().parent / "appointment_standards"
DEFAULT_APPOINTMENT_STANDARDS = "seed-manual"
#: provider_type of surveyed providers that are not in the (in-network) roster
NOT_IN_ROSTER = "unknown"

SET_KEYS = {
    "name": "short name of the set",
    "version": "version of the set",
    "title": "one-line title for reports",
    "source": "where the standards come from",
    "threshold": "share of answers that must comply (0-1]",
    "office_wait_minutes": "patients are seen within this many minutes of the appointment time",
    "callbacks": "{clinical: {within_hours, same_day_hours}, administrative: {business_days}}",
    "services": "per service: {label, days} (days to the first appointment; null: none)",
    "sha256": "hash of the file the set was read from (as to_dict records it)",
}
CALLBACK_KEYS = {"clinical": "clinical calls", "administrative": "administrative calls"}
CLINICAL_KEYS = {
    "within_hours": "returned within this many hours when clinically appropriate",
    "same_day_hours": "hours that count as the same day (decides compliance)",
}
ADMINISTRATIVE_KEYS = {"business_days": "returned within this many business days"}
SERVICE_KEYS = {"label": "name shown in tables", "days": "days to the first appointment"}

OUTPUT_COLUMNS = [
    "provider_type",
    "county_fips",
    "county",
    "service",
    "service_label",
    "providers_surveyed",
    "responses",
    "judged",
    "compliant",
    "share_compliant",
    "threshold",
    "verdict",
    "day_limit",
    "median_days",
    "share_within_day_limit",
    "median_office_wait_minutes",
    "share_seen_within_wait_limit",
    "share_callbacks_in_time",
    "share_clinical_callbacks_within_hour",
    "synthetic",
]


@dataclass(frozen=True)
class ServiceLimit:
    """Days from the request to the first appointment offered (None: no day limit)."""

    service: str
    label: str
    days: float | None


@dataclass(frozen=True)
class Callbacks:
    """When calls must be returned: clinical calls within ``clinical_within_hours`` when
    clinically appropriate, otherwise within ``clinical_same_day_hours`` (which decides
    compliance); administrative calls within ``administrative_business_days``."""

    clinical_within_hours: float
    clinical_same_day_hours: float
    administrative_business_days: float

    def limit_hours(self, callback_type: str) -> float:
        """The hours within which a call of this type complies (business-day hours)."""
        if callback_type == "administrative":
            return self.administrative_business_days * 24.0
        return self.clinical_same_day_hours


@dataclass(frozen=True)
class AppointmentStandards:
    """A named, versioned set of wait-time limits."""

    name: str
    version: str
    services: tuple[ServiceLimit, ...]
    office_wait_minutes: float
    callbacks: Callbacks
    threshold: float = 0.9
    title: str = ""
    source: str = ""
    path: str = ""
    sha256: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def service(self, service: str) -> ServiceLimit:
        """The limit of a service; one without days when the set does not list it."""
        for s in self.services:
            if s.service == service:
                return s
        return ServiceLimit(service, service.replace("_", " ").capitalize(), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "sha256": self.sha256,
            "threshold": self.threshold,
            "office_wait_minutes": self.office_wait_minutes,
            "callbacks": {
                "clinical": {
                    "within_hours": self.callbacks.clinical_within_hours,
                    "same_day_hours": self.callbacks.clinical_same_day_hours,
                },
                "administrative": {"business_days": self.callbacks.administrative_business_days},
            },
            "services": {s.service: {"label": s.label, "days": s.days} for s in self.services},
        }


def builtin_appointment_standards() -> list[str]:
    """Names of the appointment standards that ship with the package."""
    return sorted(p.stem for p in APPOINTMENT_STANDARDS_DIR.glob("*.yaml"))


def load_appointment_standards(
    source: str | os.PathLike | Mapping | AppointmentStandards = DEFAULT_APPOINTMENT_STANDARDS,
) -> AppointmentStandards:
    """Load appointment standards: a built-in name, a YAML path, or a dict of the same shape.

    A wrong key or value raises :class:`InputError` naming the key, e.g.
    ``mine.yaml: services.urgent.days: must be 0 or more, not -1``.
    """
    if isinstance(source, AppointmentStandards):
        return source
    if isinstance(source, Mapping):
        return _parse(dict(source), "appointment standards", "", str(source.get("sha256") or ""))
    data, path, sha = read_yaml_mapping(
        source,
        what="appointment standards",
        builtin_dir=APPOINTMENT_STANDARDS_DIR,
        shape="name, office_wait_minutes, callbacks and services",
    )
    return _parse(data, str(path), str(path), sha)


def _mapping(label: str, where: str, data: Any, allowed: Mapping[str, str]) -> Mapping:
    if not isinstance(data, Mapping):
        raise InputError(f"{label}: {where}: must be a mapping with {', '.join(allowed)}")
    _unknown_keys(f"{where}.", data, allowed, label)
    return data


def _required(label: str, where: str, data: Mapping, key: str) -> Any:
    if data.get(key) is None:
        raise InputError(f"{label}: {where}{key}: missing")
    return data[key]


def _parse(data: dict, label: str, path: str, sha: str) -> AppointmentStandards:
    _unknown_keys("", data, SET_KEYS, label)
    for key in ("name", "office_wait_minutes", "callbacks", "services"):
        if key not in data:
            raise InputError(
                f"{label}: {key}: missing; an appointment standards file needs name, "
                "office_wait_minutes, callbacks and services"
            )
    threshold = _number(label, "threshold", data.get("threshold", 0.9), upper=1.0)
    wait = _number(label, "office_wait_minutes", data["office_wait_minutes"])
    calls = _mapping(label, "callbacks", data["callbacks"], CALLBACK_KEYS)
    clinical = _mapping(
        label,
        "callbacks.clinical",
        _required(label, "callbacks.", calls, "clinical"),
        CLINICAL_KEYS,
    )
    admin = _mapping(
        label,
        "callbacks.administrative",
        _required(label, "callbacks.", calls, "administrative"),
        ADMINISTRATIVE_KEYS,
    )
    within = _number(
        label,
        "callbacks.clinical.within_hours",
        _required(label, "callbacks.clinical.", clinical, "within_hours"),
    )
    same_day = _number(
        label,
        "callbacks.clinical.same_day_hours",
        _required(label, "callbacks.clinical.", clinical, "same_day_hours"),
        upper=24.0,
    )
    if within > same_day:
        raise InputError(
            f"{label}: callbacks.clinical.within_hours: must be at most same_day_hours "
            f"({same_day:g}), not {within:g}"
        )
    business_days = _number(
        label,
        "callbacks.administrative.business_days",
        _required(label, "callbacks.administrative.", admin, "business_days"),
    )
    services_data = data["services"]
    if not isinstance(services_data, Mapping) or not services_data:
        raise InputError(
            f"{label}: services: must be a mapping of services ({', '.join(SERVICES)}) "
            "to {label, days}"
        )
    _unknown_keys("services.", services_data, {s: s for s in SERVICES}, label)
    services = []
    for service in SERVICES:  # canonical order
        if service not in services_data:
            continue
        where = f"services.{service}"
        item = services_data[service] or {}
        _mapping(label, where, item, SERVICE_KEYS)
        days = item.get("days")
        if days is not None:
            days = _number(label, f"{where}.days", days, positive=False)
            if days < 0:
                raise InputError(f"{label}: {where}.days: must be 0 or more, not {days:g}")
        default_label = service.replace("_", " ").replace("nons", "non-s").capitalize()
        services.append(ServiceLimit(service, str(item.get("label") or default_label), days))
    return AppointmentStandards(
        name=str(data["name"]),
        version=str(data.get("version", "1")),
        services=tuple(services),
        office_wait_minutes=wait,
        callbacks=Callbacks(within, same_day, business_days),
        threshold=threshold,
        title=str(data.get("title") or ""),
        source=str(data.get("source") or ""),
        path=path,
        sha256=sha,
    )


# ---------------------------------------------------------------------------
# compliance
# ---------------------------------------------------------------------------
def _within(values: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """1.0 within the limit, 0.0 beyond it, NaN when the value or the limit is missing."""
    known = ~np.isnan(values) & ~np.isnan(limits)
    with np.errstate(invalid="ignore"):
        return np.where(known, (values <= limits).astype(float), np.nan)


def response_verdicts(survey: Any, standards: Any = DEFAULT_APPOINTMENT_STANDARDS) -> pd.DataFrame:
    """The survey with each answer judged: ``days_ok``, ``wait_ok``, ``callback_ok`` and
    ``clinical_within_hour`` (1/0, NaN when not measured) and ``verdict`` (True/False/None).

    See :func:`appointment_compliance` for the rules.
    """
    if not (isinstance(survey, pd.DataFrame) and list(survey.columns) == SURVEY_COLUMNS):
        survey = read_survey(survey)
    std = load_appointment_standards(standards)
    out = survey.copy()
    day_limit = {s: std.service(s).days for s in SERVICES}
    limits = out["service"].map(day_limit).astype(float).to_numpy()
    out["day_limit"] = limits
    out["days_ok"] = _within(out["days_to_appointment"].to_numpy(float), limits)
    wait = out["office_wait_minutes"].to_numpy(float)
    out["wait_ok"] = _within(wait, np.full(len(out), std.office_wait_minutes))
    hours = out["callback_hours"].to_numpy(float)
    kind = out["callback_type"].to_numpy()
    callback_limit = np.array([std.callbacks.limit_hours(k) for k in kind], dtype=float)
    out["callback_ok"] = _within(hours, callback_limit)
    clinical = np.where(kind == "clinical", std.callbacks.clinical_within_hours, np.nan)
    out["clinical_within_hour"] = _within(hours, clinical.astype(float))
    checks = out[["days_ok", "wait_ok", "callback_ok"]].to_numpy()
    any_known = (~np.isnan(checks)).any(axis=1)
    any_fail = (checks == 0).any(axis=1)
    given = out["compliant"]
    has_given = ~given.isna().to_numpy()
    said = given.where(given.notna(), False).astype(bool).to_numpy()
    said_no = has_given & ~said
    said_yes = has_given & said
    # a measure past its limit fails the answer, whatever the office said; otherwise a
    # 'no' fails it, and a 'yes' or measures within their limits pass it
    verdict = np.full(len(out), None, dtype=object)
    verdict[any_known | said_yes] = True
    verdict[any_fail | said_no] = False
    out["verdict"] = verdict
    return out


def appointment_compliance(
    survey: Any,
    providers: pd.DataFrame,
    standards: Any = DEFAULT_APPOINTMENT_STANDARDS,
    *,
    county_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Compliance with the wait-time standards per provider type, county and service.

    ``survey`` is a path or frame :func:`~adequacy.inputs.surveys.read_survey` reads (or
    its result); ``providers`` the validated roster with ``provider_type`` and
    ``county_fips``, as in ``Evaluation.providers`` (only ``in_network`` rows when the
    column is there); ``standards`` anything :func:`load_appointment_standards` takes;
    ``county_names`` maps FIPS to names for the ``county`` column.

    Each answer (survey row) is judged:

    - a measure past its limit fails the answer, whatever ``compliant`` says (a measured
      failure is never overruled by the office's own yes);
    - otherwise ``compliant`` given in the row decides (no fails, yes passes), and without
      it the answer complies when every measure it gives is within its limit:
      ``days_to_appointment`` at most the service's ``days`` (not judged for a service
      without days), ``office_wait_minutes`` at most ``office_wait_minutes``,
      ``callback_hours`` at most the clinical ``same_day_hours`` (clinical calls: the
      hour is for when it is clinically appropriate, which a survey cannot tell) or
      ``business_days`` x 24 business-day hours (administrative calls);
    - an answer with no judgeable measure has no verdict: counted in ``responses``, not
      in ``judged``.

    An answer counts in each (provider type, county) where the roster has an in-network
    site of the provider, once per county. A surveyed provider missing from the roster is
    reported, not dropped: its answers form rows with provider_type ``"unknown"``,
    ``county_fips`` "" and county "not in the roster". In-roster sites outside every
    county (``county_fips`` "") show as "outside the service area".

    Columns (:data:`OUTPUT_COLUMNS`): ``providers_surveyed`` (distinct providers),
    ``responses``, ``judged`` (answers with a verdict), ``compliant``,
    ``share_compliant`` (compliant / judged), ``threshold`` and ``verdict`` ("pass" when
    the share is at least the threshold, judged by :func:`~adequacy.engine.judge.share_passes`;
    None when nothing was judged), ``day_limit`` (days; NaN: none),
    ``median_days``, ``share_within_day_limit``, ``median_office_wait_minutes``,
    ``share_seen_within_wait_limit``, ``share_callbacks_in_time`` (each call against its
    type's limit), ``share_clinical_callbacks_within_hour`` and ``synthetic`` (any
    synthetic answer). Shares are over the answers giving that measure (NaN: none did).
    Rows are sorted by provider type ("unknown" last), county and service.
    """
    std = load_appointment_standards(standards)
    judged = response_verdicts(survey, std)
    roster = providers
    if "in_network" in roster.columns:
        roster = roster[roster["in_network"].astype(bool)]
    roster = pd.DataFrame(
        {
            "provider_id": roster["provider_id"].astype(str).to_numpy(),
            "provider_type": roster["provider_type"].astype(str).to_numpy(),
            "county_fips": roster["county_fips"].fillna("").astype(str).to_numpy()
            if "county_fips" in roster.columns
            else "",
        }
    ).drop_duplicates()
    rows = judged.merge(roster, on="provider_id", how="left")
    missing = rows["provider_type"].isna()
    rows.loc[missing, "provider_type"] = NOT_IN_ROSTER
    rows.loc[missing, "county_fips"] = ""
    rows["has_verdict"] = rows["verdict"].notna()
    rows["is_compliant"] = rows["verdict"].map(lambda v: v is True or v is np.True_)
    keys = ["provider_type", "county_fips", "service"]
    table = (
        rows.groupby(keys, sort=False)
        .agg(
            providers_surveyed=("provider_id", "nunique"),
            responses=("provider_id", "size"),
            judged=("has_verdict", "sum"),
            compliant=("is_compliant", "sum"),
            day_limit=("day_limit", "first"),
            median_days=("days_to_appointment", "median"),
            share_within_day_limit=("days_ok", "mean"),
            median_office_wait_minutes=("office_wait_minutes", "median"),
            share_seen_within_wait_limit=("wait_ok", "mean"),
            share_callbacks_in_time=("callback_ok", "mean"),
            share_clinical_callbacks_within_hour=("clinical_within_hour", "mean"),
            synthetic=("synthetic", "any"),
        )
        .reset_index()
    )
    for column in ("judged", "compliant", "responses", "providers_surveyed"):
        table[column] = table[column].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(table["judged"] > 0, table["compliant"] / table["judged"], np.nan)
    table["share_compliant"] = share
    table["threshold"] = std.threshold
    table["verdict"] = [
        None if not j else (PASS if share_passes(c, j, std.threshold) else FAIL)
        for c, j in zip(table["compliant"], table["judged"], strict=True)
    ]
    table["service_label"] = [std.service(s).label for s in table["service"]]
    names = dict(county_names or {})
    table["county"] = [
        "not in the roster"
        if t == NOT_IN_ROSTER and f == ""
        else "outside the service area"
        if f == ""
        else str(names.get(f, f))
        for t, f in zip(table["provider_type"], table["county_fips"], strict=True)
    ]
    order = {s: i for i, s in enumerate(SERVICES)}
    table = table.assign(
        _unknown=table["provider_type"] == NOT_IN_ROSTER, _service=table["service"].map(order)
    ).sort_values(["_unknown", "provider_type", "county_fips", "_service"], kind="stable")
    return table[OUTPUT_COLUMNS].reset_index(drop=True)
