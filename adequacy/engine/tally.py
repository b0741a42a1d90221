"""Exact, additive counts of member results: what the summaries are made of.

A :class:`Tally` holds, per rule and language, the members, those meeting the
rule and those off the road in each county (the members outside every county
under :data:`~adequacy.engine.judge.OUTSIDE`), and per plan the members in the
service area and those meeting each rule over all members. Every figure is an
integer count, so tallies of disjoint sets of members (chunks of one run, or
the partitions of a distributed run) add up to the tally of their union
exactly: summaries are never averages of shares.

Medians are not additive; the summaries read them from the member results
themselves (:func:`medians`), one rule at a time.

Owns: ``Tally``, ``medians``. Uses: the engine's blocks and its compiled medians
(:mod:`adequacy.engine.kernels`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from adequacy.engine.judge import OUTSIDE
from adequacy.engine.kernels import group_medians

#: (rule id, language or "") of a block of member results
BlockKey = tuple[str, str]
#: a block's member results: ``county_fips``, ``miles``, ``minutes`` per member
Values = Callable[[str, str], pd.DataFrame]

_COUNTY = ["members", "meeting", "off_road"]
_PLAN = ["members", "meeting"]


@dataclass
class Tally:
    """Counts per (rule, language) and county, and per rule and plan.

    ``counties[(rule, language)]`` is indexed by county FIPS (``""`` for members
    outside every county) with integer columns ``members``, ``meeting`` and
    ``off_road``; ``plans[rule]`` by plan with ``members`` and ``meeting`` (members
    in the service area, rules over all members). Add tallies with :meth:`add`;
    rows come out sorted by county and by plan, whatever order members came in.
    """

    counties: dict[BlockKey, list[pd.DataFrame]] = field(default_factory=dict)
    plans: dict[str, list[pd.DataFrame]] = field(default_factory=dict)

    def add_blocks(self, blocks: Iterable, members: pd.DataFrame, at: int | None = None) -> None:
        """Count engine blocks (:class:`~adequacy.engine.engine.Block`, whose
        ``member_rows`` index ``members``); ``at``: replace the counts of the
        ``at``-th set of members added (a block judged again), rather than add."""
        county_code, county_names = pd.factorize(members["county_fips"].astype(str))
        plan_code, plan_names = pd.factorize(members["plan"].astype(str))
        off_road = members["off_road"].to_numpy(dtype=bool)
        for b in blocks:
            rows = b.member_rows
            self.add_counts(
                (b.rule.id, b.language or ""),
                county_code[rows],
                county_names,
                np.asarray(b.meets, dtype=bool),
                off_road[rows],
                plan_code[rows],
                plan_names,
                at=at,
            )

    def add_counts(self, key, county_code, county_names, meets, off_road, plan_code, plan_names,
                   at=None):  # fmt: skip
        """Count one block's members: their county codes (into ``county_names``),
        whether each meets the rule and is off the road, and their plan codes."""
        n = len(county_names)
        frame = pd.DataFrame(
            {
                "members": np.bincount(county_code, minlength=n),
                "meeting": np.bincount(county_code[meets], minlength=n),
                "off_road": np.bincount(county_code[off_road], minlength=n),
            },
            index=pd.Index(np.asarray(county_names, dtype=object), name="county_fips"),
        )
        _put(self.counties.setdefault(key, []), frame[frame["members"] > 0], at)
        if key[1] == "":  # plans: rules over all members, members in the service area
            outside = [i for i, name in enumerate(county_names) if name == OUTSIDE]
            inside = county_code != (outside[0] if outside else -1)  # codes, not strings
            m = len(plan_names)
            plans = pd.DataFrame(
                {
                    "members": np.bincount(plan_code[inside], minlength=m),
                    "meeting": np.bincount(plan_code[inside & meets], minlength=m),
                },
                index=pd.Index(np.asarray(plan_names, dtype=object), name="plan"),
            )
            _put(self.plans.setdefault(key[0], []), plans[plans["members"] > 0], at)

    def add(self, other: Tally) -> Tally:
        """This tally plus another's (of other members), in place; returns self."""
        for key, frames in other.counties.items():
            self.counties.setdefault(key, []).extend(frames)
        for key, frames in other.plans.items():
            self.plans.setdefault(key, []).extend(frames)
        return self

    def keys(self) -> list[BlockKey]:
        return list(self.counties)

    def county_counts(self, key: BlockKey) -> pd.DataFrame:
        """Members, meeting and off-road per county (sorted by FIPS; ``""`` outside)."""
        return _summed(self.counties.get(key, []), _COUNTY)

    def plan_counts(self, rule_id: str) -> pd.DataFrame:
        """Members in the service area and meeting, per plan (sorted)."""
        return _summed(self.plans.get(rule_id, []), _PLAN)


def _put(frames: list, frame: pd.DataFrame, at: int | None) -> None:
    if at is None:
        frames.append(frame)
    else:
        frames[at] = frame


def _summed(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in columns})
    total = pd.concat(frames).groupby(level=0, sort=True).sum()
    return total.astype(np.int64)


def medians(values: pd.DataFrame) -> pd.DataFrame:
    """Median miles and minutes per county of one block's member results (``values``:
    ``county_fips``, ``miles``, ``minutes``), indexed by county; ``""`` outside."""
    county = values["county_fips"]
    if isinstance(county.dtype, pd.CategoricalDtype):  # grouped on its codes: no strings
        codes = county.cat.codes.to_numpy()
        names = county.cat.categories.astype(str)
    else:
        codes, names = pd.factorize(county.astype(str))
    codes = np.asarray(codes, dtype=np.int64)
    present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(names)))
    # a missing county (code -1) is left out, as groupby leaves it out
    found = pd.DataFrame(
        {
            column: group_medians(codes, values[column].to_numpy(dtype=np.float64), len(names))
            for column in ("miles", "minutes")
        },
        index=names.rename("county_fips"),
    ).iloc[present]
    return found.sort_index()


def tally_of_results(results: pd.DataFrame, members: pd.DataFrame, blocks: dict) -> Tally:
    """The tally of a whole member-results table (``Evaluation.member_results``) whose
    blocks are located by ``blocks`` ((rule, language) -> (first row, member rows))."""
    tally = Tally()
    plan_code, plan_names = pd.factorize(members["plan"].astype(str))
    county = results["county_fips"]
    codes = county.cat.codes.to_numpy() if hasattr(county, "cat") else None
    names = list(county.cat.categories) if codes is not None else None
    for key, (start, rows) in blocks.items():
        stop = start + len(rows)
        if codes is not None:
            county_code, county_names = codes[start:stop], names
        else:
            county_code, county_names = pd.factorize(county.iloc[start:stop].astype(str))
        tally.add_counts(
            key,
            county_code,
            county_names,
            results["meets"].to_numpy()[start:stop].astype(bool),
            results["off_road"].to_numpy()[start:stop].astype(bool),
            plan_code[rows],
            plan_names,
        )
    return tally
