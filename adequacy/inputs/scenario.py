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

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from adequacy.errors import InputError


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
            import yaml

            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(data, indent=2) + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a date; write it as 2026-12-31") from None


def read_scenario(source: str | os.PathLike | dict) -> Scenario:
    """Read a scenario from a YAML or JSON file (or a dict of the same shape)."""
    if isinstance(source, dict):
        data, label = source, "scenario"
    else:
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise InputError(f"{path}: scenario file not found")
        text = path.read_text()
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error becomes one line
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{path}: not a readable YAML/JSON scenario ({first})") from None
    if not isinstance(data, dict):
        raise InputError(f"{label}: a scenario is a mapping with add, join and terminate")
    allowed = {"name", "description", "as_of", "add", "join", "terminate"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(
            f"{label}: unknown key {unknown[0]!r}; a scenario has {', '.join(sorted(allowed))}"
        )
    terminate = []
    for i, item in enumerate(data.get("terminate") or []):
        where = f"{label}: terminate[{i}]"
        if isinstance(item, str):
            item = {"provider_id": item}
        if not isinstance(item, dict) or not item.get("provider_id"):
            raise InputError(f"{where}: give provider_id (and optionally effective, reason)")
        extra = sorted(set(item) - {"provider_id", "effective", "reason"})
        if extra:
            raise InputError(f"{where}: unknown key {extra[0]!r}")
        terminate.append(
            Termination(
                str(item["provider_id"]),
                _date(item.get("effective"), where + ".effective"),
                str(item.get("reason") or ""),
            )
        )
    join = data.get("join") or []
    if not isinstance(join, list):
        raise InputError(f"{label}: join is a list of out-of-network provider ids")
    add = data.get("add") or []
    if not isinstance(add, list) or not all(isinstance(r, dict) for r in add):
        raise InputError(f"{label}: add is a list of provider rows (mappings)")
    return Scenario(
        name=str(data.get("name") or (Path(label).stem if label != "scenario" else "scenario")),
        description=str(data.get("description") or ""),
        add=pd.DataFrame(add),
        join=[str(x) for x in join],
        terminate=terminate,
        as_of=_date(data.get("as_of"), f"{label}: as_of"),
        path=None if label == "scenario" else label,
    )
