"""Access standards: the rule model and its YAML files.

A *standards set* is a YAML file with a name, a version and a list of rules.
A rule names a provider type (and optionally a specialty), a count ``k``, a
distance limit in miles and a time limit in minutes, how they combine (``or``
by default: "within 15 miles or 30 minutes"), optional limits per region class
(urban/rural), the share of members that must meet it for a county to pass,
an optional access ratio, and an evaluation cadence. See the README for the
meaning of each key; ``adequacy/standards/*.yaml`` are the sets that ship.

Meaning (DESIGN.md, "The meaning of a standard"):

- a provider *qualifies* for a member when its distance is within the mile
  limit, or (``or``) / and (``and``) its fastest road time is within the minute
  limit; the distance is the set's ``distance_basis``: the shortest road
  distance (``shortest``), the length of the fastest route (``fastest_route``)
  or the great-circle distance (``straight_line``);
- a member *meets* the rule when at least ``count`` distinct providers qualify;
- a county *passes* when the share of its members meeting the rule reaches the
  threshold; the ratio passes when members per provider is at most the limit.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adequacy.errors import InputError
from adequacy.inputs.schemas import PROVIDER_TYPES, canonical_provider_type
from adequacy.inputs.yamlfile import read_yaml_mapping
from adequacy.routing.routes import DISTANCE_BASES

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
DEFAULT_STANDARDS = "seed-manual"

SET_KEYS = {
    "name": "short name of the set",
    "version": "version of the set (change it when a rule changes)",
    "title": "one-line title for reports",
    "source": "where the standards come from",
    "threshold": "default share of members that must meet each rule (0-1]",
    "urban_density_per_sq_mi": "people per square mile at which a county is urban",
    "annual_quarter": "quarter (1-4) in which annual rules are reported",
    "provider_types": "extra provider types this set defines",
    "binding": "default for every rule: which verdict components bind "
    "({ratio, min_providers, languages})",
    "distance_basis": "how miles are measured: 'shortest' road distance, 'fastest_route' "
    "(length of the time-optimal route) or 'straight_line' (default shortest)",
    "rules": "the list of rules",
}
RULE_KEYS = {
    "id": "short unique id of the rule",
    "label": "name shown in tables and reports",
    "provider_type": "provider type the rule is about",
    "specialty": "a specialty, 'high_volume' (top N by claims) or 'each'",
    "top": "how many high-volume specialties (default 5)",
    "count": "how many distinct providers must qualify (k)",
    "miles": "distance limit in miles",
    "minutes": "time limit in minutes",
    "combine": "'or' (either limit) or 'and' (both)",
    "by_region_class": "limits per region class, e.g. {urban: {miles: 10, minutes: 30}}",
    "threshold": "share of members that must meet the rule (0-1]",
    "ratio": "access ratio: {members_per_provider, basis, closed_panels}",
    "cadence": "'quarterly' or 'annual'",
    "languages": "also evaluate per prevalent language over concordant providers",
    "min_providers": "at least this many in-network providers of the type in each county",
    "binding": "which verdict components fail the rule: {ratio, min_providers, languages}",
}
RATIO_KEYS = {
    "members_per_provider": "at most this many members per provider",
    "basis": "'headcount' or 'fte'",
    "closed_panels": "'exclude' closed panels from the count, or 'count' them",
    "scope": "where the ratio is checked: 'both' (each county and the service area), "
    "'county' or 'service_area'",
}
BINDING_KEYS = {
    "ratio": "a failing access ratio fails the rule (default true)",
    "min_providers": "too few providers in a county fails the rule (default true)",
    "languages": "a failing language-concordant result fails the rule (default false: "
    "reported as a finding)",
}
LIMIT_KEYS = {"miles": "distance limit", "minutes": "time limit", "combine": "'or' or 'and'"}


@dataclass(frozen=True)
class Ratio:
    """At most ``members_per_provider`` members per provider."""

    members_per_provider: float
    basis: str = "headcount"
    closed_panels: str = "count"
    scope: str = "both"

    def applies_to(self, level: str) -> bool:
        """Whether the ratio is checked at ``level`` ('county' or 'service_area')."""
        return self.scope in ("both", level)


@dataclass(frozen=True)
class Binding:
    """Which verdict components fail a rule when they fail.

    The time/distance share always binds. A non-binding component that fails
    is reported as a finding beside a passing verdict, never hidden.
    """

    ratio: bool = True
    min_providers: bool = True
    languages: bool = False


@dataclass(frozen=True)
class Limits:
    """A distance and/or time limit and how they combine."""

    miles: float | None
    minutes: float | None
    combine: str = "or"

    def text(self, *, short: bool = True) -> str:
        """'15 mi or 30 min' (``short``) or '15 miles or 30 minutes', with this
        limit set's own 'or'/'and'."""
        mi, mins = ("mi", "min") if short else ("miles", "minutes")
        parts = []
        if self.miles is not None:
            parts.append(f"{self.miles:g} {mi}")
        if self.minutes is not None:
            parts.append(f"{self.minutes:g} {mins}")
        return f" {self.combine} ".join(parts)


