"""Prevalent languages and language concordance.

A language is *prevalent* in a county when the Census counts at least
``min_speakers`` (10,000 by default, as the seed manual) people aged 5 and over
who speak it there. Without a Census table, a language spoken by at least
``min_members`` of the county's members is treated as prevalent, and the
result says which rule was used. English is the baseline, evaluated by the
base rules, and is not listed.

A provider is *concordant* for a language when it lists that language among
the languages it speaks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CENSUS_MIN_SPEAKERS = 10_000
DEFAULT_MIN_MEMBERS = 50
BASELINE_LANGUAGE = "English"


def prevalent_languages(
    members: pd.DataFrame,
    *,
    census: pd.DataFrame | None = None,
    counties: list[str] | None = None,
    min_speakers: int = CENSUS_MIN_SPEAKERS,
    min_members: int = DEFAULT_MIN_MEMBERS,
) -> pd.DataFrame:
    """Languages prevalent per county.

    Parameters
    ----------
    members
        Validated members with ``county_fips`` and ``language``.
    census
        Optional Census table (``county_fips``, ``language``, ``speakers_5plus``).
    counties
        Counties to report (default: all counties of the members).
    min_speakers, min_members
        Thresholds for the Census rule and the member-count fallback.

    Returns
    -------
    DataFrame with ``county_fips``, ``language``, ``members`` (members who
    speak it there), ``speakers_5plus`` (Census, NaN without it) and
    ``basis`` (``census`` or ``members``).
    """
    in_area = members[members["county_fips"] != ""]
    counts = (
        in_area.groupby(["county_fips", "language"], observed=True)
        .size()
        .rename("members")
        .reset_index()
    )
    if census is not None:
        found = census[
            (census["speakers_5plus"] >= min_speakers) & (census["language"] != BASELINE_LANGUAGE)
        ]
        out = found.merge(counts, on=["county_fips", "language"], how="left")
        out["members"] = out["members"].fillna(0).astype(int)
        out["basis"] = "census"
    else:
        out = counts[
            (counts["members"] >= min_members) & (counts["language"] != BASELINE_LANGUAGE)
        ].copy()
        out["speakers_5plus"] = np.nan
        out["basis"] = "members"
    if counties is not None:
        out = out[out["county_fips"].isin(counties)]
    cols = ["county_fips", "language", "members", "speakers_5plus", "basis"]
    return out[cols].sort_values(["county_fips", "language"]).reset_index(drop=True)


def speaks(provider_languages: pd.Series, language: str) -> np.ndarray:
    """Mask of providers whose ``;``-separated languages include ``language``.

    Each distinct language list is split once (rosters repeat a few lists).
    """
    codes, lists = pd.factorize(provider_languages, use_na_sentinel=True)
    found = np.array([language in str(x).split(";") for x in lists] + [False], dtype=bool)
    return found[codes]
