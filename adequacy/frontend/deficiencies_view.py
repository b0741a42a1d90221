"""The app's deficiency view: the workpaper of :mod:`adequacy.findings`, on request.

Owns: ``deficiencies_page``. Uses: :mod:`adequacy.findings` (the tables) and
streamlit, given by the caller. Members appear by ID only.
"""

from __future__ import annotations

from typing import Any

from adequacy.findings import deficiencies, outside_candidates

HEADERS = {
    "label": "Rule",
    "language": "Language",
    "county": "County",
    "verdict_reasons": "Why it fails",
    "members_short": "Members short of the threshold",
    "providers_needed_for_ratio": "Providers needed (ratio)",
    "providers_short_of_minimum": "Providers below the minimum",
    "members_with_out_of_network_within_limits": "Unserved with an out-of-network provider "
    "within limits",
    "recruitment_sites": "Sites that close the gap",
    "recruitment_note": "Recruitment",
}


def deficiencies_page(st: Any, evaluation: Any) -> None:
    """Draw the workpaper with ``st`` (the streamlit module), built when asked for."""
    st.subheader("Deficiency workpaper")
    st.caption(
        "Every county and rule whose verdict fails: what it lacks and what would close it. "
        "Building it runs recruitment per failing county (a few seconds)."
    )
    cache = st.session_state.setdefault("_deficiencies", {})
    key = id(evaluation)
    if key not in cache:
        if not st.button("Build the deficiency workpaper", key="build_deficiencies"):
            return
        cache.clear()
        with st.spinner("Building the workpaper: out-of-network supply, recruitment…"):
            cache[key] = (deficiencies(evaluation), *outside_candidates(evaluation))
    found, outside, by_county = cache[key]
    table = found.counties
    if not len(table):
        st.success("No deficiency: every county passes every rule.")
    else:
        st.dataframe(table[list(HEADERS)].rename(columns=HEADERS), hide_index=True, width="stretch")
        st.subheader(f"Members not served: {len(found.members):,} (member, rule) gaps")
        st.dataframe(found.members.head(1000), hide_index=True, width="stretch")
        st.download_button(
            "Deficiencies (CSV)", table.to_csv(index=False), "deficiencies.csv", "text/csv"
        )
    if len(by_county):
        st.subheader("Members outside the service area, by county of residence")
        st.dataframe(by_county, hide_index=True, width="stretch")
        st.dataframe(outside, hide_index=True, width="stretch")
