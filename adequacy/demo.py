"""The demo scenario: real roads, counties and hospitals; synthetic members and practices.

Two regions, each reproducible from a seed:

``boston`` (default)
    Urban Massachusetts on the OpenStreetMap extract of Boston, Cambridge,
    Somerville, Chelsea and Everett. Members speak English, Spanish, Haitian
    Creole, Portuguese, Chinese and Vietnamese.
``eastern-idaho``
    Rural Idaho on US Census TIGER/Line roads, with few hospitals and long
    drives, so that distance gaps show.

Real: the road network, the county polygons and populations, and the HIFLD
hospitals inside the road extract (acute care and rehabilitation facilities).
Synthetic, and marked ``synthetic = true`` in every row and every output:
members (placed along residential roads in proportion to county population),
primary care, OB/GYN, specialist and urgent-care practices (with languages,
panel sizes and some closed panels), out-of-network candidates, claims, and an
appointment availability survey of a sample of in-network practitioners (``survey``,
drawn from a random stream of its own so that the members and providers do not depend
on it). Member and provider ids start with ``SYN-``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adequacy.engine.judge import county_of
from adequacy.errors import InputError
from adequacy.inputs.regions import BUNDLED_COUNTIES, read_regions
from adequacy.network import RoadGraph, load_road_graph
from adequacy.runs.write import gpkg_date

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
HOSPITALS = DATA_DIR / "facilities" / "hifld_hospitals_2020.csv"
DEFAULT_SEED = 2026
#: the what-if example ``adequacy demo`` writes into its run folder
WHATIF_EXAMPLE = "whatif-example.yaml"


@dataclass(frozen=True)
class DemoRegion:
    name: str
    title: str
    roads: Path
    class_column: str | None
    residential_classes: tuple[Any, ...]
    members: int
    languages: dict[str, float]
    provider_languages: dict[str, float]
    urgent_care_sites: int
    moved_away_to: tuple[float, float]  # lon/lat of a town members moved to, off the map
    example_site: tuple[float, float]  # lon/lat of the urgent care of the what-if example
    min_county_share: float = 0.05


REGIONS = {
    "boston": DemoRegion(
        name="boston",
        title="Boston, Massachusetts (urban; OpenStreetMap roads)",
        roads=DATA_DIR / "osm" / "boston_ma.osm.pbf",
        class_column=None,
        residential_classes=("residential", "living_street", "unclassified", "tertiary"),
        members=25_000,
        languages={
            "English": 0.58,
            "Spanish": 0.22,
            "Haitian Creole": 0.06,
            "Portuguese": 0.05,
            "Chinese": 0.05,
            "Vietnamese": 0.04,
        },
        provider_languages={
            "Spanish": 0.22,
            "Haitian Creole": 0.05,
            "Portuguese": 0.05,
            "Chinese": 0.05,
            "Vietnamese": 0.008,
        },
        urgent_care_sites=4,
        moved_away_to=(-71.80, 42.26),  # Worcester
        example_site=(-71.0589, 42.3601),  # Government Center, Boston
    ),
    "eastern-idaho": DemoRegion(
        name="eastern-idaho",
        title="Eastern Idaho (rural; US Census TIGER/Line roads)",
        roads=DATA_DIR / "roads" / "eastern_idaho_tiger2023.parquet",
        class_column="prisec_fl",
        residential_classes=("False",),
        members=6_000,
        languages={"English": 0.86, "Spanish": 0.14},
        provider_languages={"Spanish": 0.15},
        urgent_care_sites=1,
        moved_away_to=(-116.20, 43.61),  # Boise
        example_site=(-113.3002, 43.6366),  # Arco, Butte County
        min_county_share=0.03,
    ),
}

SPECIALTIES = {  # share of specialists, and relative claim volume per member
    "cardiology": (0.14, 1.00),
    "orthopedics": (0.13, 0.92),
    "dermatology": (0.09, 0.81),
    "gastroenterology": (0.09, 0.74),
    "ophthalmology": (0.09, 0.70),
    "neurology": (0.08, 0.52),
    "endocrinology": (0.07, 0.47),
    "pulmonology": (0.06, 0.40),
    "urology": (0.07, 0.38),
    "oncology": (0.06, 0.33),
    "nephrology": (0.05, 0.21),
    "psychiatry": (0.06, 0.44),
}


@dataclass
class DemoScenario:
    """Inputs of one demo run."""

    region: DemoRegion
    seed: int
    graph: RoadGraph
    members: pd.DataFrame
    providers: pd.DataFrame
    claims: pd.DataFrame
    regions: Any  # GeoDataFrame of the service-area counties
    survey: pd.DataFrame | None = None  # synthetic appointment availability survey

    def write_inputs(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write the inputs as files that ``adequacy evaluate`` reads again."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "members": folder / "members.csv",
            "providers": folder / "providers.csv",
            "claims": folder / "claims.csv",
            "regions": folder / "regions.gpkg",
        }
        if self.survey is not None:
            paths["survey"] = folder / "survey.csv"
            self.survey.to_csv(paths["survey"], index=False)
        self.members.to_csv(paths["members"], index=False)
        self.providers.to_csv(paths["providers"], index=False)
        self.claims.to_csv(paths["claims"], index=False)
        with gpkg_date():  # the run's date (SOURCE_DATE_EPOCH), not the clock's
            self.regions.to_file(paths["regions"], driver="GPKG")
        return paths


def build_demo(
    region: str = "boston",
    *,
    seed: int = DEFAULT_SEED,
    n_members: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    cms: bool = False,
) -> DemoScenario:
    """Build the demo scenario for ``region`` (``boston`` or ``eastern-idaho``).

    ``cms`` (for ``--standards cms-ma``): the roster also carries CMS specialty
    codes (each practice's, mapped from its specialty), the hospitals' real
    HIFLD bed counts, synthetic practices and facilities spread over the CMS
    codes no demo specialty covers, synthetic NPIs and a few telehealth flags.
    """
    if region not in REGIONS:
        raise InputError(f"unknown demo region {region!r}; use one of: {', '.join(REGIONS)}")
    spec = REGIONS[region]
    rng = np.random.default_rng(seed)
    graph = load_road_graph(spec.roads, class_column=spec.class_column, cache_dir=cache_dir)
    counties, hull = _service_counties(graph, spec)
    members = _members(graph, spec, counties, hull, rng, n_members or spec.members)
    hospitals = _hospitals(graph)
    practices = _practices(graph, spec, members, rng)
    providers = pd.concat([hospitals, practices], ignore_index=True)
    if cms:  # a stream of its own: the seed-manual demo's inputs never depend on it
        providers = _cms_roster(graph, members, providers, np.random.default_rng([seed, 2]))
    else:
        providers = providers.drop(columns=["hifld_type", "beds"])
    members["pcp_id"] = _assign_pcps(members, providers, rng)
    claims = _claims(len(members), rng)
    # the survey has a stream of its own: the members and providers above never depend on it
    survey = _survey(providers, np.random.default_rng([seed, 1]))
    return DemoScenario(spec, seed, graph, members, providers, claims, counties, survey)


def example_whatif(scenario: DemoScenario) -> tuple[str, str]:
    """A what-if scenario (YAML text) that runs on this demo's run folder, and its name:
    the in-network PCP with the largest panel retires, the first out-of-network PCP
    joins, and an urgent care opens at the region's ``example_site``."""
    p = scenario.providers
    pcp = p["provider_type"] == "pcp"
    joining = min(p.loc[pcp & ~p["in_network"].astype(bool), "provider_id"])
    panels = scenario.members["pcp_id"].loc[lambda ids: ids != ""].value_counts()
    retiring = min(panels.index, key=lambda pid: (-panels[pid], pid))
    lon, lat = scenario.region.example_site
    name = f"{joining} joins, an urgent care opens"
    lines = [
        "as_of: 2026-12-31                # terminations effective later are listed as pending",
        f"join: [{joining}]         # out-of-network rows of the base roster",
    ]
    if retiring is not None:
        name = f"{retiring} retires, {name}"
        lines += [
            "terminate:",
            f"  - {{provider_id: {retiring}, effective: 2026-12-01, reason: retirement}}",
        ]
    lines += [
        "add:",
        f"  - {{provider_id: NEW-URG-1, provider_type: urgent_care, lat: {lat}, lon: {lon}}}",
    ]
    return "\n".join([f"name: {name}", *lines]) + "\n", name


# ---------------------------------------------------------------------------
# regions and members
# ---------------------------------------------------------------------------
def _service_counties(graph: RoadGraph, spec: DemoRegion):
    import geopandas as gpd
    import shapely

    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([graph.lon, graph.lat])))
    counties = read_regions(BUNDLED_COUNTIES)
    near = counties[counties.intersects(hull)].copy()
    equal_area = gpd.GeoSeries([hull], crs=4326).to_crs(6933).iloc[0]
    shares = near.geometry.to_crs(6933).intersection(equal_area).area / equal_area.area
    keep = near[shares.to_numpy() >= spec.min_county_share]
    return keep.reset_index(drop=True), hull


