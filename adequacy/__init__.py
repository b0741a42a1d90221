"""adequacy: geospatial network adequacy analysis for health plans.

Drive distance and drive time from member residences to providers over
OpenStreetMap road graphs, checked against a plan's access standards.

The sub-packages, in the order a member's row travels through them:
``inputs`` (read and validate), ``network`` (road graphs), ``routing``
(snapping and the k-nearest search), ``engine`` (standards, the judge,
evaluation and summaries), ``runs`` (the run folder), ``whatif`` (scenarios
applied incrementally, recruitment), ``findings`` (the deficiency workpaper,
members outside the area), ``report`` (the quarterly report) and ``frontend``
(what the Streamlit app draws). ``cli`` and ``demo`` sit on top.
"""

__version__ = "0.1.0"

from adequacy.engine import Evaluation, Settings, StandardsSet, evaluate, load_standards  # noqa: E402
from adequacy.errors import InputError  # noqa: E402
from adequacy.network import RoadGraph, SpeedProfile, load_road_graph  # noqa: E402
from adequacy.routing import NearestResult, nearest_providers, snap_points  # noqa: E402

__all__ = [
    "Evaluation",
    "InputError",
    "NearestResult",
    "RoadGraph",
    "Settings",
    "SpeedProfile",
    "StandardsSet",
    "__version__",
    "evaluate",
    "load_road_graph",
    "load_standards",
    "nearest_providers",
    "snap_points",
]
