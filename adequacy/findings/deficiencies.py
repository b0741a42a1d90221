"""The deficiency workpaper: what fails where, by how much, and what would close it.

For every county × rule (and prevalent language) whose verdict fails:

- members not meeting the rule, and how many more must meet it for the county to
  reach its threshold (:func:`~adequacy.engine.judge.members_short`);
- the ratio's shortfall, as providers (or FTE) needed
  (:func:`~adequacy.engine.judge.providers_needed`), and the providers short of a
  minimum number per county;
- each member not served (IDs only): miles and minutes to the k-th in-network
  provider and to the nearest out-of-network provider of the type, and whether an
  out-of-network provider lies within the member's limits: a contracting
  opportunity;
- the smallest set of candidate sites that recruitment
  (:func:`adequacy.whatif.recruit`, restricted to the county) finds to lift the
  county over its threshold, or the statement that none does;
- the providers of the type within the limits of the county's unserved members and
  just beyond them (up to ``beyond`` × the limits), in and out of network: the
  material of an exception request.

Owns: ``deficiencies``, ``Deficiencies`` and ``failing_rows``. Uses: the engine (verdicts, the
judge, stored searches), recruitment and :mod:`adequacy.findings.supply`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.engine import SearchKey, provider_rows
from adequacy.engine.evaluate import Evaluation
from adequacy.engine.judge import (
    FAIL,
    county_of,
    members_short,
    providers_needed,
    qualifies,
    ratio_passes,
    within,
)
from adequacy.engine.reach import served_counts
from adequacy.engine.summaries import provider_count
from adequacy.findings.supply import Sites, in_network, nearest_sites, out_of_network
from adequacy.units import METERS_PER_MILE, SECONDS_PER_MINUTE
from adequacy.whatif.recruit import recruit

COUNTY_COLUMNS = [
    "rule",
    "label",
    "language",
    "county_fips",
    "county",
    "verdict_reasons",
    "members",
    "meeting",
    "share_meeting",
    "threshold",
    "members_not_meeting",
    "members_short",
    "providers",
    "members_per_provider",
    "ratio_limit",
    "providers_needed_for_ratio",
    "min_providers",
    "providers_short_of_minimum",
    "members_with_out_of_network_within_limits",
    "recruitment_sites",
    "recruitment_closes_gap",
    "recruitment_note",
]
MEMBER_COLUMNS = [
    "member_id",
    "rule",
    "language",
    "county_fips",
    "miles",
    "minutes",
    "n_qualifying",
    "out_of_network_nearest",
    "out_of_network_miles",
    "out_of_network_minutes",
    "out_of_network_within_limits",
]
PICK_COLUMNS = [
    "rule",
    "language",
    "county_fips",
    "rank",
    "candidate",
    "lon",
    "lat",
    "newly_meeting",
    "county_meeting_after",
    "county_share_after",
]
PROVIDER_COLUMNS = [
    "rule",
    "language",
    "county_fips",
    "provider_id",
    "network",
    "unserved_members_near",
    "median_miles",
    "median_minutes",
    "within_limits",
]


@dataclass
class Deficiencies:
    """The workpaper's tables (see the module docstring); members by ID only."""

    counties: pd.DataFrame
    members: pd.DataFrame
    picks: pd.DataFrame
    providers: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by their run-folder names."""
        return {
            "deficiencies": self.counties,
            "deficient_members": self.members,
            "recruitment_picks": self.picks,
            "exception_providers": self.providers,
        }


#: the member results the workpaper reads (a rule's rows at a time)
_RESULT_COLUMNS = ["member_id", "county_fips", "in_service_area", "meets", "miles", "minutes",
                   "n_qualifying"]  # fmt: skip


def deficiencies(
    ev: Evaluation,
    *,
    supply: Any = None,
    recruit_top: int = 5,
    recruit_sites: int = 60,
    beyond: float = 1.5,
    near: int = 3,
    counties: Any = None,
) -> Deficiencies:
    """Build the deficiency workpaper of an evaluation.

    ``supply``: every provider in the market (roster format), for out-of-network
    providers and recruitment candidates; default: the roster's out-of-network rows.
    ``recruit_top``: picks tried per county; ``recruit_sites``: road nodes sampled
    as candidates where there is no out-of-network provider of the type.
    ``beyond``: how far past the limits an exception request's providers are
    listed (1.5 × the limits). ``near``: providers read per member and side.
    Recruitment runs for rules over all members; a failing language-concordant
    result is closed by recruiting providers who speak the language, which the
    note says. ``counties``: only these counties' rows (FIPS codes; default every
    failing county), each as the whole workpaper has it.
    """
    oon = out_of_network(ev, supply)
    net = in_network(ev)
    failing = failing_rows(ev)
    if counties is not None:
        failing = failing[failing["county_fips"].isin(set(counties))]
    rows, member_frames, pick_frames, provider_frames = [], [], [], []
    for (rule_id, lang), group in failing.groupby(["rule", "language"], sort=False):
        rule = ev.standards.rule(rule_id)
        key = SearchKey(rule.provider_type, rule.specialty, lang or None)
        block = ev.blocks[(rule_id, lang)][1]
        res = ev.block_results(rule_id, lang, _RESULT_COLUMNS)
        unserved = (
            ~res["meets"].to_numpy()
            & res["in_service_area"].to_numpy()
            & res["county_fips"].astype(str).isin(set(group["county_fips"])).to_numpy()
        )
        member_rows = block[unserved]
        part = res[unserved]
        order = np.argsort(member_rows, kind="stable")  # members in roster order, however
        member_rows, part = member_rows[order], part.iloc[order]  # the run was partitioned
        state = ev.member_state
        lim_m, lim_s, both = state.limits(rule, member_rows)
        ours = nearest_sites(ev, net, key, member_rows, k=near)
        theirs = nearest_sites(ev, oon, key, member_rows, k=near)
        oon_ok = _any_within(theirs, lim_m, lim_s, both)
        member_frames.append(
            pd.DataFrame(
                {
                    "member_id": part["member_id"].astype(str).to_numpy(),
                    "rule": rule_id,
                    "language": lang,
                    "county_fips": part["county_fips"].astype(str).to_numpy(),
                    "miles": part["miles"].to_numpy(),
                    "minutes": part["minutes"].to_numpy(),
                    "n_qualifying": part["n_qualifying"].to_numpy(),
                    "out_of_network_nearest": theirs["distance"][1][:, 0],
                    "out_of_network_miles": theirs["distance"][0][:, 0],
                    "out_of_network_minutes": theirs["time"][0][:, 0],
                    "out_of_network_within_limits": oon_ok,
                }
            )
        )
        member_county = part["county_fips"].astype(str).to_numpy()
        for _, row in group.iterrows():
            fips = row["county_fips"]
            here = member_county == fips
            provider_frames.append(
                _near_providers(rule_id, lang, fips, ours, theirs, here, lim_m, lim_s, both, beyond)
            )
            heads = _heads(ev, rule, key, fips)
            picks, closes, sites, note = _recruitment(
                ev, rule, lang, row, heads, oon if supply is not None else None, recruit_top,
                recruit_sites,
            )  # fmt: skip
            pick_frames.append(picks)
            rows.append(
                {
                    "rule": rule_id,
                    "label": rule.label,
                    "language": lang,
                    "county_fips": fips,
                    "county": row.get("county", ""),
                    "verdict_reasons": row["verdict_reasons"],
                    "members": int(row["members"]),
                    "meeting": int(row["meeting"]),
                    "share_meeting": float(row["share_meeting"]),
                    "threshold": float(row["threshold"]),
                    "members_not_meeting": int(row["members"] - row["meeting"]),
                    "members_short": members_short(
                        row["members"], row["meeting"], row["threshold"]
                    ),
                    "providers": float(row["providers"]),
                    "members_per_provider": float(row["members_per_provider"]),
                    "ratio_limit": float(row["ratio_limit"]),
                    "providers_needed_for_ratio": providers_needed(
                        row["members"],
                        row["providers"],
                        row["ratio_limit"] if _ratio_checked(rule) else np.nan,
                    ),
                    "min_providers": rule.min_providers_for(fips),
                    "providers_short_of_minimum": (
                        max(0.0, rule.min_providers_for(fips) - heads)
                        if rule.min_providers_for(fips) is not None
                        else 0.0
                    ),
                    "members_with_out_of_network_within_limits": int(oon_ok[here].sum()),
                    "recruitment_sites": sites,
                    "recruitment_closes_gap": closes,
                    "recruitment_note": note,
                }
            )
    return Deficiencies(
        pd.DataFrame(rows, columns=COUNTY_COLUMNS),
        _concat(member_frames, MEMBER_COLUMNS),
        _concat(pick_frames, PICK_COLUMNS),
        _concat(provider_frames, PROVIDER_COLUMNS),
    )


def failing_rows(ev: Evaluation) -> pd.DataFrame:
    """County rows whose verdict fails: every rule over all members, then each prevalent
    language's own failing rows; in the standards' rule order."""
    county = ev.county_summary
    lang = ev.language_summary
    parts = [county[county["verdict"] == FAIL]]
    if len(lang):
        parts.append(lang[(lang["verdict"] == FAIL) & lang["prevalent"].astype(bool)])
    rows = pd.concat(parts, ignore_index=True)
    order = {r.id: i for i, r in enumerate(ev.standards.rules)}
    rows = rows.assign(_order=rows["rule"].map(order))
    rows = rows.sort_values(["_order", "language", "county_fips"], kind="stable")
    return rows.drop(columns="_order").reset_index(drop=True)


def _ratio_checked(rule) -> bool:
    return rule.ratio is not None and rule.ratio.applies_to("county")


def _heads(ev: Evaluation, rule, key: SearchKey, fips: str) -> float:
    """In-network providers of the key located in the county, by headcount (for rules
    with terms per county: those within reach of its members, or their beds)."""
    if rule.counties and ev.served is not None:
        return float(served_counts(ev.served, ev.providers, [rule])[rule.id].get(fips, 0.0))
    if rule.min_providers is None:
        return 0.0
    rows = provider_rows(ev.providers, key)
    _, by_county = provider_count(ev.providers, rows, replace(rule, ratio=None))
    return float(by_county.get(fips, 0.0))


def _recruitment(ev, rule, lang, row, heads: float, candidates: Sites | None, top: int, sites: int):
    """Recruitment picks for one failing county, and whether and how they close it."""
    short = members_short(row["members"], row["meeting"], row["threshold"])
    empty = pd.DataFrame(columns=PICK_COLUMNS)
    if lang:
        return (
            empty,
            False,
            "",
            (f"recruit providers who speak {lang}: this result is language-concordant"),
        )
    if short == 0:
        return (
            empty,
            False,
            "",
            (
                "the time/distance share passes: the county fails on "
                f"{row['verdict_reasons']}; sites do not change that, providers do"
            ),
        )
    result = recruit(
        ev,
        rule.id,
        candidates=candidates.providers if candidates is not None else None,
        top=top,
        sample_sites=sites,
        counties=[row["county_fips"]],
    )
    picks = result.picks
    target = result.counties
    reached = target["picks_to_threshold"].iloc[0] if len(target) else pd.NA
    meeting = int(row["meeting"]) + picks["total_newly_meeting"].to_numpy(dtype=int)
    table = pd.DataFrame(
        {
            "rule": rule.id,
            "language": lang,
            "county_fips": row["county_fips"],
            "rank": picks["rank"].to_numpy(dtype=int),
            "candidate": picks["candidate"].to_numpy(dtype=object),
            "lon": picks["lon"].to_numpy(dtype=float),
            "lat": picks["lat"].to_numpy(dtype=float),
            "newly_meeting": picks["newly_meeting"].to_numpy(dtype=int),
            "county_meeting_after": meeting,
            "county_share_after": meeting / float(row["members"]),
        },
        columns=PICK_COLUMNS,
    )
    if pd.isna(reached):
        note = (
            f"none of the {result.candidates_considered:,} candidate sites "
            f"({result.candidate_source}) lifts the county to {row['threshold']:.0%} "
            f"within {top} picks" + (f": {result.message}" if result.message else "")
        )
        return table, False, "", note
    chosen = ";".join(picks["candidate"].astype(str).iloc[: int(reached)])
    note = (
        f"{int(reached)} site(s) from {result.candidate_source} lift the county's "
        f"time/distance share to {row['threshold']:.0%}"
    )
    added = _sites_in_county(ev, picks.iloc[: int(reached)], row["county_fips"])
    other = _other_failures(rule, row, added, heads)
    if other:  # the sites do not pass the rule: never claim they close the gap
        return table, False, chosen, f"{note}; the county still fails on {other}"
    return table, True, chosen, note


def _any_within(found, lim_m, lim_s, both) -> np.ndarray:
    """Per member: whether one provider among its nearest (by distance and by time) is
    within its limits, both limits for the same provider where the member's class says
    'and'. Only providers found by both searches count for 'and', so it can miss one
    past the ``near`` nearest by either measure, and never claims one that is not."""
    miles, d_ids = found["distance"]
    minutes, t_ids = found["time"]
    ok_d = within(miles * METERS_PER_MILE, lim_m[:, None])
    ok_t = within(minutes * SECONDS_PER_MINUTE, lim_s[:, None])
    either = ok_d.any(axis=1) | ok_t.any(axis=1)
    same = np.zeros(len(miles), dtype=bool)
    for i in range(d_ids.shape[1]):
        for j in range(t_ids.shape[1]):
            match = (d_ids[:, i] == t_ids[:, j]) & (d_ids[:, i] != "")
            same |= match & ok_d[:, i] & ok_t[:, j]
    only_one = np.isnan(lim_m) | np.isnan(lim_s)  # a rule with one limit: 'and' is moot
    return np.where(both & ~only_one, same, either)


def _sites_in_county(ev, picks: pd.DataFrame, fips: str) -> int:
    """Distinct recruited sites that lie in the county (each then counts as one provider
    there, one FTE on an FTE basis)."""
    if ev.regions is None or not len(picks):
        return 0
    where = county_of(picks["lon"].to_numpy(), picks["lat"].to_numpy(), ev.regions)
    return int(len(set(picks["candidate"][where == fips])))


def _other_failures(rule, row, added: int, heads: float) -> str:
    """The binding components other than the time/distance share that still fail in a
    county row once ``added`` recruited providers are located there, in words ('' when
    none)."""
    parts = []
    limit = (
        row["ratio_limit"] if rule.ratio is not None and rule.ratio.applies_to("county") else np.nan
    )
    if (
        rule.binding.ratio
        and ratio_passes(
            row["members"] / (row["providers"] + added) if row["providers"] + added else np.inf,
            limit,
        )
        is False
    ):
        parts.append("its access ratio")
    if (
        rule.binding.min_providers
        and rule.min_providers_for(row["county_fips"]) is not None
        and heads + added < rule.min_providers_for(row["county_fips"])
    ):
        parts.append("its minimum number of providers")
    if rule.binding.languages and _false(row.get("languages_passes")):
        parts.append("language-concordant access")
    return " and ".join(parts)


def _false(value) -> bool:
    return value is not None and not pd.isna(value) and not bool(value)


def _near_providers(rule_id, lang, fips, ours, theirs, here, lim_m, lim_s, both, beyond):
    """Providers among the nearest of the county's unserved members, in and out of network,
    within ``beyond`` × the limits; with the members they are near and median costs."""
    frames = []
    for network, found in (("in", ours), ("out", theirs)):
        miles, ids = found["distance"]
        minutes, _ = found["time"]  # by time: the same providers' minutes where they match
        for j in range(ids.shape[1]):
            pid = ids[here, j]
            frames.append(
                pd.DataFrame(
                    {
                        "provider_id": pid,
                        "network": network,
                        "miles": miles[here, j],
                        "limit_miles": lim_m[here] / METERS_PER_MILE,
                        "minutes": _time_of(found, here, pid),
                        "limit_minutes": lim_s[here] / SECONDS_PER_MINUTE,
                        "both": both[here],
                    }
                )
            )
    near = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not len(near):
        return pd.DataFrame(columns=PROVIDER_COLUMNS)
    near = near[near["provider_id"] != ""]
    # a limit the rule does not set reaches nothing (-inf), never everything
    reach = (near["miles"] <= beyond * near["limit_miles"].fillna(-np.inf)) | (
        near["minutes"] <= beyond * near["limit_minutes"].fillna(-np.inf)
    )
    near = near[reach]
    near = near.assign(
        within=qualifies(
            within(near["miles"] * METERS_PER_MILE, near["limit_miles"] * METERS_PER_MILE),
            within(
                near["minutes"] * SECONDS_PER_MINUTE, near["limit_minutes"] * SECONDS_PER_MINUTE
            ),
            near["both"].to_numpy(dtype=bool)
            & near["limit_miles"].notna().to_numpy()
            & near["limit_minutes"].notna().to_numpy(),
        )
    )
    table = (
        near.groupby(["provider_id", "network"], sort=True)
        .agg(
            unserved_members_near=("miles", "size"),
            median_miles=("miles", "median"),
            median_minutes=("minutes", "median"),
            within_limits=("within", "any"),
        )
        .reset_index()
        .assign(rule=rule_id, language=lang, county_fips=fips)
        .sort_values(["network", "median_miles", "provider_id"], kind="stable")
    )
    return table[PROVIDER_COLUMNS]


def _time_of(found, here, pid) -> np.ndarray:
    """Each member's minutes to the given provider where it is among its nearest by time."""
    minutes, ids = found["time"]
    m, i = minutes[here], ids[here]
    out = np.full(len(pid), np.inf)
    for j in range(i.shape[1]):
        hit = i[:, j] == pid
        out[hit] = np.minimum(out[hit], m[hit, j])
    return out


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
