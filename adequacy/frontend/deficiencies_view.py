"""The app's deficiency view: the workpaper of :mod:`adequacy.findings`, on request.

The workpaper is built once per evaluation and session (:func:`workpaper`) and
shared with the downloads (its XLSX, the quarterly report and the exception
drafts). Its tables read as people read them (:mod:`adequacy.frontend.tables`).

Owns: ``deficiencies_page`` and ``workpaper``. Uses: :mod:`adequacy.findings`
(the tables), the app's tables and streamlit, given by the caller. Members
appear by ID only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from adequacy.findings.deficiencies import Deficiencies
from adequacy.frontend.tables import horizons, readable, show

CACHE_KEY = "_deficiencies"
#: the failing counties, in the order a network manager reads them
COUNTY_COLUMNS = [
    "label",
    "language",
    "county",
    "verdict_reasons",
    "members",
    "share_meeting",
    "threshold",
    "members_not_meeting",
    "members_short",
    "providers",
    "members_per_provider",
    "providers_needed_for_ratio",
    "providers_short_of_minimum",
    "members_with_out_of_network_within_limits",
    "recruitment_sites",
    "recruitment_note",
]
#: the members not served, in reading order
MEMBER_COLUMNS = [
    "member_id",
    "label",
    "language",
    "county",
    "miles",
    "minutes",
    "n_qualifying",
    "out_of_network_nearest",
    "out_of_network_miles",
    "out_of_network_minutes",
    "out_of_network_within_limits",
]
#: members shown in the page (all of them are in the download)
MEMBER_ROWS = 1000


@dataclass
class Workpaper(Deficiencies):
    """The workpaper of one evaluation: the deficiencies (failing counties and their
    members, the recruitment picks, the providers for exception requests) and the
    members outside the service area (each, and by county of residence)."""

    outside: pd.DataFrame = field(default_factory=pd.DataFrame)
    outside_by_county: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The county and provider tables by their run-folder names (no member rows)."""
        tables = {k: v for k, v in super().tables().items() if k != "deficient_members"}
        return {**tables, "outside_by_county": self.outside_by_county}


def workpaper(st: Any, evaluation: Any, *, build: bool = True) -> Workpaper | None:
    """The evaluation's workpaper, built once per session (a few seconds: recruitment per
    failing county) behind a spinner; None when not built yet and ``build`` is false."""
    from adequacy.findings import deficiencies, outside_candidates

    cache = st.session_state.setdefault(CACHE_KEY, {})
    if cache.get("evaluation") is not evaluation:
        if not build:
            return None
        with st.spinner("Building the workpaper: out-of-network supply, recruitment…"):
            found = deficiencies(evaluation)
            outside, by_county = outside_candidates(evaluation)
        cache.clear()  # one workpaper per session: the evaluation shown
        cache["evaluation"] = evaluation
        cache["workpaper"] = Workpaper(
            found.counties, found.members, found.picks, found.providers, outside, by_county
        )
    return cache["workpaper"]


def deficiencies_page(st: Any, evaluation: Any) -> None:
    """Draw the workpaper with ``st`` (the streamlit module), built when asked for."""
    st.subheader("Deficiency workpaper")
    st.caption(
        "Every county and rule whose verdict fails: what it lacks and what would close it. "
        "Building it runs recruitment per failing county (a few seconds); the Downloads "
        "tab gives it as a workbook with the quarterly report and the exception drafts."
    )
    found = workpaper(st, evaluation, build=False)
    if found is None:
        if not st.button("Build the deficiency workpaper", key="build_deficiencies"):
            return
        found = workpaper(st, evaluation)
    horizon = horizons(evaluation)
    if not len(found.counties):
        st.success("No deficiency: every county passes every rule.")
    else:
        show(st, readable(found.counties, COUNTY_COLUMNS, horizon=horizon))
        members = found.members
        st.subheader(f"Members not served: {len(members):,} (member, rule) gaps")
        if len(members) > MEMBER_ROWS:
            st.caption(
                f"The {MEMBER_ROWS:,} farthest are shown; the Downloads tab has all of them."
            )
        farthest = members.sort_values(["miles", "minutes"], ascending=False, kind="stable")
        farthest = farthest.head(MEMBER_ROWS)
        labels = {r.id: r.label for r in evaluation.standards.rules}
        names = {}
        if evaluation.regions is not None:
            regions = evaluation.regions
            names = dict(zip(regions["fips"], regions["name"], strict=True))
        farthest = farthest.assign(
            label=farthest["rule"].map(labels), county=farthest["county_fips"].map(names)
        )
        show(st, readable(farthest, MEMBER_COLUMNS, horizon=horizon, sort=False))
        st.download_button(
            "Deficiencies (CSV)",
            found.counties.to_csv(index=False),
            "deficiencies.csv",
            "text/csv",
        )
    if len(found.outside_by_county):
        st.subheader("Members outside the service area, by county of residence")
        show(st, readable(found.outside_by_county, horizon=horizon))
        show(st, readable(found.outside, horizon=horizon))
