"""The method section of the HTML report: how the run was evaluated and how to
evaluate it again.

The road network and its hash, the speed profile, the snapping of addresses,
the standards (each rule described by :meth:`~adequacy.engine.standards.Rule.describe`)
and whether this report includes it, the inputs and their hashes, the
settings, the software and the commands that re-create the run and the report.

Owns: ``method_section``. Uses: the run's manifest, the standards set rebuilt
from it and :mod:`adequacy.report.formatting`.
"""

from __future__ import annotations

from html import escape

from adequacy import __version__
from adequacy.engine.standards import StandardsSet
from adequacy.report.formatting import Doc, distance, html_table, integer, kv_table, number, percent
from adequacy.runs.read import Run

#: How each distance basis is stated in the method (``Settings.distance_basis``).
BASIS_TEXT = {
    "shortest": "as the shortest road distance (which can be shorter than the route the "
    "member would drive; distance basis <b>shortest</b>).",
    "fastest_route": "as the length of that fastest route, the one the member would drive "
    "(distance basis <b>fastest_route</b>); a member's miles and minutes describe the same "
    "route, to the k-th nearest provider by time.",
    "straight_line": "as the straight-line (great-circle) distance between the member's and "
    "the provider's addresses, not along roads (distance basis <b>straight_line</b>).",
}


def _sentence(text: str) -> str:
    """Text with its first letter in upper case (the rest unchanged)."""
    return text[:1].upper() + text[1:]


