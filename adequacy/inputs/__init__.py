"""Inputs: the tables a user gives, read and validated, every problem listed at once.

Owns the file reader and problem collector (``tables``), the members,
providers, claims and Census-language schemas (``schemas``), county polygons
and their urban/rural class (``regions``), prevalent languages
(``languages``), what-if scenario files (``scenario``) and appointment-availability
surveys (``surveys``). Uses only :mod:`adequacy.errors` and
:mod:`adequacy.units`. Coordinates are WGS84 longitude/latitude.
"""

from adequacy.inputs.regions import read_regions
from adequacy.inputs.scenario import Scenario, Termination, read_scenario
from adequacy.inputs.schemas import (
    read_census_languages,
    read_claims,
    read_members,
    read_providers,
)
from adequacy.inputs.surveys import read_survey

__all__ = [
    "Scenario",
    "Termination",
    "read_census_languages",
    "read_claims",
    "read_members",
    "read_providers",
    "read_regions",
    "read_scenario",
    "read_survey",
]
