"""The report's figures: county maps and distance/time histograms (plotly).

County polygons are drawn on plain x/y axes, not on map tiles, so the page
opens offline from a file; the histograms hold counts only, never a member's
value; :func:`figure_html` embeds a figure under a fixed div id, so the page
is reproducible.

Owns: ``county_figure``, ``distance_figure``, ``figure_html`` and the polygon
and bin helpers. Uses: :mod:`adequacy.report.style` (colours, attribution),
:mod:`adequacy.report.formatting` and the rule rows of
:mod:`adequacy.report.tables`.
"""

from __future__ import annotations

import math
import re
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.report.formatting import integer, number, ordinal, percent
from adequacy.report.style import (
    FAIL_COLOUR,
    OSM_ATTRIBUTION,
    PASS_COLOUR,
    SYNTHETIC_NOTE,
    map_value,
)
from adequacy.report.tables import flag, rule_rows
from adequacy.runs.read import Run

BAR_COLOUR = "#4a6fa5"

BEYOND_COLOUR = "#9a9a9a"


def _attribution(manifest: dict[str, Any]) -> tuple[str, str]:
    """(source_kind, source) of the run's road network, for the maps' attribution."""
    road = manifest.get("road_network") or {}
    return str(road.get("source_kind") or ""), str(road.get("source") or "")


def _polygon_xy(geometry, decimals: int = 5) -> tuple[list, list]:
    """Exterior rings of a (multi)polygon as lon/lat lists, parts separated by None."""
    parts = getattr(geometry, "geoms", [geometry])
    xs: list = []
    ys: list = []
    for part in parts:
        if part.is_empty or not hasattr(part, "exterior"):
            continue
        ring = np.round(np.asarray(part.exterior.coords)[:, :2], decimals)
        if xs:
            xs.append(None)
            ys.append(None)
        xs.extend(ring[:, 0].tolist())
        ys.extend(ring[:, 1].tolist())
    return xs, ys


def county_figure(run: Run, rule: dict, *, height: int = 460):
    """Map of the share of members meeting a rule per county (plotly, drawn as SVG).

    Same colours as :func:`adequacy.frontend.maps.county_map` (red below the threshold,
    green above, failing counties outlined in red), but county polygons are
    drawn on plain x/y axes (longitude, latitude scaled by cos(latitude)), not
    on a MapLibre map: MapLibre does not draw in Chrome or Safari when the
    report is opened from a file (file://), and regulators open it from a file.
    """
    import plotly.graph_objects as go
    from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb

    counties = run.counties
    rows = rule_rows(run.tables["county_summary"], [rule["id"]]).set_index("county_fips")
    threshold = float(rule["threshold"])
    t = min(max(threshold, 0.01), 0.99)
    scale = [[0.0, "#67001f"], [t * 0.999, "#f4a582"], [t, "#d9f0d3"], [1.0, PASS_COLOUR]]
    simple = counties.geometry.simplify(0.0005, preserve_topology=True)
    fig = go.Figure()
    labels_x, labels_y, labels, label_colours = [], [], [], []
    for fips, name, geom, full in zip(
        counties["county_fips"], counties["county"], simple, counties.geometry, strict=True
    ):
        share = number(rows["share_meeting"].get(fips)) if fips in rows.index else math.nan
        members = number(rows["members"].get(fips)) if fips in rows.index else 0
        passes = flag(rows["verdict"].get(fips)) if fips in rows.index else None
        value = map_value(share, passes is False, threshold)
        fill = "#e9e9e9" if math.isnan(share) else sample_colorscale(scale, [value])[0]
        xs, ys = _polygon_xy(geom)
        verdict = "passes" if passes else "FAILS" if passes is False else "no members"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=fill,
                line={
                    "color": FAIL_COLOUR if passes is False else "#555555",
                    "width": 2.5 if passes is False else 0.8,
                },
                hoveron="fills",
                hoverinfo="text",
                text=f"{name} ({fips}): {percent(share)} of {integer(members)} members meet"
                f" · {verdict}",
                name=name,
                showlegend=False,
            )
        )
        point = full.representative_point()
        labels_x.append(round(point.x, 5))
        labels_y.append(round(point.y, 5))
        labels.append(f"<b>{escape(name)}</b><br>{percent(share)}")
        rgb = hex_to_rgb(fill) if fill.startswith("#") else unlabel_rgb(fill)
        dark = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255 < 0.5
        label_colours.append("#ffffff" if dark else "#111111")
    if len(labels) <= 30:
        fig.add_trace(
            go.Scatter(
                x=labels_x,
                y=labels_y,
                mode="text",
                text=labels,
                textfont={"size": 11, "color": label_colours},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    west, south, east, north = (float(b) for b in counties.total_bounds)
    fig.add_trace(  # the colour bar
        go.Scatter(
            x=[west],
            y=[south],
            mode="markers",
            marker={
                "size": 0.1,
                "opacity": 0,
                "color": [0.0],
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": scale,
                "showscale": True,
                "colorbar": {
                    "title": {"text": f"share meeting<br>threshold {threshold:.0%}"},
                    "tickformat": ".0%",
                    "tickvals": [0, threshold, 1],
                    "thickness": 14,
                    "len": 0.9,
                },
            },
            hoverinfo="skip",
            showlegend=False,
        )
    )
    pad_x, pad_y = (east - west) * 0.02, (north - south) * 0.02
    fig.update_xaxes(visible=False, range=[west - pad_x, east + pad_x], constrain="domain")
    fig.update_yaxes(
        visible=False,
        range=[south - pad_y, north + pad_y],
        scaleanchor="x",
        scaleratio=1 / max(math.cos(math.radians((north + south) / 2)), 0.2),
    )
    kind, source = _attribution(run.manifest)
    notes = []
    if kind in ("osm", "graphml", "networkx", "osmnx-download"):
        notes.append(OSM_ATTRIBUTION)
    elif source:
        notes.append(f"Road data: {source}")
    regions = (run.manifest.get("inputs") or {}).get("regions") or {}
    if regions.get("path"):
        notes.append(f"Counties: {Path(regions['path']).name}")
    annotations = [
        {
            "text": " · ".join(notes),
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 1,
            "y": -0.04,
            "xanchor": "right",
            "font": {"size": 10, "color": "#666"},
        }
    ]
    if run.manifest.get("synthetic"):
        annotations.append(SYNTHETIC_NOTE)
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 20, "b": 24},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        hovermode="closest",
        annotations=annotations,
        font={"family": "Helvetica, Arial, sans-serif", "size": 12, "color": "#222"},
    )
    return fig


