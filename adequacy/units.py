"""Units and conversion factors used across the package.

Distances on road graphs are meters and times are seconds; standards and
reports speak miles and minutes. Every conversion goes through these names.
"""

from __future__ import annotations

#: Meters in one international mile.
METERS_PER_MILE = 1609.344
#: Seconds in one minute.
SECONDS_PER_MINUTE = 60.0
#: One mile per hour in meters per second.
MPH_TO_METERS_PER_SECOND = 0.44704
#: One kilometre per hour in miles per hour.
KMH_TO_MPH = 1 / 1.609344
#: Square meters in one square mile.
SQ_METERS_PER_SQ_MILE = METERS_PER_MILE**2
