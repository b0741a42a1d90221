"""Plotly figures of an evaluation: county maps and member/provider points.

Every map is a plotly ``map`` (MapLibre) figure with the ``white-bg`` style:
county polygons in WGS84 lon/lat drawn over the evaluation's own road network
(:mod:`adequacy.frontend.basemap`: major roads on the region's map, every road
in a county drill-down), which needs no map tiles, fonts or topology files from
the internet, so it works offline. Maps of OpenStreetMap-based runs carry the
attribution.

Owns: the app's maps. Uses: an :class:`~adequacy.engine.Evaluation`, the road
layers of :mod:`adequacy.frontend.basemap` and the report's colours
(:mod:`adequacy.report.style`), so app and report agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adequacy.frontend.basemap import road_layers, road_traces
from adequacy.report.style import (
    FAIL_COLOUR,
    OSM_ATTRIBUTION,
    PASS_COLOUR,
    SYNTHETIC_NOTE,
    map_value,
)

#: The county scale's ends beside the report's pass and fail colours (ColorBrewer RdBu).
DEEP_FAIL_COLOUR = "#67001f"
LIGHT_FAIL_COLOUR = "#f4a582"
LIGHT_PASS_COLOUR = "#d9f0d3"
#: Failing members by distance to the k-th provider: within the limit, up to 1.5x, 2x, beyond.
BAND_COLOURS = (LIGHT_FAIL_COLOUR, "#d6604d", FAIL_COLOUR, DEEP_FAIL_COLOUR)
NO_ROUTE_COLOUR = "#252525"
PROVIDER_COLOUR = "#2166ac"
#: Opacity of the county fill, through which the roads below show.
FILL_OPACITY = 0.7


def _attribution(evaluation) -> str:
    kind = evaluation.network_meta.get("source_kind")
    if kind in ("osm", "graphml", "networkx", "osmnx-download"):
        return OSM_ATTRIBUTION
    source = str(evaluation.network_meta.get("source") or "")
    return f"Road data: {source}" if source else ""


def rule_rows(evaluation, rule_id: str, language: str = "") -> pd.DataFrame:
    """County summary rows of one rule (and language; '' for all members)."""
    table = evaluation.county_summary if not language else evaluation.language_summary
    if not len(table):
        return table
    return table[(table["rule"] == rule_id) & (table["language"] == language)]


def county_map(evaluation, rule_id: str, language: str = "", *, height: int = 520) -> go.Figure:
    """Choropleth of the share of members meeting a rule per county, over the major roads.

    The colour scale turns from red to green at the rule's threshold (marked
    on the colour bar); failing counties are outlined in red. The region's
    motorways, trunk, primary and secondary roads show through the fill
    (:func:`~adequacy.frontend.basemap.road_layers`, ``detail=False``).
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
        [0.0, DEEP_FAIL_COLOUR],
        [t * 0.999, LIGHT_FAIL_COLOUR],
        [t, LIGHT_PASS_COLOUR],
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
            marker={"line": {"color": "#555555", "width": 0.8}, "opacity": FILL_OPACITY},
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
    bounds = regions.total_bounds
    roads = road_layers(evaluation.graph, bounds, detail=False) if evaluation.graph else []
    _layout(fig, evaluation, title, height, bounds, layers=roads)
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
    """A county's members who fail a rule and the rule's in-network providers, over every road.

    Failing members are coloured by miles (or, for a rule without a miles
    limit, minutes) to the k-th provider in bands of the county's limit, one
    legend entry per band; with ``failing_only=False`` the members who meet it
    are drawn in the passing colour. Providers are larger blue circles with a
    white rim. The county is drawn over all its roads (WGS84 lon/lat; see
    :func:`~adequacy.frontend.basemap.road_traces`, ``detail=True``). Members
    are shown by ID only; no other personal detail leaves the table.
    """
    regions = evaluation.regions
    res = evaluation.member_results
    sel = (
        (res["rule"] == rule_id)
        & (res["language"] == language)
        & (res["county_fips"] == county_fips)
    ).to_numpy()
    part = res.loc[sel, ["member_id", "miles", "minutes", "meets", "region_class"]]
    if failing_only:
        part = part[~part["meets"]]
    where = evaluation.members.set_index("member_id").loc[part["member_id"].astype(str)]
    rule = evaluation.standards.rule(rule_id)
    county = regions[regions["fips"] == county_fips]
    geojson = json.loads(county[["fips", "geometry"]].to_json())
    for feature in geojson["features"]:
        feature["id"] = feature["properties"]["fips"]
    fig = go.Figure(
        go.Choroplethmap(
            geojson=geojson,
            locations=[county_fips],
            z=[0],
            colorscale=[[0, "#e6e6e6"], [1, "#e6e6e6"]],
            showscale=False,
            marker={"line": {"color": "#555555", "width": 1.5}, "opacity": FILL_OPACITY},
            hoverinfo="skip",
        )
    )
    if evaluation.graph is not None:  # a run whose partitions cut their graphs has none
        fig.add_traces(road_traces(evaluation.graph, county.total_bounds, detail=True))
    lon, lat = where["lon"].to_numpy(), where["lat"].to_numpy()
    miles = part["miles"].to_numpy(dtype=float)
    text = np.array(
        [
            f"{m} · {d:.1f} mi · {t:.0f} min" if np.isfinite(d) else f"{m} · beyond horizon"
            for m, d, t in zip(part["member_id"].astype(str), miles, part["minutes"], strict=True)
        ],
        dtype=object,
    )
    meets = part["meets"].to_numpy(dtype=bool)
    groups = [] if failing_only else [("meet the rule", PASS_COLOUR, meets)]
    basis, bands = _bands(part, rule, county_fips)
    groups += [(label, colour, chosen & ~meets) for label, colour, chosen in bands]
    shown = [(label, colour, chosen) for label, colour, chosen in groups if chosen.any()]
    for label, colour, chosen in shown or [("no member fails", FAIL_COLOUR, meets & ~meets)]:
        fig.add_trace(
            go.Scattermap(
                lon=lon[chosen],
                lat=lat[chosen],
                mode="markers",
                marker={"size": 7, "color": colour},
                text=list(text[chosen]),
                hoverinfo="text",
                name=f"{label} ({int(chosen.sum()):,})",
            )
        )
    p = evaluation.providers
    p = p[(p["provider_type"] == rule.provider_type) & p["in_network"]]
    if rule.specialty:
        p = p[p["specialty"] == rule.specialty]
    fig.add_trace(  # a white rim: MapLibre circles without map sprites have no outline
        go.Scattermap(
            lon=p["lon"],
            lat=p["lat"],
            mode="markers",
            marker={"size": 15, "color": "#ffffff"},
            hoverinfo="skip",
            showlegend=False,
            name="rim of the providers",
        )
    )
    fig.add_trace(
        go.Scattermap(
            lon=p["lon"],
            lat=p["lat"],
            mode="markers",
            marker={"size": 11, "color": PROVIDER_COLOUR},
            text=p["provider_id"] + " " + p.get("name", pd.Series("", index=p.index)).astype(str),
            customdata=p["provider_id"],
            hoverinfo="text",
            name=f"in-network {rule.provider_type} providers ({len(p):,})",
        )
    )
    name = dict(zip(regions["fips"], regions["name"], strict=True)).get(county_fips, county_fips)
    title = f"{name}: members failing {rule.label} and the providers"
    _layout(fig, evaluation, title, height, county.total_bounds)
    fig.update_layout(
        showlegend=True,
        legend={
            "x": 0,
            "y": 0,
            "bgcolor": "rgba(255,255,255,0.85)",
            "title": {"text": f"{basis} to provider #{rule.count}"},
        },
    )
    return fig


