"""Standards sets: the shipped YAML files, the rule model, and YAML errors that name the key."""

from __future__ import annotations

import pytest

from adequacy import InputError
from adequacy.engine.standards import builtin_standards, load_standards


def test_builtin_sets():
    assert {"seed-manual", "nc-medicaid"} <= set(builtin_standards())


def test_seed_manual_is_the_manual_table():
    std = load_standards()  # the default
    assert std.name == "seed-manual" and std.sha256
    table = {r.id: r for r in std.rules}
    pcp = table["primary_care"]
    assert (pcp.provider_type, pcp.count, pcp.limits.miles, pcp.limits.minutes) == (
        "pcp",
        2,
        15,
        30,
    )
    assert pcp.limits.combine == "or"
    assert pcp.ratio.members_per_provider == 200 and pcp.cadence == "quarterly"
    ob = table["obgyn"]
    assert (ob.count, ob.limits.miles, ob.limits.minutes, ob.ratio.members_per_provider) == (
        1,
        15,
        30,
        500,
    )
    hv = table["high_volume"]
    assert hv.specialty == "high_volume" and hv.top == 5 and hv.cadence == "annual"
    assert hv.ratio.members_per_provider == 1500
    assert (table["acute_care"].limits.miles, table["acute_care"].limits.minutes) == (20, 40)
    assert table["acute_care"].cadence == "quarterly"
    assert (table["rehabilitation"].limits.miles, table["rehabilitation"].limits.minutes) == (
        30,
        60,
    )
    assert (table["urgent_care"].limits.miles, table["urgent_care"].limits.minutes) == (15, 30)
    assert table["acute_care"].ratio is None


def test_nc_medicaid_urban_rural_variants():
    std = load_standards("nc-medicaid")
    assert std.threshold == 0.95 and std.urban_density_per_sq_mi == 250
    pcp = std.rule("primary_care")
    assert pcp.count == 2
    assert (pcp.limits_for("urban").miles, pcp.limits_for("urban").minutes) == (10, 30)
    assert (pcp.limits_for("rural").miles, pcp.limits_for("rural").minutes) == (30, 30)
    spec = std.rule("specialty")
    assert (spec.limits_for("urban").miles, spec.limits_for("urban").minutes) == (15, 30)
    assert (spec.limits_for("rural").miles, spec.limits_for("rural").minutes) == (60, 60)
    hosp = std.rule("hospital")
    assert hosp.count == 1
    assert (hosp.limits_for("urban").miles, hosp.limits_for("rural").miles) == (15, 30)
    assert all(r.threshold == 0.95 for r in std.rules)


def test_expand_high_volume_and_each():
    std = load_standards().expand(
        ["cardiology", "orthopedics", "dermatology", "neurology", "urology", "oncology"],
        ["cardiology"],
    )
    hv = [r for r in std.rules if r.id.startswith("high_volume:")]
    assert [r.specialty for r in hv] == [
        "cardiology",
        "orthopedics",
        "dermatology",
        "neurology",
        "urology",
    ]
    nc = load_standards("nc-medicaid").expand([], ["urology", "cardiology"])
    assert [r.id for r in nc.rules if r.provider_type == "specialist"] == [
        "specialty:cardiology",
        "specialty:urology",
    ]


def test_period_keeps_annual_rules_in_their_quarter():
    std = load_standards()
    q3 = {r.id for r in std.for_period(3).rules}
    q4 = {r.id for r in std.for_period(4).rules}
    assert "primary_care" in q3 and "high_volume" not in q3
    assert "high_volume" in q4


def test_a_user_writes_a_new_set_in_yaml(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: my-plan\nversion: '2'\nthreshold: 0.8\n"
        "provider_types: [behavioral_health]\n"
        "rules:\n"
        "  - id: bh\n    provider_type: behavioral_health\n    count: 1\n    minutes: 45\n"
        "  - id: pcp\n    provider_type: Primary Care\n    miles: 10\n    minutes: 20\n"
        "    combine: and\n    ratio: {members_per_provider: 150, basis: fte}\n"
    )
    std = load_standards(path)
    assert std.label == "my-plan@2"
    bh = std.rule("bh")
    assert bh.provider_type == "behavioral_health" and bh.limits.miles is None
    assert bh.threshold == 0.8
    pcp = std.rule("pcp")
    assert pcp.provider_type == "pcp" and pcp.limits.combine == "and"
    assert pcp.ratio.basis == "fte"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    milse: 10\n",
            "rules[0].milse: unknown key; did you mean 'miles'?",
        ),
        ("name: x\nthreshhold: 0.9\nrules: []\n", "threshhold: unknown key; did you mean"),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: dentist\n    miles: 10\n",
            "rules[0].provider_type: unknown type 'dentist'",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    miles: ten\n",
            "rules[0].miles: must be a number",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n",
            "rules[0]: give miles, minutes or both",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    miles: 5\n    combine: xor\n",
            "rules[0].combine: must be one of or, and",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    miles: 5\n"
            "    ratio: {members_per: 200}\n",
            "rules[0].ratio.members_per: unknown key",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    miles: 5\n    threshold: 95\n",
            "rules[0].threshold: must be at most 1",
        ),
        (
            "name: x\nrules:\n  - id: a\n    provider_type: pcp\n    miles: 5\n"
            "  - id: a\n    provider_type: pcp\n    miles: 6\n",
            "rules[1].id: duplicate rule id",
        ),
        ("rules: []\n", "name: missing"),
        ("name: x\nrules:\n  - id: a\n   provider_type: pcp\n", "not valid YAML at line"),
    ],
)
def test_wrong_yaml_names_the_key(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(InputError) as e:
        load_standards(path)
    assert expected in str(e.value)
    assert str(path) in str(e.value)


def test_missing_standards_file_lists_builtins(tmp_path):
    with pytest.raises(InputError, match="seed-manual"):
        load_standards(tmp_path / "nope.yaml")
