"""The settings a run depends on, beyond its input files and standards.

:class:`Settings` is frozen: an evaluation takes one, the run folder's
manifest stores it (``Settings.to_dict``) and re-evaluating a run folder
restores all of it (``Settings.from_dict``), so ``whatif``, ``recruit``, the
report and the app's run view work on exactly what was evaluated.

Owns: ``Settings`` and ``parse_period``. Uses: :mod:`adequacy.errors` and the
snapping defaults of :mod:`adequacy.routing`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from adequacy.errors import InputError
from adequacy.routing.routes import DISTANCE_BASES
from adequacy.routing.snap import DEFAULT_MAX_SNAP_METERS, DEFAULT_SNAP_SPEED_MPH

_PERIOD = re.compile(r"(\d{4})[-\s]?Q([1-4])", re.I)


def parse_period(period: str) -> tuple[int, int]:
    """(year, quarter) of a reporting period such as '2026Q3' or '2026-Q3'."""
    m = _PERIOD.fullmatch(str(period).strip())
    if not m:
        raise InputError(f"--period {period!r}: give a quarter such as 2026Q3")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Settings:
    """How a run is evaluated; every field is recorded in the run's manifest.

    Parameters
    ----------
    quarter
        Reporting quarter (1-4): quarterly rules always, annual rules in the
        standards' ``annual_quarter``. None evaluates every rule.
    count_cap
        Providers counted per member and rule (``n_qualifying`` stops there,
        and at least at the rule's count). None: the rule's count plus one,
        which tells whether a member who meets a rule has a provider to spare.
    max_report_miles, max_report_minutes
        Search horizon for reporting distances and times past a limit (or the
        rule's own limit if larger); beyond it values are infinity.
    max_snap_meters
        Points farther than this from any road are flagged ``off_road``.
    snap_speed_mph
        Speed of the straight-line leg from a point to its road node.
    min_language_members, min_census_speakers
        A language is prevalent in a county with this many Census speakers
        aged 5+ (with a Census table), or else this many members speaking it.
    distance_basis
        How miles are measured: ``shortest`` (the shortest road distance),
        ``fastest_route`` (the length of the time-optimal route, what the
        member would drive) or ``straight_line`` (great-circle distance between
        the two points). None: the standards set's own ``distance_basis``; an
        evaluation records the basis it used.
    chunk_members
        Members judged at once (:mod:`adequacy.engine.passes`): bounds the memory
        the member side takes, whatever the number of members; results do not
        depend on it. None (the default): 500,000 when the member results stream
        to a file (``evaluate(results_path=...)``, ``adequacy evaluate``), and all
        members at once when they are held in memory, where the whole table is
        kept anyway (each block of results is copied into its rows as it is judged).
    """

    quarter: int | None = None
    count_cap: int | None = None
    max_report_miles: float = 100.0
    max_report_minutes: float = 120.0
    max_snap_meters: float = DEFAULT_MAX_SNAP_METERS
    snap_speed_mph: float = DEFAULT_SNAP_SPEED_MPH
    min_language_members: int = 50
    min_census_speakers: int = 10_000
    distance_basis: str | None = None
    chunk_members: int | None = None

    def __post_init__(self) -> None:
        if self.quarter is not None and self.quarter not in (1, 2, 3, 4):
            raise InputError(f"quarter must be 1, 2, 3 or 4, not {self.quarter!r}")
        if self.chunk_members is not None and int(self.chunk_members) < 1:
            raise InputError(f"chunk_members must be at least 1, not {self.chunk_members!r}")
        if self.count_cap is not None and int(self.count_cap) < 1:
            raise InputError(f"count_cap must be at least 1, not {self.count_cap!r}")
        for name in ("max_report_miles", "max_report_minutes", "max_snap_meters", "snap_speed_mph"):
            value = getattr(self, name)
            if not value > 0:
                raise InputError(f"{name} must be greater than 0, not {value!r}")
        if self.distance_basis is not None and self.distance_basis not in DISTANCE_BASES:
            raise InputError(
                f"distance_basis must be one of {', '.join(DISTANCE_BASES)}, "
                f"not {self.distance_basis!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values (for the manifest)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Settings:
        """Settings from a manifest's ``settings``; keys it does not know are ignored
        (a manifest also records derived values such as the language basis)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed; an unknown name is an error naming the valid ones."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(
                f"unknown setting {unknown[0]!r}; settings are {', '.join(sorted(names))}"
            )
        return type(self)(**{**asdict(self), **changes})
