"""Colours, attribution and the synthetic-data note shared by the report and the app.

Owns: the visual constants. Uses: nothing.
"""

from __future__ import annotations

OSM_ATTRIBUTION = "Road data © OpenStreetMap contributors (ODbL)"
FAIL_COLOUR = "#b2182b"
PASS_COLOUR = "#1a7837"


#: Figure annotation on every map made from synthetic (demo) rows.
SYNTHETIC_NOTE = {
    "text": "SYNTHETIC DEMO DATA",
    "showarrow": False,
    "xref": "paper",
    "yref": "paper",
    "x": 0,
    "y": 1.0,
    "xanchor": "left",
    "font": {"size": 11, "color": FAIL_COLOUR},
}


def map_value(share: float, fails: bool | None, threshold: float) -> float:
    """The value a county is coloured by: its share meeting the time/distance standard,
    kept below the threshold's colour when the verdict fails (a county that fails on its
    ratio or minimum providers is never drawn green)."""
    if fails and share >= threshold:
        return min(max(threshold, 0.01), 0.99) * 0.998
    return share
