"""Standards files: reading a standards set's YAML, with messages that name the key.

Owns: ``load_standards``, ``builtin_standards`` and the key tables that say what
each YAML key means (``SET_KEYS``, ``RULE_KEYS``, ...). Uses: the standards
model (:mod:`adequacy.engine.standards`) and :mod:`adequacy.inputs.yamlfile`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from adequacy.engine.standards import (
    DEFAULT_STANDARDS,
    STANDARDS_DIR,
    Binding,
    Limits,
    Ratio,
    Rule,
    StandardsSet,
)
from adequacy.errors import InputError
from adequacy.inputs.schemas import PROVIDER_TYPES, canonical_provider_type
from adequacy.inputs.yamlfile import read_yaml_mapping
from adequacy.routing.routes import DISTANCE_BASES

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
    "reference": "rules built at evaluation from a reference file (cms-ma: CMS's HSD "
    "Reference File) and the terms of the regulation",
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
        if key not in data and not (key == "rules" and "reference" in data):
            raise InputError(
                f"{label}: {key}: missing; a standards file needs name, version and rules"
            )
    reference = data.get("reference")
    if reference is not None and not isinstance(reference, Mapping):
        raise InputError(f"{label}: reference: must be a mapping of the regulation's terms")
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
    rules_data = data.get("rules", [])
    if reference is not None and not rules_data:
        rules_data = []
    elif not isinstance(rules_data, list) or not rules_data:
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
        reference=dict(reference) if reference is not None else None,
        path=path,
        sha256=sha,
    )
