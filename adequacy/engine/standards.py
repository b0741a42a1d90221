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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adequacy.errors import InputError

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
DEFAULT_STANDARDS = "seed-manual"


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
class CountyTerms:
    """A rule's terms in one county, where they differ county by county (CMS's
    Medicare Advantage standards customise the limits per county; the threshold
    follows the county type, less any credit; the minimum follows its
    beneficiaries).

    ``min_unit`` is ``providers`` (distinct providers within the county's limits
    of at least one member there) or ``beds`` (their Medicare-certified beds);
    ``note`` says where the terms come from, e.g. 'Large Metro; 90% less the
    10-point telehealth credit', and is shown with the verdict.
    """

    limits: Limits
    threshold: float
    min_providers: int | None = None
    min_unit: str = "providers"
    note: str = ""


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
    counties: Mapping[str, CountyTerms] = field(default_factory=dict)

    def limits_for(self, region_class: str | None, county: str | None = None) -> Limits:
        """The limits for members in a county (its own terms first) or a region class."""
        if county is not None and county in self.counties:
            return self.counties[county].limits
        if region_class is not None and region_class in self.by_region_class:
            return self.by_region_class[region_class]
        return self.limits

    def threshold_for(self, county: str | None) -> float:
        """The share of members that must meet the rule in a county."""
        terms = self.counties.get(county) if county is not None else None
        return terms.threshold if terms is not None else self.threshold

    def min_providers_for(self, county: str | None) -> int | None:
        """The minimum number of providers (or beds) in a county, or None."""
        terms = self.counties.get(county) if county is not None else None
        return terms.min_providers if terms is not None else self.min_providers

    def all_limits(self) -> list[Limits]:
        return [
            self.limits,
            *self.by_region_class.values(),
            *(t.limits for t in self.counties.values()),
        ]

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
        if self.counties:
            text += f"; terms set per county ({len(self.counties)})"
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
        if self.counties:
            text += (
                "; the limits, the share and the minimum number are set county by county "
                "(see each county's row)"
            )
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
    reference: Mapping[str, Any] | None = None
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
                counties={
                    str(f): CountyTerms(
                        limits=limits(t),
                        threshold=float(t["threshold"]),
                        min_providers=t.get("min_providers"),
                        min_unit=str(t.get("min_unit") or "providers"),
                        note=str(t.get("note") or ""),
                    )
                    for f, t in (r.get("counties") or {}).items()
                },
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
                    "counties": {
                        f: {**vars(t.limits), **{k: v for k, v in vars(t).items() if k != "limits"}}
                        for f, t in r.counties.items()
                    },
                    "describe": r.describe(),
                }
                for r in self.rules
            ],
        }


# reading YAML files: its own module, re-exported here (the model above comes first)
from adequacy.engine.standards_yaml import (  # noqa: E402
    BINDING_KEYS,
    LIMIT_KEYS,
    RATIO_KEYS,
    RULE_KEYS,
    SET_KEYS,
    _number,
    _unknown_keys,
    builtin_standards,
    load_standards,
)

__all__ = [
    "BINDING_KEYS",
    "DEFAULT_STANDARDS",
    "LIMIT_KEYS",
    "RATIO_KEYS",
    "RULE_KEYS",
    "SET_KEYS",
    "STANDARDS_DIR",
    "Binding",
    "CountyTerms",
    "Limits",
    "Ratio",
    "Rule",
    "StandardsSet",
    "builtin_standards",
    "load_standards",
    "_number",
    "_unknown_keys",
]
