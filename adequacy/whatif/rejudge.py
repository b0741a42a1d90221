"""Judging again the members whose labels a what-if changed, and listing the rows
whose result changed (before and after).

Owns: ``judge_again`` (the patches of the member results and the ``changes``
table of :class:`~adequacy.whatif.update.WhatIf`). Uses: the scenario's engine
(``rule_block``) and the base evaluation's member results, read as arrays once
per base (:mod:`adequacy.whatif.cache`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adequacy.engine.engine import Engine
from adequacy.engine.evaluate import Evaluation
from adequacy.whatif.cache import base_cache

#: member-result columns a what-if compares (and patches)
COMPARED = ["miles", "minutes", "n_qualifying", "meets"]

_CHANGE_COLUMNS = [
    "member_id",
    "rule",
    "language",
    "county_fips",
    "in_service_area",
    "meets_before",
    "meets_after",
    "miles_before",
    "miles_after",
    "minutes_before",
    "minutes_after",
    "n_qualifying_before",
    "n_qualifying_after",
]


def judge_again(base: Evaluation, engine: Engine, variants, changed):
    """Judge again the members living where labels changed; returns the patches
    (member_results positions, new block) and the member rows whose result changed."""
    results = _result_columns(base)
    patches, parts = [], []
    for rule, lang in variants:
        key = engine.key_of(rule, lang)
        jobs = [(key, m) for m in ("distance", "time") if (key, m) in changed]
        if not jobs:
            continue
        start, block_rows = base.blocks[(rule.id, lang or "")]
        nodes = changed[jobs[0]] if len(jobs) == 1 else np.concatenate([changed[j] for j in jobs])
        # members living at the changed nodes, sorted
        members_hit = base.member_state.members_at(base.member_snap.node, base.graph.n_nodes, nodes)
        if _every_member(base, block_rows):  # the block's rows are 0..n-1
            sub = offset = members_hit
        else:
            where = np.searchsorted(block_rows, members_hit)
            inside = where < len(block_rows)
            inside[inside] = block_rows[where[inside]] == members_hit[inside]
            sub, offset = members_hit[inside], where[inside]
        if not len(sub):
            continue
        block = engine.rule_block(rule, lang, member_rows=sub)
        pos = start + offset
        patches.append((pos, block))
        after = {
            "meets": block.meets,
            "miles": block.miles,
            "minutes": block.minutes,
            "n_qualifying": block.n_qualifying,
        }
        before = {c: results[c][pos] for c in COMPARED}
        moved = (before["meets"] != after["meets"]) | (
            before["n_qualifying"] != after["n_qualifying"]
        )
        for c in ("miles", "minutes"):
            a, b = before[c], after[c]
            moved |= (a != b) & ~(np.isnan(a) & np.isnan(b))
        keep = np.flatnonzero(moved)
        part = {"_pos": pos[keep], "rule": rule.id, "language": lang or ""}
        for c in COMPARED:
            part[f"{c}_before"] = before[c][keep]
            part[f"{c}_after"] = np.asarray(after[c])[keep]
        parts.append(part)
    if not parts:
        changes = pd.DataFrame(columns=["member_id", "rule", "language", "county_fips"])
        meets_after = changes.get("meets_after", pd.Series(dtype=bool)).astype(bool)
        meets_before = changes.get("meets_before", pd.Series(dtype=bool)).astype(bool)
        changes["change"] = np.select(
            [meets_after & ~meets_before, ~meets_after & meets_before],
            ["gains access", "loses access"],
            "closer or farther",
        )
        return patches, changes
    pos = np.concatenate([p["_pos"] for p in parts])
    sizes = [len(p["_pos"]) for p in parts]
    text = _text_dtype()
    data = {
        "member_id": pd.array(_texts(results, "member_id", pos), dtype=text),
        "rule": pd.array(np.repeat([p["rule"] for p in parts], sizes), dtype=text),
        "language": pd.array(np.repeat([p["language"] for p in parts], sizes), dtype=text),
        "county_fips": pd.array(_texts(results, "county_fips", pos), dtype=text),
        "in_service_area": results["in_service_area"][pos],
    }
    for c in _CHANGE_COLUMNS[5:]:
        data[c] = np.concatenate([p[c] for p in parts])
    after, before = data["meets_after"].astype(bool), data["meets_before"].astype(bool)
    data["change"] = np.select(
        [after & ~before, ~after & before], ["gains access", "loses access"], "closer or farther"
    )
    return patches, pd.DataFrame(data)


def _every_member(base: Evaluation, block_rows: np.ndarray) -> bool:
    """Whether a block's (sorted, distinct) member rows are every member, 0..n-1."""
    n = len(base.members)
    return len(block_rows) == n and (not n or (block_rows[0] == 0 and block_rows[-1] == n - 1))


_TEXT: list = []


def _text_dtype():
    """The dtype a column of text gets (pandas' own choice, as a frame made of the
    texts would have it)."""
    if not _TEXT:
        _TEXT.append(pd.Series(np.array(["x"], dtype=object)).dtype)
    return _TEXT[0]


def _result_columns(base: Evaluation) -> dict:
    """The base's member results by column, as arrays (categorical ones as their
    codes and categories), made once per base."""
    cache = base_cache(base)
    if "results" not in cache:
        results = base.member_results
        arrays: dict = {c: results[c].to_numpy() for c in [*COMPARED, "in_service_area"]}
        for c in ("member_id", "county_fips"):
            col = results[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                arrays[c] = (col.cat.codes.to_numpy(), col.cat.categories, col)
            else:
                arrays[c] = (None, None, col)
        cache["results"] = arrays
    return cache["results"]


def _texts(results: dict, column: str, pos: np.ndarray) -> np.ndarray:
    """Member results' text column at some positions, as ``astype(str)`` gives it."""
    codes, categories, col = results[column]
    if codes is not None and pd.api.types.is_string_dtype(categories.dtype):
        picked = codes[pos]
        if (picked >= 0).all():
            return np.asarray(categories.take(picked).to_numpy(), dtype=object)
    return col.iloc[pos].astype(str).to_numpy()
