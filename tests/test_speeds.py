import math

import pytest

from adequacy.network.speeds import TIGER_PRISEC, US_OSM, parse_maxspeed
from adequacy.units import KMH_TO_MPH


@pytest.mark.parametrize(
    ("value", "mph"),
    [
        ("25 mph", 25.0),
        ("25mph", 25.0),
        (" 45 MPH ", 45.0),
        ("40", 40 * KMH_TO_MPH),  # a bare number is km/h in OSM
        ("50 km/h", 50 * KMH_TO_MPH),
        ("50 kmh", 50 * KMH_TO_MPH),
        ("35;45", (35 + 45) / 2 * KMH_TO_MPH),
        ("25 mph;35 mph", 30.0),
        ("30 mph; 40 mph", 35.0),
        ("7.5 mph", 7.5),
        (60, 60 * KMH_TO_MPH),
    ],
)
def test_parse_maxspeed_reads_units_and_lists(value, mph):
    assert parse_maxspeed(value) == pytest.approx(mph)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "none",
        "signals",
        "walk",
        "RU:urban",
        "unposted",
        "national",
        "25 mph;fast",
        "0",
        "-5",
        "550",  # km/h: 342 mph, a typo
        "120 mph",
        "mph",
        math.nan,
        True,
    ],
)
def test_parse_maxspeed_rejects_junk(value):
    assert parse_maxspeed(value) is None


def test_profiles_have_name_version_and_class_defaults():
    assert US_OSM.label == "us-osm-default@1"
    assert US_OSM.class_speed_mph("motorway") == 65
    assert US_OSM.class_speed_mph("residential") == 25
    assert US_OSM.class_speed_mph("service") == 15
    assert US_OSM.class_speed_mph("no_such_class") == US_OSM.fallback_mph
    # a flag column read as text still finds its speed
    assert TIGER_PRISEC.class_speed_mph("True") == 55
    assert TIGER_PRISEC.class_speed_mph(False) == 25