def _bands(part: pd.DataFrame, rule, county_fips: str) -> tuple[str, list]:
    """Members' bands of distance (miles) or, without a miles limit, time (minutes) to the
    k-th provider, in multiples of their limit in the county: within it, up to 1.5x, up
    to 2x, beyond 2x, and no route within the search horizon.

    Returns the basis ('miles' or 'minutes') and (label, colour, boolean mask) per band.
    """
    classes = part["region_class"].fillna("").astype(str)  # '' for none
    limits = {rc: rule.limits_for(rc or None, county_fips) for rc in classes.unique()} or {
        "": rule.limits_for(None, county_fips)
    }
    basis = "miles" if any(lim.miles is not None for lim in limits.values()) else "minutes"
    unit = "mi" if basis == "miles" else "min"
    of = {rc: getattr(lim, basis) for rc, lim in limits.items()}
    known = [v for v in of.values() if v is not None]
    # members whose terms set no limit in that unit: against the county's largest one
    of = {rc: max(known) if v is None else v for rc, v in of.items()} if known else {}
    limit = classes.map(of).to_numpy(dtype=float)
    ratio = part[basis].to_numpy(dtype=float) / limit
    edges = (1.0, 1.5, 2.0)
    if len(set(of.values())) == 1:
        lim = next(iter(of.values()))
        labels = [f"≤ {lim:g} {unit}"]
        labels += [f"{lim * a:g}–{lim * b:g} {unit}" for a, b in pairwise(edges)]
        labels += [f"> {lim * edges[-1]:g} {unit}"]
    else:
        labels = ["within the limit", "1–1.5× the limit", "1.5–2× the limit", "> 2× the limit"]
    finite = np.isfinite(ratio)
    index = np.searchsorted(edges, np.where(finite, ratio, 0.0), side="left")
    bands = [
        (f"fail: {label}", colour, finite & (index == i))
        for i, (label, colour) in enumerate(zip(labels, BAND_COLOURS, strict=True))
    ]
    bands.append(("fail: no route within the horizon", NO_ROUTE_COLOUR, ~finite))
    return basis, bands


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


def _layout(
    fig: go.Figure, evaluation, title: str, height: int, bounds, *, layers: Sequence[dict] = ()
) -> None:
    """Title, size, the view of ``bounds`` (WGS84 degrees), map ``layers`` and the notes."""
    fig.update_layout(map={**_view(bounds, height), "layers": list(layers)})
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
