"""Plotly figures of an evaluation: county maps and member/provider points.

Every map is a plotly ``map`` (MapLibre) figure with the ``white-bg`` style:
county polygons in WGS84 lon/lat drawn on a blank base, which needs no map
tiles, fonts or topology files from the internet, so it works offline. Maps of
OpenStreetMap-based runs carry the attribution.

Owns: the app's maps. Uses: an :class:`~adequacy.engine.Evaluation` and the
report's colours (:mod:`adequacy.report.style`), so app and report agree.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adequacy.report.style import (
    FAIL_COLOUR,
    OSM_ATTRIBUTION,
    PASS_COLOUR,
    SYNTHETIC_NOTE,
    map_value,
)


def _attribution(evaluation) -> str:
    kind = evaluation.graph.meta.get("source_kind")
    if kind in ("osm", "graphml", "networkx", "osmnx-download"):
        return OSM_ATTRIBUTION
    source = str(evaluation.graph.meta.get("source") or "")
    return f"Road data: {source}" if source else ""


def rule_rows(evaluation, rule_id: str, language: str = "") -> pd.DataFrame:
    """County summary rows of one rule (and language; '' for all members)."""
    table = evaluation.county_summary if not language else evaluation.language_summary
    if not len(table):
        return table
    return table[(table["rule"] == rule_id) & (table["language"] == language)]


def county_map(evaluation, rule_id: str, language: str = "", *, height: int = 520) -> go.Figure:
    """Choropleth of the share of members meeting a rule per county.

    The colour scale turns from red to green at the rule's threshold (marked
    on the colour bar); failing counties are outlined in red.
    """
    regions = evaluation.regions
    rows = rule_rows(evaluation, rule_id, language).set_index("county_fips")
    rule = evaluation.standards.rule(rule_id)
    threshold = float(rule.threshold)
    fips = regions["fips"].to_numpy()
    share = pd.Series(fips).map(rows["share_meeting"]).to_numpy(dtype=float)
    members = pd.Series(fips).map(rows["members"]).fillna(0).astype(int).to_numpy()
    verdict = pd.Series(fips).map(rows["verdict"]).to_numpy()
    reasons = pd.Series(fips).map(rows["verdict_reasons"]).fillna("").to_numpy()
    passes = np.where(verdict == "fail", False, np.where(verdict == "pass", True, None))
    geojson = json.loads(regions[["fips", "name", "geometry"]].to_json())
    for feature in geojson["features"]:
        feature["id"] = feature["properties"]["fips"]
    t = min(max(threshold, 0.01), 0.99)
    scale = [
        [0.0, "#67001f"],
        [t * 0.999, "#f4a582"],
        [t, "#d9f0d3"],
        [1.0, PASS_COLOUR],
    ]
    text = [
        f"{name} ({f})<br>{'no members' if np.isnan(s) else f'{s:.1%} meet'}"
        f" · {m:,} members · {'–' if p is None else 'passes' if p else 'FAILS: ' + why}"
        for name, f, s, m, p, why in zip(
            regions["name"], fips, share, members, passes, reasons, strict=True
        )
    ]
    shown = np.array(
        [map_value(s, p is False, threshold) for s, p in zip(share, passes, strict=True)]
    )
    fig = go.Figure(
        go.Choroplethmap(
            geojson=geojson,
            locations=fips,
            z=np.nan_to_num(shown, nan=-1.0),
            zmin=0.0,
            zmax=1.0,
            colorscale=scale,
            marker={"line": {"color": "#555555", "width": 0.6}, "opacity": 0.85},
            text=text,
            hoverinfo="text",
            colorbar={
                "title": {"text": f"share meeting<br>threshold {threshold:.0%}"},
                "tickformat": ".0%",
                "tickvals": [0, threshold, 1],
            },
            name="share meeting",
        )
    )
    failing = fips[passes == False]  # noqa: E712 - object array of True/False/NaN
    if len(failing):
        fig.add_trace(
            go.Choroplethmap(
                geojson=geojson,
                locations=failing,
                z=np.zeros(len(failing)),
                colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                showscale=False,
                marker={"line": {"color": FAIL_COLOUR, "width": 3}, "opacity": 1.0},
                hoverinfo="skip",
                name="failing counties",
            )
        )
    title = f"{rule.label}: {rule.describe().split(';')[0]}"
    if language:
        title += f" — {language}-speaking members, {language}-speaking providers"
    _layout(fig, evaluation, title, height, regions.total_bounds)
    return fig


def points_map(
    evaluation,
    rule_id: str,
    county_fips: str,
    *,
    language: str = "",
    failing_only: bool = True,
    height: int = 520,
) -> go.Figure:
    """A county's members who fail a rule (coloured by miles to the k-th provider) and providers.

    Members are shown by ID only; no other personal detail leaves the table.
    """
    regions = evaluation.regions
    res = evaluation.member_results
    sel = (
        (res["rule"] == rule_id)
        & (res["language"] == language)
        & (res["county_fips"] == county_fips)
    ).to_numpy()
    part = res.loc[sel, ["member_id", "miles", "minutes", "meets"]]
    if failing_only:
        part = part[~part["meets"]]
    where = evaluation.members.set_index("member_id").loc[part["member_id"].astype(str)]
    rule = evaluation.standards.rule(rule_id)
    geojson = json.loads(regions[regions["fips"] == county_fips][["fips", "geometry"]].to_json())
    for feature in geojson["features"]:
        feature["id"] = feature["properties"]["fips"]
    fig = go.Figure(
        go.Choroplethmap(
            geojson=geojson,
            locations=[county_fips],
            z=[0],
            colorscale=[[0, "#f2f2f2"], [1, "#f2f2f2"]],
            showscale=False,
            marker={"line": {"color": "#555555", "width": 1}},
            hoverinfo="skip",
        )
    )
    miles = part["miles"].to_numpy(dtype=float)
    shown = np.where(np.isfinite(miles), miles, np.nan)
    fig.add_trace(
        go.Scattermap(
            lon=where["lon"].to_numpy(),
            lat=where["lat"].to_numpy(),
            mode="markers",
            marker={
                "size": 5,
                "color": np.nan_to_num(
                    shown, nan=np.nanmax(shown) if np.isfinite(shown).any() else 0
                ),
                "colorscale": "OrRd",
                "colorbar": {"title": {"text": f"miles to provider #{rule.count}"}, "x": 1.02},
            },
            text=[
                f"{m} · {d:.1f} mi · {t:.0f} min" if np.isfinite(d) else f"{m} · beyond horizon"
                for m, d, t in zip(
                    part["member_id"].astype(str), miles, part["minutes"], strict=True
                )
            ],
            hoverinfo="text",
            name="members failing" if failing_only else "members",
        )
    )
    p = evaluation.providers
    p = p[(p["provider_type"] == rule.provider_type) & p["in_network"]]
    if rule.specialty:
        p = p[p["specialty"] == rule.specialty]
    fig.add_trace(
        go.Scattermap(
            lon=p["lon"],
            lat=p["lat"],
            mode="markers",
            marker={"size": 10, "color": "#2166ac"},  # circles: other symbols need map sprites
            text=p["provider_id"] + " " + p.get("name", pd.Series("", index=p.index)).astype(str),
            customdata=p["provider_id"],
            hoverinfo="text",
            name=f"{rule.provider_type} providers",
        )
    )
    name = dict(zip(regions["fips"], regions["name"], strict=True)).get(county_fips, county_fips)
    bounds = regions[regions["fips"] == county_fips].total_bounds
    _layout(
        fig, evaluation, f"{name}: members failing {rule.label} and the providers", height, bounds
    )
    fig.update_layout(showlegend=True, legend={"x": 0, "y": 0})
    return fig


def _view(bounds, height: int) -> dict:
    """Centre and zoom that fit lon/lat bounds (west, south, east, north) in the figure."""
    west, south, east, north = (float(b) for b in bounds)
    lon_span = max(east - west, 1e-3)
    lat_span = max(north - south, 1e-3) / max(np.cos(np.radians((north + south) / 2)), 0.2)
    zoom = min(np.log2(360 / lon_span * 0.9), np.log2(180 / lat_span * height / 560)) + 0.2
    return {
        "style": "white-bg",
        "center": {"lon": (west + east) / 2, "lat": (south + north) / 2},
        "zoom": float(max(zoom, 1.0)),
    }


def _layout(fig: go.Figure, evaluation, title: str, height: int, bounds) -> None:
    fig.update_layout(map=_view(bounds, height))
    annotations = []
    attribution = _attribution(evaluation)
    if attribution:
        annotations.append(
            {
                "text": attribution,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 1,
                "y": -0.02,
                "xanchor": "right",
                "font": {"size": 10, "color": "#555"},
            }
        )
    if evaluation.synthetic:
        annotations.append(SYNTHETIC_NOTE)
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 0, "r": 0, "t": 40, "b": 20},
        annotations=annotations,
    )
