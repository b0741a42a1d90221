"""The adequacy engine: standards, the judge, searching and judging, summaries.

Owns, in reading order: ``standards`` (the rule model and its YAML sets),
``settings`` (what else a run depends on), ``judge`` (the only place that
decides whether a provider qualifies, a share or ratio passes, which county
a point is in and how large a panel is), ``engine`` (one k-nearest search per
provider key, members judged from its labels), ``summaries`` and ``panels``
(the tables), ``appointments`` (wait-time survey compliance) and
``evaluate`` (the pipeline). Uses :mod:`adequacy.inputs`,
:mod:`adequacy.network` and :mod:`adequacy.routing`.
"""

from adequacy.engine.appointments import appointment_compliance, load_appointment_standards
from adequacy.engine.engine import Engine, MemberState, SearchKey
from adequacy.engine.evaluate import Evaluation, evaluate
from adequacy.engine.search import Search
from adequacy.engine.settings import Settings, parse_period
from adequacy.engine.standards import (
    DEFAULT_STANDARDS,
    Rule,
    StandardsSet,
    builtin_standards,
    load_standards,
)

__all__ = [
    "appointment_compliance",
    "load_appointment_standards",
    "DEFAULT_STANDARDS",
    "Engine",
    "Evaluation",
    "MemberState",
    "Rule",
    "Search",
    "SearchKey",
    "Settings",
    "StandardsSet",
    "builtin_standards",
    "evaluate",
    "load_standards",
    "parse_period",
]
