"""Scenario files: providers added, joining and terminated, as YAML or JSON.

A :class:`Scenario` is the base network plus providers added (full roster
rows), out-of-network providers who join and providers terminated (by id,
optionally from an effective date)::

    name: Dr Lee retires, Eastside Clinic joins
    as_of: 2026-12-31            # terminations effective later are listed, not applied
    join: [SYN-OON-PCP-0003]     # out-of-network providers in the base roster
    terminate:
      - {provider_id: SYN-PCP-0042, effective: 2026-12-01, reason: retirement}
    add:                         # full provider rows, as in a roster file
      - {provider_id: NEW-1, provider_type: pcp, lat: 42.35, lon: -71.06}

Owns: reading, checking and saving scenarios. Uses: :mod:`adequacy.errors`.
Applying one to an evaluation is :mod:`adequacy.whatif`'s job.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from adequacy.errors import InputError
from adequacy.inputs.tables import read_text
from adequacy.inputs.yamlfile import load_yaml


@dataclass
class Termination:
    provider_id: str
    effective: date | None = None
    reason: str = ""


@dataclass
class Scenario:
    """Providers added, joining and terminated; see the module docstring."""

    name: str = "scenario"
    description: str = ""
    add: pd.DataFrame = field(default_factory=pd.DataFrame)
    join: list[str] = field(default_factory=list)
    terminate: list[Termination] = field(default_factory=list)
    as_of: date | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "join": list(self.join),
            "terminate": [
                {
                    "provider_id": t.provider_id,
                    "effective": t.effective.isoformat() if t.effective else None,
                    "reason": t.reason,
                }
                for t in self.terminate
            ],
            "add": json.loads(self.add.to_json(orient="records")) if len(self.add) else [],
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the scenario as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() in (".yaml", ".yml"):
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(data, indent=2) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _date(value: Any, where: str, problems: list[str]) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: {value!r} is not a date; write it as 2026-12-31")
        return None


SCENARIO_KEYS = ("name", "description", "as_of", "add", "join", "terminate")


def read_scenario(source: str | os.PathLike | dict) -> Scenario:
    """Read a scenario from a YAML or JSON file (or a dict of the same shape).

    Every problem in the file is reported at once, one line each, naming the entry
    (``terminate[1]``, ``add[0]``) and the fix; invalid YAML or JSON names its line.
    The ``add`` rows are checked as a roster when the scenario is applied.
    """
    if isinstance(source, dict):
        data, label = source, "scenario"
    else:
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise InputError(f"{path}: scenario file not found; check the path")
        if path.is_dir():
            raise InputError(f"{path}: is a folder; give the scenario file (YAML or JSON)")
        text = read_text(path, "scenario")
        data = _parse_text(path, text)
    if not isinstance(data, dict):
        raise InputError(
            f"{label}: a scenario is a mapping with {', '.join(SCENARIO_KEYS)} "
            "(see the README's what-if section)"
        )
    problems: list[str] = []
    for key in sorted(set(data) - set(SCENARIO_KEYS)):
        close = difflib.get_close_matches(str(key), SCENARIO_KEYS, n=1)
        hint = (
            f"did you mean {close[0]!r}?" if close else f"a scenario has {', '.join(SCENARIO_KEYS)}"
        )
        problems.append(f"unknown key {key!r}; {hint}")
    terminate = []
    entries = data.get("terminate") or []
    if not isinstance(entries, list):
        problems.append("terminate is a list of provider ids or {provider_id, effective, reason}")
        entries = []
    for i, item in enumerate(entries):
        where = f"terminate[{i}]"
        if isinstance(item, (str, int)):
            item = {"provider_id": item}
        if not isinstance(item, dict) or not item.get("provider_id"):
            problems.append(f"{where}: give provider_id (and optionally effective, reason)")
            continue
        extra = sorted(set(item) - {"provider_id", "effective", "reason"})
        if extra:
            problems.append(
                f"{where}: unknown key {extra[0]!r}; use provider_id, effective, reason"
            )
        terminate.append(
            Termination(
                str(item["provider_id"]),
                _date(item.get("effective"), where + ".effective", problems),
                str(item.get("reason") or ""),
            )
        )
    join = data.get("join") or []
    if not isinstance(join, list):
        problems.append("join is a list of out-of-network provider ids")
        join = []
    add = data.get("add") or []
    if not isinstance(add, list):
        problems.append("add is a list of provider rows (mappings of provider_id, lat, lon, ...)")
        add = []
    for i, row in enumerate(add):
        if not isinstance(row, dict):
            problems.append(f"add[{i}]: a provider row is a mapping of provider_id, lat, lon, ...")
            continue
        lacking = [
            k for k in ("provider_id", "provider_type", "lat", "lon") if row.get(k) in (None, "")
        ]
        if lacking:
            problems.append(
                f"add[{i}]: missing {', '.join(lacking)}; an added provider needs provider_id, "
                "provider_type, lat and lon"
            )
    as_of = _date(data.get("as_of"), "as_of", problems)
    if problems:
        if len(problems) == 1:
            raise InputError(f"{label}: {problems[0]}")
        raise InputError(f"{label}: {len(problems)} problems in the scenario", problems)
    frame = pd.DataFrame(add)
    frame.attrs["source_name"] = label  # add rows' messages name the scenario file ...
    frame.attrs["row_format"] = "add[{}]"  # ... and the entry
    return Scenario(
        name=str(data.get("name") or (Path(label).stem if label != "scenario" else "scenario")),
        description=str(data.get("description") or ""),
        add=frame,
        join=[str(x) for x in join],
        terminate=terminate,
        as_of=as_of,
        path=None if label == "scenario" else label,
    )


def _parse_text(path: Path, text: str) -> Any:
    """YAML (or JSON, by the suffix), with the line of a syntax error."""
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}: is not valid JSON at line {exc.lineno} ({exc.msg}); check commas "
                "and quotes"
            ) from None
    return load_yaml(text, str(path))
