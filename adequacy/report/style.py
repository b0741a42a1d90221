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