@dataclass(frozen=True)
class Rule:
    """One access standard (see the module docstring for its meaning)."""

    id: str
    label: str
    provider_type: str
    count: int
    limits: Limits
    threshold: float
    cadence: str = "quarterly"
    specialty: str | None = None
    top: int = 5
    by_region_class: Mapping[str, Limits] = field(default_factory=dict)
    ratio: Ratio | None = None
    languages: bool = False
    min_providers: int | None = None
    binding: Binding = field(default_factory=Binding)

    def limits_for(self, region_class: str | None) -> Limits:
        """The limits for members in a region of this class."""
        if region_class is not None and region_class in self.by_region_class:
            return self.by_region_class[region_class]
        return self.limits

    def all_limits(self) -> list[Limits]:
        return [self.limits, *self.by_region_class.values()]

    @property
    def max_miles(self) -> float | None:
        values = [lim.miles for lim in self.all_limits() if lim.miles is not None]
        return max(values) if values else None

    @property
    def max_minutes(self) -> float | None:
        values = [lim.minutes for lim in self.all_limits() if lim.minutes is not None]
        return max(values) if values else None

    @property
    def needs_expansion(self) -> bool:
        return self.specialty in ("high_volume", "each")

    def describe(self) -> str:
        """e.g. '2 within 15 mi or 30 min; 1:200'."""
        text = f"{self.count} within {self.limits.text()}"
        for cls, limits in self.by_region_class.items():
            text += f"; {cls}: {limits.text()}"
        if self.ratio is not None:
            text += f"; 1:{self.ratio.members_per_provider:g}"
        if self.min_providers is not None:
            text += f"; at least {self.min_providers} per county"
        return text

    def sentence(self) -> str:
        """The rule in words, for reports: each limit set with its own 'or'/'and'.

        e.g. 'At least 2 in-network providers within 15 miles or 30 minutes of
        the member's home by road, for at least 90% of members in each county
        (rural counties: 30 miles and 45 minutes); at most 200 members per
        provider. Reported quarterly.'
        """
        k = self.count
        text = (
            f"At least {k} in-network provider{'s' if k > 1 else ''} within "
            f"{self.limits.text(short=False)} of the member's home by road, for at least "
            f"{self.threshold:.0%} of members in each county"
        )
        for cls, limits in self.by_region_class.items():
            text += f" ({cls} counties: {limits.text(short=False)})"
        if self.ratio is not None:
            text += f"; at most {self.ratio.members_per_provider:,.0f} members per provider"
        if self.min_providers is not None:
            text += f"; at least {self.min_providers} in-network providers in each county"
        cadence = "annually" if self.cadence == "annual" else self.cadence
        return text + f". Reported {cadence}."