def _points_on_roads(graph: RoadGraph, classes: tuple, n: int, rng) -> np.ndarray:
    wanted = [i for i, c in enumerate(graph.class_names) if c in {str(x) for x in classes}]
    edges = np.flatnonzero(np.isin(graph.edge_class, wanted))
    if len(edges) == 0:
        edges = np.arange(graph.n_edges)
    weights = graph.meters[edges] / graph.meters[edges].sum()
    pick = rng.choice(edges, size=n, p=weights)
    u = graph.edge_sources()[pick]
    v = graph.targets[pick]
    t = rng.random(n)
    lon = graph.lon[u] + t * (graph.lon[v] - graph.lon[u])
    lat = graph.lat[u] + t * (graph.lat[v] - graph.lat[u])
    # a house stands back from the road: 10-40 m
    offset = rng.uniform(10, 40, n) * rng.choice([-1, 1], n)
    angle = np.arctan2(
        graph.lat[v] - graph.lat[u], (graph.lon[v] - graph.lon[u]) * np.cos(np.radians(lat))
    )
    lat = lat + offset * np.cos(angle) / 111_320.0
    lon = lon - offset * np.sin(angle) / (111_320.0 * np.cos(np.radians(lat)))
    return np.column_stack([lon, lat])


def _members(graph, spec: DemoRegion, counties, hull, rng, n: int) -> pd.DataFrame:
    import geopandas as gpd

    pool = _points_on_roads(graph, spec.residential_classes, n * 4, rng)
    found = county_of(pool[:, 0], pool[:, 1], counties)
    index_of = {f: i for i, f in enumerate(counties["fips"])}
    where = np.array([index_of.get(f, -1) for f in found], dtype=np.int64)
    # members per county in proportion to the population of the part of the county covered
    area = counties.geometry.to_crs(6933)
    covered = area.intersection(gpd.GeoSeries([hull], crs=4326).to_crs(6933).iloc[0]).area
    expected = counties["population"].to_numpy() * (covered / area.area).to_numpy()
    n_inside = int(round(n * 0.99))
    quota = np.floor(expected / expected.sum() * n_inside).astype(int)
    chosen = []
    for c, q in enumerate(quota):
        candidates = np.flatnonzero(where == c)
        chosen.append(rng.choice(candidates, size=min(q, len(candidates)), replace=False))
    # a few members live just outside the service area, and a few moved far away
    outside = np.flatnonzero(where < 0)
    n_out = n - sum(len(c) for c in chosen) - 5
    chosen.append(rng.choice(outside, size=min(max(n_out, 0), len(outside)), replace=False))
    idx = np.concatenate(chosen)
    rng.shuffle(idx)
    coords = pool[idx]
    far = np.column_stack(
        [
            spec.moved_away_to[0] + rng.uniform(-0.02, 0.02, 5),
            spec.moved_away_to[1] + rng.uniform(-0.02, 0.02, 5),
        ]
    )
    coords = np.vstack([coords, far])
    m = len(coords)
    langs = list(spec.languages)
    p = np.array(list(spec.languages.values()))
    ages = np.concatenate(
        [rng.integers(0, 18, m), rng.integers(18, 65, m), rng.integers(65, 90, m)]
    )
    age_group = rng.choice(3, m, p=[0.38, 0.52, 0.10])
    return pd.DataFrame(
        {
            "member_id": [f"SYN-M{i:06d}" for i in range(1, m + 1)],
            "lat": np.round(coords[:, 1], 6),
            "lon": np.round(coords[:, 0], 6),
            "language": rng.choice(langs, m, p=p / p.sum()),
            "age": ages[age_group * m + np.arange(m)],
            "plan": rng.choice(["Medicaid", "Commercial"], m, p=[0.85, 0.15]),
            "pcp_id": "",
            "in_treatment": rng.random(m) < 0.05,
            "synthetic": True,
        }
    )