def method_section(
    doc: Doc,
    run: Run,
    rule_set: StandardsSet,
    excluded: list[tuple[dict, str]],
    period_label: str,
    command: str,
    previous: Run | None,
) -> None:
    """The method; ``rule_set`` is the run's standards (from its manifest), every rule of
    which is listed, with whether this report includes it."""
    manifest = run.manifest
    doc.h2("Method and data sources")
    basis = (manifest.get("settings") or {}).get("distance_basis") or "shortest"
    doc.add(
        "<p>For every member, the drive time to the nearest in-network providers of each "
        "rule's type was computed over the road network below (fastest paths on the road "
        f"graph), and the distance {BASIS_TEXT.get(basis, BASIS_TEXT['shortest'])} A member "
        "meets a rule when enough distinct providers are within the rule's limits (the "
        "distance or the time limit, or both where the rule says 'and'). County results "
        "count the members living in the county.</p>"
    )
    road = manifest.get("road_network") or {}
    doc.h3("Road network")
    rows = [
        ["Source", escape(str(road.get("source") or "–"))],
        ["Kind", escape(str(road.get("source_kind") or "–"))],
        ["SHA-256", f"<span class='mono'>{escape(str(road.get('source_sha256') or '–'))}</span>"],
        ["Nodes", integer(road.get("nodes"))],
        ["Directed edges", integer(road.get("edges"))],
        ["Road miles", distance(road.get("road_miles"), "mi")],
    ]
    if road.get("class_column"):
        rows.append(["Road class column", escape(str(road["class_column"]))])
    attribution = road.get("attribution") or ""
    if attribution:
        rows.append(["Attribution", escape(attribution)])
    doc.add(kv_table(rows))
    profile = manifest.get("speed_profile") or {}
    doc.h3("Speed profile")
    doc.add(
        f"<p><b>{escape(str(profile.get('name', '–')))}@{escape(str(profile.get('version', '–')))}"
        f"</b>: {escape(str(profile.get('description', '')))}. Roads of a class not listed drive "
        f"at {number(profile.get('fallback_mph')):g} mph"
        + (
            f"; a posted speed limit (OSM maxspeed) is used where tagged, driven at "
            f"{number(profile.get('maxspeed_factor') or 1.0):g} of it"
            if profile.get("use_maxspeed")
            else ""
        )
        + ".</p>"
    )
    delays = profile.get("node_delay_seconds") or {}
    crossing = number(profile.get("intersection_delay_seconds") or 0.0)
    if delays or crossing:
        parts = [
            f"{float(v):g} s at each {escape(k.replace('_', ' '))} node" for k, v in delays.items()
        ]
        if crossing:
            parts.append(f"{crossing:g} s at every intersection (a node joined to three or more)")
        doc.add(
            "<p>Delays added to the time of every road segment entering such a node: "
            + "; ".join(parts)
            + ". They stand in for the turn and signal costs of routing engines, so the "
            "search stays exact on its own costs. The profile is calibrated against OSRM's "
            "car profile on the same OpenStreetMap data (README, Drive times).</p>"
        )
    speeds = sorted((profile.get("class_mph") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if speeds:
        label = {"True": "primary and secondary roads", "False": "all other roads"}
        doc.add(
            html_table(
                ["Road class", "Speed (mph)"],
                [[escape(label.get(k, k)), f"{float(v):.1f}"] for k, v in speeds],
                "kv",
            )
        )
    snapping = manifest.get("snapping") or {}
    doc.h3("Snapping of addresses to roads")
    doc.add(
        f"<p>{escape(_sentence(str(snapping.get('method', '–'))))}. Members farther than "
        f"{number(snapping.get('max_snap_meters')):,.0f} m from any road are flagged off-road "
        f"(likely a bad geocode) and still routed from the nearest road; the straight-line leg "
        f"is driven at {number(snapping.get('snap_speed_mph')):g} mph. Distances and times beyond "
        f"{number(manifest['settings'].get('max_report_miles')):g} miles or "
        f"{number(manifest['settings'].get('max_report_minutes')):g} minutes (or the rule's own "
        "limit when larger) are reported as beyond the search horizon.</p>"
    )
    standards = manifest["standards"]
    doc.h3("Standards")
    doc.add(
        f"<p><b>{escape(str(standards.get('title') or standards.get('name')))}</b> "
        f"({escape(str(standards.get('name')))}@{escape(str(standards.get('version')))}). "
        f"Source: {escape(str(standards.get('source') or '–'))}. Annual rules are reported in "
        f"Q{standards.get('annual_quarter', 4)}; this report covers {escape(period_label)}.</p>"
    )
    left_out = {r["id"] for r, _ in excluded}
    rows = [
        [
            f"{escape(r.label)}<br><code>{escape(r.id)}</code>",
            escape(r.describe()),
            escape(r.cadence),
            percent(r.threshold, 0),
            ("left out (annual)", "na") if r.id in left_out else "included",
        ]
        for r in rule_set.rules
    ]
    head = ["Rule", "Standard", "Cadence", "Threshold", "This report"]
    doc.add(html_table(head, rows, "", "llcrl"))
    doc.h3("Inputs")
    rows = []
    for name, info in sorted((manifest.get("inputs") or {}).items()):
        if not info:
            rows.append([escape(name), ("not given", "na"), "", ""])
            continue
        rows.append(
            [
                escape(name),
                (escape(str(info.get("path", ""))), "mono"),
                (escape(str(info.get("sha256") or "–")), "mono"),
                integer(info.get("bytes")),
            ]
        )
    doc.add(html_table(["Input", "File", "SHA-256", "Bytes"], rows, "", "lllr"))
    settings = manifest.get("settings") or {}
    doc.add(
        "<h4>Settings</h4><p class='mono'>"
        + escape(", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
        + "</p>"
    )
    notes = manifest.get("notes") or []
    if notes:
        doc.add(
            "<h4>Notes of the run</h4><ul class='changes'>"
            + "".join(f"<li>{escape(str(n))}</li>" for n in notes)
            + "</ul>"
        )
    doc.h3("Software and reproduction")
    packages = manifest.get("packages") or {}
    doc.add(
        f"<p>Evaluated with adequacy {escape(str(manifest.get('adequacy_version', '–')))} on "
        f"{escape(str(manifest.get('created_utc', '–')))} UTC; report by adequacy "
        f"{escape(__version__)}. Packages: "
        + escape(", ".join(f"{k} {v}" for k, v in sorted(packages.items())))
        + ".</p>"
    )
    doc.add(
        "<p>The evaluation (same inputs give identical results):</p>"
        f"<pre>{escape(str(manifest.get('command') or '–'))}</pre>"
        f"<p>This report, from the run folder <code>{escape(str(run.folder.resolve()))}</code>"
        + (
            f" and the previous run <code>{escape(str(previous.folder.resolve()))}</code>"
            if previous is not None
            else ""
        )
        + f":</p><pre>{escape(command)}</pre>"
    )