def _nice_step(raw: float) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) of at least ``raw``."""
    raw = max(raw, 1e-6)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def distance_figure(results: pd.DataFrame, rule: dict, settings: dict[str, Any]):
    """Histograms of road miles and drive minutes to the k-th nearest qualifying provider.

    ``results`` holds the rule's members in the service area. The axis runs to
    the larger of the 99.5th percentile and 1.2 times the standard's limit; the
    members farther than that, and those with no qualifying provider within the
    search horizon (infinite values), are counted in a grey 'over' bar. Counts
    only: no member's value is embedded in the page.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    k = int(rule.get("count") or 1)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=(
            f"Road distance to the {ordinal(k)} nearest provider (miles)".replace("  ", " "),
            f"Drive time to the {ordinal(k)} nearest provider (minutes)".replace("  ", " "),
        ),
    )
    for col, (metric, unit, limit, horizon) in enumerate(
        (
            ("miles", "mi", rule.get("miles"), settings.get("max_report_miles") or 100.0),
            ("minutes", "min", rule.get("minutes"), settings.get("max_report_minutes") or 120.0),
        ),
        start=1,
    ):
        values = results[metric].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        beyond = int(len(values) - len(finite))
        p995 = float(np.quantile(finite, 0.995)) if len(finite) else 0.0
        top = max(p995, float(limit or 0) * 1.2, 1.0)
        top = min(top, max(float(horizon), float(limit or 0)))
        step = _nice_step(top / 40)
        n_bins = max(int(math.ceil(top / step - 1e-9)), 1)
        edges = np.arange(n_bins + 1) * step
        counts, _ = np.histogram(finite[finite <= edges[-1]], bins=edges)
        over = int((finite > edges[-1]).sum()) + beyond
        fig.add_trace(
            go.Bar(
                x=edges[:-1] + step / 2,
                y=counts,
                width=step * 0.92,
                marker={"color": BAR_COLOUR},
                customdata=[
                    f"{a:g}–{b:g} {unit}" for a, b in zip(edges[:-1], edges[1:], strict=True)
                ],
                hovertemplate="%{customdata}: %{y:,} members<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        x_beyond = edges[-1] + max(step * 4, edges[-1] * 0.12)
        fig.add_trace(
            go.Bar(
                x=[x_beyond],
                y=[over],
                width=step * 3,
                marker={"color": BEYOND_COLOUR},
                hovertemplate=f"over {edges[-1]:g} {unit}: %{{y:,}} members ({beyond:,} beyond "
                f"the {float(horizon):g} {unit} search horizon)<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        if limit:
            fig.add_vline(
                x=float(limit),
                line={"color": FAIL_COLOUR, "dash": "dash", "width": 1.5},
                annotation={
                    "text": f"standard {float(limit):g} {unit}",
                    "font": {"size": 11, "color": FAIL_COLOUR},
                },
                annotation_position="top right",
                row=1,
                col=col,
            )
        tick_step = _nice_step(edges[-1] / 6)
        ticks = np.arange(0, edges[-1] * (1 - 0.08) + 1e-9, tick_step)  # clear of 'over'

        fig.update_xaxes(
            tickmode="array",
            tickvals=[*ticks.tolist(), x_beyond],
            ticktext=[*(f"{t:g}" for t in ticks), f"over {edges[-1]:g}"],
            range=[0, x_beyond + step * 2],
            tickangle=0,
            row=1,
            col=col,
        )
        fig.update_yaxes(title={"text": "members"} if col == 1 else None, row=1, col=col)
    fig.update_layout(
        height=300,
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        bargap=0,
        plot_bgcolor="#ffffff",
        font={"family": "Helvetica, Arial, sans-serif", "size": 12, "color": "#222"},
    )
    fig.update_annotations(font_size=13, selector={"text": re.compile("^(Road|Drive)")})
    fig.update_xaxes(showgrid=False, linecolor="#888", ticks="outside")
    fig.update_yaxes(gridcolor="#e6e6e6", zeroline=False)
    return fig


def figure_html(fig, div_id: str) -> str:
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