@dataclass(frozen=True)
class StandardsSet:
    """A named, versioned list of rules."""

    name: str
    version: str
    rules: tuple[Rule, ...]
    title: str = ""
    source: str = ""
    threshold: float = 0.9
    urban_density_per_sq_mi: float = 250.0
    annual_quarter: int = 4
    provider_types: tuple[str, ...] = ()
    distance_basis: str = "shortest"
    path: str = ""
    sha256: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise InputError(
            f"standards {self.label}: no rule {rule_id!r}; rules are: "
            f"{', '.join(r.id for r in self.rules)}"
        )

    def expand(
        self, high_volume: Iterable[str] = (), specialties: Iterable[str] = ()
    ) -> StandardsSet:
        """Rules with ``specialty: high_volume`` / ``each`` become one rule per specialty.

        ``high_volume`` is the claims ranking (most claims first); ``specialties``
        the specialties present in the network.
        """
        high_volume, specialties = list(high_volume), sorted(set(specialties))
        rules = []
        for rule in self.rules:
            if not rule.needs_expansion:
                rules.append(rule)
                continue
            chosen = high_volume[: rule.top] if rule.specialty == "high_volume" else specialties
            for spec in chosen:
                rules.append(
                    replace(
                        rule,
                        id=f"{rule.id}:{spec}",
                        label=f"{rule.label}: {spec.title()}",
                        specialty=spec,
                    )
                )
        return replace(self, rules=tuple(rules))

    def for_period(self, quarter: int | None) -> StandardsSet:
        """Rules due in a quarter: quarterly ones always, annual ones in ``annual_quarter``."""
        if quarter is None:
            return self
        return replace(
            self,
            rules=tuple(
                r for r in self.rules if r.cadence == "quarterly" or quarter == self.annual_quarter
            ),
        )

    def due_in(self, quarter: int) -> tuple[list[Rule], list[Rule]]:
        """Rules reported in a quarter (:meth:`for_period`'s) and the annual ones that are not."""
        due = self.for_period(quarter).rules
        return list(due), [r for r in self.rules if r not in due]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StandardsSet:
        """The set as :meth:`to_dict` wrote it (a run manifest's ``standards``): rules
        already expanded per specialty and period."""

        def limits(d: Mapping[str, Any]) -> Limits:
            return Limits(d.get("miles"), d.get("minutes"), d.get("combine") or "or")

        rules = tuple(
            Rule(
                id=str(r["id"]),
                label=str(r.get("label") or r["id"]),
                provider_type=str(r["provider_type"]),
                count=int(r.get("count") or 1),
                limits=limits(r),
                threshold=float(r.get("threshold", data.get("threshold", 0.9))),
                cadence=str(r.get("cadence") or "quarterly"),
                specialty=r.get("specialty"),
                by_region_class={
                    str(k): limits(v) for k, v in (r.get("by_region_class") or {}).items()
                },
                ratio=Ratio(**r["ratio"]) if r.get("ratio") else None,
                languages=bool(r.get("languages")),
                min_providers=r.get("min_providers"),
                binding=Binding(**(r.get("binding") or {})),
            )
            for r in data.get("rules") or []
        )
        return cls(
            name=str(data.get("name", "")),
            version=str(data.get("version", "")),
            rules=rules,
            title=str(data.get("title") or ""),
            source=str(data.get("source") or ""),
            threshold=float(data.get("threshold", 0.9)),
            urban_density_per_sq_mi=float(data.get("urban_density_per_sq_mi", 250.0)),
            annual_quarter=int(data.get("annual_quarter") or 4),
            distance_basis=str(data.get("distance_basis") or "shortest"),
            sha256=str(data.get("sha256") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "source": self.source,
            "sha256": self.sha256,
            "threshold": self.threshold,
            "urban_density_per_sq_mi": self.urban_density_per_sq_mi,
            "annual_quarter": self.annual_quarter,
            "distance_basis": self.distance_basis,
            "rules": [
                {
                    "id": r.id,
                    "label": r.label,
                    "provider_type": r.provider_type,
                    "specialty": r.specialty,
                    "count": r.count,
                    "miles": r.limits.miles,
                    "minutes": r.limits.minutes,
                    "combine": r.limits.combine,
                    "by_region_class": {k: vars(v) for k, v in r.by_region_class.items()},
                    "threshold": r.threshold,
                    "cadence": r.cadence,
                    "ratio": vars(r.ratio) if r.ratio else None,
                    "languages": r.languages,
                    "min_providers": r.min_providers,
                    "binding": vars(r.binding),
                    "describe": r.describe(),
                }
                for r in self.rules
            ],
        }


def builtin_standards() -> list[str]:
    """Names of the standards sets that ship with the package."""
    return sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml"))


def load_standards(
    source: str | os.PathLike | Mapping | StandardsSet = DEFAULT_STANDARDS,
) -> StandardsSet:
    """Load a standards set: a built-in name, a YAML path, or a dict of the same shape."""
    if isinstance(source, StandardsSet):
        return source
    if isinstance(source, Mapping):
        return _parse(dict(source), "standards", "", "")
    data, path, sha = read_yaml_mapping(
        source, what="standards", builtin_dir=STANDARDS_DIR, shape="name, version and rules"
    )
    return _parse(data, str(path), str(path), sha)


# ---------------------------------------------------------------------------
# parsing with messages that name the key
# ---------------------------------------------------------------------------
def _unknown_keys(where: str, data: Mapping, allowed: Mapping[str, str], label: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            raise InputError(f"{label}: {where}{key}: unknown key; {hint}")


def _number(
    label: str, where: str, value: Any, *, positive: bool = True, upper: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{label}: {where}: must be a number, not {value!r}")
    if positive and value <= 0:
        raise InputError(f"{label}: {where}: must be greater than 0, not {value}")
    if upper is not None and value > upper:
        raise InputError(f"{label}: {where}: must be at most {upper:g}, not {value}")
    return float(value)


def _choice(label: str, where: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InputError(f"{label}: {where}: must be one of {', '.join(options)}, not {value!r}")
    return value


def _limits(label: str, where: str, data: Any, default_combine: str = "or") -> Limits:
    if not isinstance(data, Mapping):
        raise InputError(f"{label}: {where}: must be a mapping with miles and/or minutes")
    _unknown_keys(f"{where}.", data, LIMIT_KEYS, label)
    miles = (
        _number(label, f"{where}.miles", data["miles"]) if data.get("miles") is not None else None
    )
    minutes = (
        _number(label, f"{where}.minutes", data["minutes"])
        if data.get("minutes") is not None
        else None
    )
    if miles is None and minutes is None:
        raise InputError(f"{label}: {where}: give miles, minutes or both")
    combine = _choice(
        label, f"{where}.combine", data.get("combine", default_combine), ("or", "and")
    )
    return Limits(miles, minutes, combine)


def _binding(label: str, where: str, data: Any, default: Binding) -> Binding:
    if data is None:
        return default
    if not isinstance(data, Mapping):
        raise InputError(
            f"{label}: {where}: must be a mapping such as {{ratio: true, languages: false}}"
        )
    _unknown_keys(f"{where}.", data, BINDING_KEYS, label)
    values = vars(default).copy()
    for key, value in data.items():
        if not isinstance(value, bool):
            raise InputError(f"{label}: {where}.{key}: must be true or false, not {value!r}")
        values[key] = value
    return Binding(**values)


def _parse(data: dict, label: str, path: str, sha: str) -> StandardsSet:
    _unknown_keys("", data, SET_KEYS, label)
    for key in ("name", "rules"):
        if key not in data:
            raise InputError(
                f"{label}: {key}: missing; a standards file needs name, version and rules"
            )
    threshold = _number(label, "threshold", data.get("threshold", 0.9), upper=1.0)
    density = _number(label, "urban_density_per_sq_mi", data.get("urban_density_per_sq_mi", 250))
    quarter = data.get("annual_quarter", 4)
    if quarter not in (1, 2, 3, 4):
        raise InputError(f"{label}: annual_quarter: must be 1, 2, 3 or 4, not {quarter!r}")
    declared = data.get("provider_types", []) or []
    if not isinstance(declared, list):
        raise InputError(
            f"{label}: provider_types: must be a list of type names, e.g. [dialysis, lab]"
        )
    extra_types = tuple(str(t) for t in declared)
    default_binding = _binding(label, "binding", data.get("binding"), Binding())
    basis = _choice(label, "distance_basis", data.get("distance_basis", "shortest"), DISTANCE_BASES)
    rules_data = data["rules"]
    if not isinstance(rules_data, list) or not rules_data:
        raise InputError(f"{label}: rules: must be a non-empty list of rules")
    rules, seen = [], set()
    for i, item in enumerate(rules_data):
        where = f"rules[{i}]"
        if not isinstance(item, Mapping):
            raise InputError(f"{label}: {where}: each rule is a mapping (id, provider_type, ...)")
        _unknown_keys(f"{where}.", item, RULE_KEYS, label)
        for key in ("id", "provider_type"):
            if key not in item:
                raise InputError(f"{label}: {where}.{key}: missing")
        rule_id = str(item["id"])
        if rule_id in seen:
            raise InputError(f"{label}: {where}.id: duplicate rule id {rule_id!r}")
        seen.add(rule_id)
        ptype = canonical_provider_type(item["provider_type"], extra_types)
        if ptype is None:
            known = ", ".join([*PROVIDER_TYPES, *extra_types])
            raise InputError(
                f"{label}: {where}.provider_type: unknown type "
                f"{item['provider_type']!r}; use one of: {known} (or declare it "
                "under provider_types)"
            )
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(f"{label}: {where}.count: must be a whole number of at least 1")
        base = {k: item[k] for k in ("miles", "minutes", "combine") if k in item}
        by_class = {}
        classes = item.get("by_region_class") or {}
        if not isinstance(classes, Mapping):
            raise InputError(
                f"{label}: {where}.by_region_class: must be a mapping such as "
                "{urban: {miles: 10}, rural: {miles: 30}}"
            )
        for cls, lim in classes.items():
            merged = {**base, **lim} if isinstance(lim, Mapping) else lim
            by_class[str(cls).lower()] = _limits(label, f"{where}.by_region_class.{cls}", merged)
        if base.get("miles") is None and base.get("minutes") is None:
            if not by_class:
                raise InputError(
                    f"{label}: {where}: give miles, minutes or both (or by_region_class)"
                )
            limits = max(by_class.values(), key=lambda lim: (lim.miles or 0, lim.minutes or 0))
        else:
            limits = _limits(label, where, base)
        ratio = None
        if item.get("ratio") is not None:
            rdata = item["ratio"]
            if not isinstance(rdata, Mapping):
                raise InputError(
                    f"{label}: {where}.ratio: must be a mapping with members_per_provider"
                )
            _unknown_keys(f"{where}.ratio.", rdata, RATIO_KEYS, label)
            if "members_per_provider" not in rdata:
                raise InputError(f"{label}: {where}.ratio.members_per_provider: missing")
            ratio = Ratio(
                _number(
                    label, f"{where}.ratio.members_per_provider", rdata["members_per_provider"]
                ),
                _choice(
                    label,
                    f"{where}.ratio.basis",
                    rdata.get("basis", "headcount"),
                    ("headcount", "fte"),
                ),
                _choice(
                    label,
                    f"{where}.ratio.closed_panels",
                    rdata.get("closed_panels", "count"),
                    ("count", "exclude"),
                ),
                _choice(
                    label,
                    f"{where}.ratio.scope",
                    rdata.get("scope", "both"),
                    ("both", "county", "service_area"),
                ),
            )
        specialty = item.get("specialty")
        top = item.get("top", 5)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise InputError(f"{label}: {where}.top: must be a whole number of at least 1")
        languages = item.get("languages", False)
        if not isinstance(languages, bool):
            raise InputError(f"{label}: {where}.languages: must be true or false")
        min_providers = item.get("min_providers")
        if min_providers is not None and (
            isinstance(min_providers, bool)
            or not isinstance(min_providers, int)
            or min_providers < 1
        ):
            raise InputError(
                f"{label}: {where}.min_providers: must be a whole number of at least 1"
            )
        binding = _binding(label, f"{where}.binding", item.get("binding"), default_binding)
        rules.append(
            Rule(
                id=rule_id,
                label=str(item.get("label", rule_id)),
                provider_type=ptype,
                count=count,
                limits=limits,
                threshold=_number(
                    label, f"{where}.threshold", item.get("threshold", threshold), upper=1.0
                ),
                cadence=_choice(
                    label,
                    f"{where}.cadence",
                    item.get("cadence", "quarterly"),
                    ("quarterly", "annual"),
                ),
                specialty=str(specialty).strip().lower() if specialty is not None else None,
                top=top,
                by_region_class=by_class,
                ratio=ratio,
                languages=languages,
                min_providers=min_providers,
                binding=binding,
            )
        )
    return StandardsSet(
        name=str(data["name"]),
        version=str(data.get("version", "1")),
        rules=tuple(rules),
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
        threshold=threshold,
        urban_density_per_sq_mi=density,
        annual_quarter=quarter,
        provider_types=extra_types,
        distance_basis=basis,
        path=path,
        sha256=sha,
    )