# ---------------------------------------------------------------------------
# providers
# ---------------------------------------------------------------------------
def _hospitals(graph: RoadGraph) -> pd.DataFrame:
    table = pd.read_csv(HOSPITALS, low_memory=False)
    lon_min, lon_max = graph.lon.min(), graph.lon.max()
    lat_min, lat_max = graph.lat.min(), graph.lat.max()
    inside = (
        table["LONGITUDE"].between(lon_min, lon_max)
        & table["LATITUDE"].between(lat_min, lat_max)
        & (table["STATUS"] == "OPEN")
    )
    kinds = {
        "GENERAL ACUTE CARE": "acute_care",
        "CRITICAL ACCESS": "acute_care",
        "CHILDREN": "acute_care",
        "REHABILITATION": "rehabilitation",
    }
    rows = table[inside & table["TYPE"].isin(kinds)]
    beds = pd.to_numeric(rows["BEDS"], errors="coerce").to_numpy()
    return pd.DataFrame(
        {
            "beds": np.where(beds > 0, beds, 0).astype(int),  # HIFLD: -999 where unknown
            "hifld_type": rows["TYPE"].to_numpy(),
            "provider_id": "HIFLD-" + rows["ID"].astype(str),
            "name": rows["NAME"].str.title().to_numpy(),
            "provider_type": rows["TYPE"].map(kinds).to_numpy(),
            "specialty": "",
            "lat": rows["LATITUDE"].to_numpy(),
            "lon": rows["LONGITUDE"].to_numpy(),
            "languages": "English;Spanish",
            "accepting_new_patients": True,
            "panel_size": 0,
            "panel_open": True,
            "practice_id": "HIFLD-" + rows["ID"].astype(str),
            "fte": 1.0,
            "in_network": True,
            "synthetic": False,
        }
    )


