"""adequacy: geospatial network adequacy analysis for health plans.

Drive distance and drive time from member residences to providers over
OpenStreetMap road graphs, checked against a plan's access standards.
"""

__version__ = "0.1.0"

from .errors import InputError  # noqa: E402
from .evaluate import Evaluation, evaluate  # noqa: E402
from .network import RoadGraph, load_road_graph  # noqa: E402
from .routing import NearestResult, nearest_providers, snap_points  # noqa: E402
from .speeds import SpeedProfile  # noqa: E402
from .standards import StandardsSet, load_standards  # noqa: E402

__all__ = [
    "Evaluation",
    "InputError",
    "NearestResult",
    "RoadGraph",
    "SpeedProfile",
    "StandardsSet",
    "__version__",
    "evaluate",
    "load_road_graph",
    "load_standards",
    "nearest_providers",
    "snap_points",
]
