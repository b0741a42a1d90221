"""Panel findings: PCP panels over the cap, and practices with too few open panels.

The seed manual's "Panel Changes": a PCP panel holds at most 1,500 members,
and a practice should keep at least half its PCP panels open. A panel's size
comes from the judge (:func:`adequacy.engine.judge.panel_sizes`).

Owns: ``panel_findings`` and the panel limits. Uses: the judge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from adequacy.engine.judge import panel_sizes

PANEL_COLUMNS = [
    "finding",
    "provider_id",
    "practice_id",
    "panel_size",
    "assigned_members",
    "panel_open",
    "pcps_in_practice",
    "open_panels",
    "share_open",
]
PANEL_CAP = 1500
MIN_OPEN_SHARE = 0.5


def panel_findings(
    providers: pd.DataFrame,
    members: pd.DataFrame | None = None,
    *,
    panel_cap: int = PANEL_CAP,
    min_open_share: float = MIN_OPEN_SHARE,
) -> pd.DataFrame:
    """PCP panels over the cap, and practices with under half their PCP panels open.

    The panel size is the larger of the roster's ``panel_size`` and the number
    of members whose ``pcp_id`` is the provider. A PCP listed at several sites
    is one panel.
    """
    per_pcp = panel_sizes(providers, members)
    rows = []
    for pid, r in per_pcp[per_pcp["panel"] > panel_cap].iterrows():
        rows.append(
            {
                "finding": f"PCP panel over {panel_cap:,}",
                "provider_id": pid,
                "practice_id": r["practice_id"],
                "panel_size": int(r["panel_size"]),
                "assigned_members": int(r["assigned_members"]),
                "panel_open": bool(r["panel_open"]),
                "pcps_in_practice": np.nan,
                "open_panels": np.nan,
                "share_open": np.nan,
            }
        )
    practices = per_pcp.groupby("practice_id").agg(
        pcps=("panel_open", "size"), open_panels=("panel_open", "sum")
    )
    practices["share_open"] = practices["open_panels"] / practices["pcps"]
    for practice, r in practices[practices["share_open"] < min_open_share].iterrows():
        rows.append(
            {
                "finding": f"practice with under {min_open_share:.0%} of PCP panels open",
                "provider_id": "",
                "practice_id": practice,
                "panel_size": np.nan,
                "assigned_members": np.nan,
                "panel_open": None,
                "pcps_in_practice": int(r["pcps"]),
                "open_panels": int(r["open_panels"]),
                "share_open": float(r["share_open"]),
            }
        )
    return pd.DataFrame(rows, columns=PANEL_COLUMNS)