def _sites_near_members(
    graph: RoadGraph, members: pd.DataFrame, n: int, rng, spread_m: float
) -> np.ndarray:
    """Sites on a street near randomly chosen members (never in the water)."""
    from adequacy.routing import snap_points

    pick = rng.choice(len(members) - 5, n)  # never at the far-away members
    lon = members["lon"].to_numpy()[pick]
    lat = members["lat"].to_numpy()[pick]
    lat = lat + rng.normal(0, spread_m, n) / 111_320.0
    lon = lon + rng.normal(0, spread_m, n) / (111_320.0 * np.cos(np.radians(lat)))
    node = snap_points(graph, np.column_stack([lon, lat])).node
    lat = graph.lat[node] + rng.uniform(-15, 15, n) / 111_320.0
    lon = graph.lon[node] + rng.uniform(-15, 15, n) / (111_320.0 * np.cos(np.radians(lat)))
    return np.column_stack([np.round(lon, 6), np.round(lat, 6)])


def _practices(graph, spec: DemoRegion, members: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(members)
    rows: list[dict] = []
    counter: dict[str, int] = {"practice": 0}

    def languages() -> str:
        langs = ["English"] + [
            lang for lang, p in spec.provider_languages.items() if rng.random() < p
        ]
        return ";".join(langs)

    def add_group(
        kind, size_choices, n_providers, prefix, spread, specialty_of=None, in_network=True
    ):
        made = 0
        while made < n_providers:
            size = int(rng.choice(size_choices))
            site = _sites_near_members(graph, members, 1, rng, spread)[0]
            counter["practice"] += 1
            practice = f"SYN-PR-{counter['practice']:04d}"
            specialty = specialty_of() if specialty_of else ""
            for _ in range(size):
                made += 1
                counter[prefix] = counter.get(prefix, 0) + 1
                panel = (
                    float(np.clip(rng.lognormal(np.log(850), 0.3), 50, 2600))
                    if kind == "pcp"
                    else 0.0
                )
                closed = kind == "pcp" and (panel > 1500 or rng.random() < 0.12)
                rows.append(
                    {
                        "provider_id": f"{prefix}-{counter[prefix]:04d}",
                        "name": f"Synthetic {kind.replace('_', ' ')} {counter[prefix]}",
                        "provider_type": kind,
                        "specialty": specialty,
                        "lat": site[1],
                        "lon": site[0],
                        "languages": languages(),
                        "accepting_new_patients": not closed,
                        "panel_size": round(panel),
                        "panel_open": not closed,
                        "practice_id": practice,
                        "fte": float(rng.choice([1.0, 1.0, 1.0, 0.8, 0.5])),
                        "in_network": in_network,
                        "synthetic": True,
                    }
                )

    spread = 400.0 if spec.name == "boston" else 1500.0
    add_group("pcp", [1, 2, 2, 3, 4, 6], max(n // 125, 8), "SYN-PCP", spread)
    add_group("obgyn", [1, 1, 2, 3], max(n // 450, 3), "SYN-OBG", spread)
    names = list(SPECIALTIES)
    shares = np.array([SPECIALTIES[s][0] for s in names])
    add_group(
        "specialist",
        [1, 1, 2, 3],
        max(n // 150, 12),
        "SYN-SPC",
        spread,
        specialty_of=lambda: str(rng.choice(names, p=shares / shares.sum())),
    )
    add_group("urgent_care", [1], spec.urgent_care_sites, "SYN-URG", spread)
    # out-of-network providers: candidates for what-if and recruitment, spread wider
    add_group("pcp", [1, 2], max(n // 1500, 6), "SYN-OON-PCP", spread * 6, in_network=False)
    add_group("obgyn", [1], max(n // 5000, 3), "SYN-OON-OBG", spread * 6, in_network=False)
    add_group("urgent_care", [1], 4, "SYN-OON-URG", spread * 6, in_network=False)
    providers = pd.DataFrame(rows)

    # one PCP and one specialist practise at two sites (same id, two rows)
    for kind in ("pcp", "specialist"):
        first = providers[(providers["provider_type"] == kind) & providers["in_network"]].iloc[0]
        second_site = _sites_near_members(graph, members, 1, rng, spread * 10)[0]
        twin = first.copy()
        twin["lon"], twin["lat"] = second_site
        twin["practice_id"] = f"{first['practice_id']}-B"
        providers = pd.concat([providers, twin.to_frame().T], ignore_index=True).infer_objects()
    # one practice with most PCP panels closed (a panel finding)
    sizes = providers[providers["provider_type"] == "pcp"].groupby("practice_id").size()
    big = sizes[sizes >= 3].index[0]
    closing = providers.index[providers["practice_id"] == big][:-1]
    providers.loc[closing, "panel_open"] = False
    providers.loc[closing, "accepting_new_patients"] = False
    return providers


def _assign_pcps(members: pd.DataFrame, providers: pd.DataFrame, rng) -> np.ndarray:
    """Each member with a PCP has one of the five nearest in-network PCP sites (straight line)."""
    from scipy.spatial import cKDTree

    pcps = providers[(providers["provider_type"] == "pcp") & providers["in_network"]]
    scale = np.cos(np.radians(members["lat"].mean()))
    tree = cKDTree(
        np.column_stack(
            [pcps["lon"].to_numpy(dtype=float) * scale, pcps["lat"].to_numpy(dtype=float)]
        )
    )
    k = min(5, len(pcps))
    _, idx = tree.query(np.column_stack([members["lon"] * scale, members["lat"]]), k=k)
    idx = idx.reshape(len(members), k)
    pick = idx[np.arange(len(members)), rng.integers(0, k, len(members))]
    ids = pcps["provider_id"].to_numpy()[pick].astype(object)
    ids[rng.random(len(members)) < 0.15] = ""  # not every member has chosen a PCP
    return ids


def _claims(n_members: int, rng) -> pd.DataFrame:
    names = list(SPECIALTIES)
    volume = np.array([SPECIALTIES[s][1] for s in names])
    counts = np.round(volume * n_members * 0.4 * rng.uniform(0.95, 1.05, len(names)))
    return pd.DataFrame({"specialty": names, "claim_count": counts.astype(int), "synthetic": True})


def _survey(providers: pd.DataFrame, rng) -> pd.DataFrame:
    """A synthetic appointment availability survey: about a third of the in-network
    practitioners (PCPs, OB/GYNs, specialists, urgent care), each asked about the five
    services, with some answers beyond the standards' limits."""
    kinds = ["pcp", "obgyn", "specialist", "urgent_care"]
    pool = providers[providers["in_network"] & providers["provider_type"].isin(kinds)]
    ids = pool["provider_id"].drop_duplicates().to_numpy()
    n = min(len(ids), max(10, round(len(ids) * 0.3)))
    chosen = ids[np.sort(rng.choice(len(ids), n, replace=False))]
    rows = []
    for pid in chosen:

        def wait() -> float:  # minutes from the appointment time to being seen
            return float(round(rng.gamma(2.0, 9.0)))

        rows += [
            {"service": "emergency", "days_to_appointment": float(rng.random() < 0.08)},
            {
                "service": "urgent",
                "days_to_appointment": float(rng.choice([0, 1, 2, 3], p=[0.5, 0.38, 0.08, 0.04])),
                "office_wait_minutes": wait(),
            },
            {
                "service": "routine_symptomatic",
                "days_to_appointment": float(rng.poisson(4.0)),
                "office_wait_minutes": wait(),
                "callback_hours": float(round(rng.exponential(1.5), 1)),
                "callback_type": "clinical",
            },
            {
                "service": "routine_nonsymptomatic",
                "days_to_appointment": float(round(rng.gamma(3.0, 6.0))),
                "office_wait_minutes": wait(),
                "callback_hours": float(round(rng.exponential(16.0))),
                "callback_type": "administrative",
            },
            {
                "service": "after_hours",
                "compliant": "yes" if rng.random() < 0.88 else "no",
                "callback_hours": float(round(rng.exponential(1.0), 1)),
                "callback_type": "clinical",
            },
        ]
        for row in rows[-5:]:
            row["provider_id"] = pid
    columns = [
        "provider_id",
        "service",
        "days_to_appointment",
        "compliant",
        "office_wait_minutes",
        "callback_hours",
        "callback_type",
    ]
    survey = pd.DataFrame(rows).reindex(columns=columns)
    survey["callback_type"] = survey["callback_type"].fillna("")
    survey["compliant"] = survey["compliant"].fillna("")
    survey["synthetic"] = True
    return survey


# ---------------------------------------------------------------------------
# the Medicare Advantage roster (--standards cms-ma)
# ---------------------------------------------------------------------------
#: CMS codes the demo's own types and specialties do not cover, as synthetic
#: practices (provider codes) and facilities, a few of each per region
CMS_EXTRA_CODES = (
    "007", "010", "013", "015", "017", "020", "022", "025", "026", "027", "028", "030",
    "031", "034", "035", "036", "037",
    "041", "042", "043", "045", "046", "047", "048", "049", "050", "051", "052",
    "057", "068",
)  # fmt: skip
#: specialties eligible for the telehealth credit that the demo flags now and then
_TELEHEALTH = ("psychiatry", "dermatology", "cardiology", "neurology", "endocrinology")


def _cms_roster(graph, members, providers, rng) -> pd.DataFrame:
    """The demo roster with the columns a Medicare Advantage evaluation reads."""
    from adequacy.inputs.cms_specialties import cms_codes

    providers = providers.copy()
    hifld = providers.pop("hifld_type").fillna("")
    providers["beds"] = providers["beds"].fillna(0).astype(int)
    codes, _ = cms_codes(providers)
    providers["cms_specialty_code"] = codes.to_numpy()
    providers["cms_exclusion"] = np.where(hifld == "CHILDREN", "childrens_hospital", "")
    providers["telehealth"] = providers["specialty"].isin(_TELEHEALTH).to_numpy() & (
        rng.random(len(providers)) < 0.3
    )
    spread = 1500.0
    extra = []
    for i, code in enumerate(CMS_EXTRA_CODES):
        for j in range(int(rng.integers(1, 4))):
            lon, lat = _sites_near_members(graph, members, 1, rng, spread)[0]
            facility = code >= "040"
            extra.append(
                {
                    "provider_id": f"SYN-CMS-{code}-{j + 1}",
                    "name": f"Synthetic CMS {code} {j + 1}",
                    "provider_type": "hospital" if facility else "specialist",
                    "specialty": "" if facility else f"cms {code}",
                    "cms_specialty_code": code,
                    "lat": lat,
                    "lon": lon,
                    "languages": "English",
                    "practice_id": f"SYN-CMS-PR-{i:02d}-{j}",
                    "in_network": True,
                    "synthetic": True,
                    "beds": 0,
                    "telehealth": False,
                    "cms_exclusion": "",
                }
            )
    providers = pd.concat([providers, pd.DataFrame(extra)], ignore_index=True)
    providers["npi"] = [f"{9_000_000_000 + i * 7919:010d}" for i in range(len(providers))]
    for column, default in (
        ("accepting_new_patients", True),
        ("panel_open", True),
        ("panel_size", 0),
        ("fte", 1.0),
    ):
        providers[column] = providers[column].fillna(default).infer_objects()
    return providers
