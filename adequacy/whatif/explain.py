"""Why a new site changes nothing: what the members near it reach after the scenario.

Adding a provider where members need two within the limits and have none
brings nobody to the standard: the delta says "gained 0". :func:`why_unchanged`
says why, one sentence per new site (added, or an out-of-network provider who
joins) and rule it counts toward, where it brings no member to that rule::

    Primary care needs 2 providers within 15 mi or 30 min; the 41 members near
    the new site NEW-1 now reach 1

or, when no member of the service area lives within the rule's limits of it,
"...; no member lives within 15 mi or 30 min of the new site NEW-1". A site
that brings at least one member to the standard (alone or with the scenario's
other changes) gets no sentence.

"Near" is the rule's own test: members whose limits (their county class, or
their county's terms) the site meets, on the run's distance basis, by the
bounded searches from a site that recruitment uses. What they "now reach" is
their count of qualifying providers after the scenario (the re-judged members'
results; the base's for the others).

Owns: ``why_unchanged``. Uses: a :class:`~adequacy.whatif.update.WhatIf`, the
judge (who qualifies), the site searches of :mod:`adequacy.engine.reach` (kept
with the evaluation, shared with :mod:`~adequacy.whatif.recruit`) and the
report's number formatting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adequacy.engine.engine import provider_rows
from adequacy.engine.judge import qualifies, search_cutoff, within
from adequacy.engine.reach import time_cutoff
from adequacy.engine.standards import Rule
from adequacy.report.formatting import integer
from adequacy.units import SECONDS_PER_MINUTE
from adequacy.whatif.recruit import _limits_text, _reach_of
from adequacy.whatif.update import WhatIf

#: Roster statuses of a scenario's new sites.
NEW_SITES = ("added", "joined")


def why_unchanged(whatif: WhatIf) -> list[str]:
    """One sentence per new site and rule it counts toward where it brings no member of
    the service area to the rule (all members, not the language-concordant variants);
    see the module docstring. A new site no rule counts gets a sentence saying so.
    """
    providers = whatif.providers
    status = providers["status"].to_numpy()
    new = np.flatnonzero(np.isin(status, NEW_SITES))
    if not len(new):
        return []
    base = whatif.base
    rules = [r for r in base.standards.rules if (r.id, "") in base.blocks]
    counted = {
        r.id: set(provider_rows(providers, whatif.engine.key_of(r, None)).tolist()) for r in rules
    }
    after = _after(whatif)
    lines: list[str] = []
    for row in new.tolist():
        pid = str(providers["provider_id"].iat[row])
        what = f"the new site {pid}" if status[row] == "added" else f"the joining provider {pid}"
        mine = [r for r in rules if row in counted[r.id]]
        if not mine:
            kind = str(providers["provider_type"].iat[row])
            specialty = str(providers["specialty"].iat[row] or "")
            kind += f" ({specialty})" if specialty else ""
            lines.append(f"No rule of these standards counts {what}: none needs a {kind} provider")
        for rule in mine:
            line = _site_rule(whatif, after, rule, row, what)
            if line:
                lines.append(line)
    return list(dict.fromkeys(lines))  # a provider joining at two sites: said once


def _after(whatif: WhatIf) -> dict[str, np.ndarray]:
    """``meets`` and ``n_qualifying`` of every member result after the scenario: the base's
    with the re-judged members' patched in (the summaries are not needed here)."""
    results = whatif.base.member_results
    after = {c: results[c].to_numpy().copy() for c in ("meets", "n_qualifying")}
    for pos, block in whatif.patches:
        after["meets"][pos] = block.meets
        after["n_qualifying"][pos] = block.n_qualifying
    return after


def _site_rule(
    whatif: WhatIf, after: dict[str, np.ndarray], rule: Rule, row: int, what: str
) -> str:
    """The sentence for one new site and rule, or '' when the site brings someone in."""
    base = whatif.base
    start, block_rows = base.blocks[(rule.id, "")]
    stop = start + len(block_rows)
    before = base.member_results.iloc[start:stop]
    inside = before["in_service_area"].to_numpy(dtype=bool)
    near = _near(whatif, rule, row, block_rows[inside])
    met_before = before["meets"].to_numpy(dtype=bool)[inside][near]
    met_after = after["meets"][start:stop].astype(bool)[inside][near]
    if (met_after & ~met_before).any():
        return ""
    state = base.member_state
    if near.any():
        classes = state.class_code[block_rows[inside][near]]
    else:  # the limits of the members of the site's county (else of every member)
        county = str(whatif.providers["county_fips"].iat[row])
        local = before["county_fips"].astype(str).to_numpy()[inside] == county
        classes = state.class_code[block_rows[inside][local if local.any() else slice(None)]]
    limits = _limits_text(rule, classes, state.class_names)
    plural = "s" if rule.count != 1 else ""
    text = f"{rule.label} needs {rule.count} provider{plural} within {limits}; "
    if not near.any():
        return text + f"no member lives within {limits} of {what}"
    reach = after["n_qualifying"][start:stop][inside][near][~met_after]
    already = int((met_before & met_after).sum())
    if not len(reach):
        return text + f"the {_members(already)} near {what} already reached {rule.count}"
    counts = pd.Series(reach.astype(int)).value_counts().sort_index()
    n = len(reach)
    if len(counts) == 1:
        reached = f"reach{'es' if n == 1 else ''} {counts.index[0]}"
    else:
        reached = "reach " + " or ".join(f"{k} ({_members(c)})" for k, c in counts.items())
    text += f"the {_members(n)} near {what} now {reached}"
    if already:
        text += f", and {integer(already)} more near it already reached {rule.count}"
    return text


def _members(n: int) -> str:
    return f"{integer(n)} member{'s' if n != 1 else ''}"


def _near(whatif: WhatIf, rule: Rule, row: int, members: np.ndarray) -> np.ndarray:
    """Whether each of ``members`` (rows) has the site at roster row ``row`` within its
    limits of ``rule``, on the run's distance basis."""
    base = whatif.base
    if not len(members):
        return np.zeros(0, dtype=bool)
    lim_m, lim_s, both = base.member_state.limits(rule, members)
    horizon = base.settings.max_report_minutes * SECONDS_PER_MINUTE
    cutoff_s, miles_alone = time_cutoff(lim_s, lim_m, both, horizon)
    no_miles, no_minutes = np.all(np.isnan(lim_m)), np.all(np.isnan(lim_s))
    cutoff_m = search_cutoff(0.0 if no_miles else float(np.nanmax(lim_m)))
    snap, site = whatif.engine.provider_snap, whatif.providers.iloc[row]
    _, seconds, meters = _reach_of(base).costs(
        snap.node[row], snap.meters[row], float(site["lon"]), float(site["lat"]),
        cutoff_s, cutoff_m, members, miles_alone=miles_alone,
    )  # fmt: skip
    ok_d = None if no_miles else within(meters, lim_m)
    ok_t = None if no_minutes else within(seconds, lim_s)
    return np.asarray(qualifies(ok_d, ok_t, both), dtype=bool)
