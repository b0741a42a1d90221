"""Appointment availability: the survey reader, the wait-time standards and compliance.

The expected shares are worked out by hand from a small survey and roster below.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from adequacy import InputError
from adequacy.demo import build_demo
from adequacy.engine.appointments import (
    OUTPUT_COLUMNS,
    appointment_compliance,
    builtin_appointment_standards,
    load_appointment_standards,
)
from adequacy.engine.standards import builtin_standards
from adequacy.frontend.appointments_view import appointments_page
from adequacy.inputs.surveys import canonical_service, read_survey
from adequacy.report.appointments import appointments_section

# Roster as Evaluation.providers has it: U1 practises at two sites in two counties; X9 is
# out of network, so the survey's answer about it is "not in the roster".
ROSTER = pd.DataFrame(
    {
        "provider_id": ["P1", "P2", "P3", "U1", "U1", "X9", "H1"],
        "provider_type": ["pcp", "pcp", "pcp", "urgent_care", "urgent_care", "pcp", "acute_care"],
        "county_fips": ["16019", "16019", "16065", "16019", "16065", "16019", "16019"],
        "in_network": [True, True, True, True, True, False, True],
    }
)

# line numbers (CSV: the header is line 1) and what each answer should come to
HEADER = "provider_id,service,days_to_appointment,compliant,office_wait_minutes,"
SURVEY_CSV = (
    HEADER
    + """callback_hours,callback_type
P1,Urgent care,1,,20,,
P2,urgent,2,,10,,
P1,Routine - symptomatic,7,,35,,
P2,routine symptomatic,3,,25,0.5,clinical
P3,routine_symptomatic,10,yes,,,
P1,after hours,,no,,2,
P2,After-hours care,,,,9,
P1,after_hours,1,,,,
U1,Emergency,0,,,,
P3,Routine non-symptomatic,40,,,30,administrative
X9,urgent,0,,,,
"""
)
# line 2  P1 urgent: 1 day <= 1, 20 min <= 30                          -> complies
# line 3  P2 urgent: 2 days > 1                                        -> fails
# line 4  P1 routine symptomatic: 7 days <= 7, but 35 min > 30         -> fails
# line 5  P2 routine symptomatic: 3 <= 7, 25 <= 30, clinical 0.5 h <= 8 -> complies
# line 6  P3 routine symptomatic: "yes" given, but 10 days > 7 -> does not comply
# line 7  P1 after hours: "no" given (its 2 h call is within 8 h)      -> fails
# line 8  P2 after hours: clinical call 9 h > 8 h (same day)           -> fails
# line 9  P1 after hours: 1 day, but after-hours care has no day limit -> no verdict
# line 10 U1 emergency: 0 days <= 0; counted in both of U1's counties  -> complies
# line 11 P3 routine non-symptomatic: 40 days > 30 (admin call 30 h <= 48 h) -> fails
# line 12 X9 urgent: 0 days; X9 is not an in-network provider          -> complies, "unknown"


@pytest.fixture
def survey_path(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text(SURVEY_CSV)
    return path


def _row(table, provider_type, fips, service):
    rows = table[
        (table["provider_type"] == provider_type)
        & (table["county_fips"] == fips)
        & (table["service"] == service)
    ]
    assert len(rows) == 1, (provider_type, fips, service)
    return rows.iloc[0]


def test_spellings_of_services():
    assert canonical_service("Routine - symptomatic") == "routine_symptomatic"
    assert canonical_service("routine non-symptomatic care") == "routine_nonsymptomatic"
    assert canonical_service("After hours") == "after_hours"
    assert canonical_service("after-hours care") == "after_hours"
    assert canonical_service("Emergency care") == "emergency"
    assert canonical_service("dental") is None


def test_read_survey(survey_path):
    survey = read_survey(survey_path)
    assert list(survey["service"][:3]) == ["urgent", "urgent", "routine_symptomatic"]
    assert survey["compliant"].isna().sum() == 9
    assert list(survey["callback_type"][[3, 5, 9, 0]]) == [
        "clinical",
        "clinical",
        "administrative",
        "",
    ]
    assert not survey["synthetic"].any()


def test_compliance_by_hand(survey_path):
    table = appointment_compliance(
        survey_path, ROSTER, county_names={"16019": "Bonneville", "16065": "Madison"}
    )
    assert list(table.columns) == OUTPUT_COLUMNS
    keys = list(zip(table["provider_type"], table["county_fips"], table["service"], strict=True))
    assert keys == [
        ("pcp", "16019", "urgent"),
        ("pcp", "16019", "routine_symptomatic"),
        ("pcp", "16019", "after_hours"),
        ("pcp", "16065", "routine_symptomatic"),
        ("pcp", "16065", "routine_nonsymptomatic"),
        ("urgent_care", "16019", "emergency"),
        ("urgent_care", "16065", "emergency"),
        ("unknown", "", "urgent"),
    ]
    # PCP, Bonneville, urgent: P1 complies, P2 does not -> 1 of 2 = 50%, below 90%
    r = _row(table, "pcp", "16019", "urgent")
    assert (r["providers_surveyed"], r["responses"], r["judged"], r["compliant"]) == (2, 2, 2, 1)
    assert r["share_compliant"] == 0.5 and r["verdict"] == "fail"
    assert r["county"] == "Bonneville" and r["day_limit"] == 1
    assert r["median_days"] == 1.5  # (1 + 2) / 2
    assert r["share_within_day_limit"] == 0.5  # 1 day ok, 2 days not
    assert r["median_office_wait_minutes"] == 15  # (20 + 10) / 2
    assert r["share_seen_within_wait_limit"] == 1.0  # 20 and 10 <= 30
    assert math.isnan(r["share_callbacks_in_time"])  # no call was timed
    # PCP, Bonneville, routine symptomatic: P1 fails (35 min), P2 complies -> 50%
    r = _row(table, "pcp", "16019", "routine_symptomatic")
    assert (r["judged"], r["compliant"], r["share_compliant"]) == (2, 1, 0.5)
    assert r["median_days"] == 5  # (7 + 3) / 2
    assert r["share_within_day_limit"] == 1.0  # 7 and 3 <= 7
    assert r["median_office_wait_minutes"] == 30  # (35 + 25) / 2
    assert r["share_seen_within_wait_limit"] == 0.5  # 35 > 30, 25 <= 30
    assert r["share_callbacks_in_time"] == 1.0  # P2's 0.5 h
    assert r["share_clinical_callbacks_within_hour"] == 1.0
    # PCP, Bonneville, after hours: 3 answers, 2 judged, none complies
    r = _row(table, "pcp", "16019", "after_hours")
    assert (r["providers_surveyed"], r["responses"], r["judged"], r["compliant"]) == (2, 3, 2, 0)
    assert r["share_compliant"] == 0.0 and r["verdict"] == "fail"
    assert math.isnan(r["day_limit"])
    assert r["share_callbacks_in_time"] == 0.5  # 2 h <= 8 h, 9 h > 8 h
    assert r["share_clinical_callbacks_within_hour"] == 0.0  # neither within 1 h
    # PCP, Madison: P3 says "yes", but 10 days > 7: a measured failure is never overruled
    r = _row(table, "pcp", "16065", "routine_symptomatic")
    assert (r["judged"], r["compliant"], r["share_compliant"], r["verdict"]) == (1, 0, 0.0, "fail")
    assert r["share_within_day_limit"] == 0.0
    r = _row(table, "pcp", "16065", "routine_nonsymptomatic")
    assert (r["compliant"], r["share_within_day_limit"], r["share_callbacks_in_time"]) == (0, 0, 1)
    assert math.isnan(r["share_clinical_callbacks_within_hour"])  # an administrative call
    # U1's one answer counts in each of its two counties
    for fips, name in (("16019", "Bonneville"), ("16065", "Madison")):
        r = _row(table, "urgent_care", fips, "emergency")
        assert (r["responses"], r["compliant"], r["county"]) == (1, 1, name)
    # X9 is reported apart, not dropped
    r = _row(table, "unknown", "", "urgent")
    assert (r["responses"], r["compliant"], r["county"]) == (1, 1, "not in the roster")
    assert not table["synthetic"].any()


def test_limits_come_from_the_yaml(survey_path):
    data = load_appointment_standards().to_dict()
    data["services"]["urgent"]["days"] = 2  # P2's 2 days now comply: 2 of 2
    data["office_wait_minutes"] = 40  # P1's 35 minutes now comply: 2 of 2
    data["threshold"] = 0.5
    table = appointment_compliance(survey_path, ROSTER, data)
    assert _row(table, "pcp", "16019", "urgent")["share_compliant"] == 1.0
    r = _row(table, "pcp", "16019", "routine_symptomatic")
    assert r["share_compliant"] == 1.0 and r["share_seen_within_wait_limit"] == 1.0
    after = _row(table, "pcp", "16019", "after_hours")
    assert after["verdict"] == "fail" and after["threshold"] == 0.5  # noqa: E712


def test_every_survey_problem_is_listed_at_once(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text(
        "provider_id,service,days_to_appointment,compliant,callback_hours,callback_type\n"
        "P1,urgent,1,,,\n"
        ",urgent,1,,,\n"  # line 3
        "P2,dental,1,,,\n"  # line 4
        "P3,urgent,soon,,,\n"  # line 5
        "P4,urgent,-2,,,\n"  # line 6
        "P5,urgent,,maybe,,\n"  # line 7
        "P6,urgent,,,,\n"  # line 8
        "P7,urgent,,,3,sometimes\n"  # line 9
        "P8,urgent,,,-1,\n"  # line 10
    )
    with pytest.raises(InputError) as e:
        read_survey(path)
    text = str(e.value)
    assert f"{path}: 8 problems in the survey file" in text
    lines = e.value.problems
    assert len(lines) == 8
    expected = [
        "provider_id is empty at line 3",
        "unknown service 'dental' at line 4; use one of: emergency, urgent, "
        "routine_symptomatic, routine_nonsymptomatic, after_hours",
        "days_to_appointment is not a number at line 5",
        "days_to_appointment is negative at line 6; use 0 or more",
        "callback_hours is negative at line 10",
        "compliant is not true/false at line 7",
        "callback_type is not clinical or administrative at line 9",
        "no answer at line 8",
    ]
    for want in expected:
        assert sum(want in line for line in lines) == 1, (want, lines)


def test_survey_without_a_measure_or_a_service(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("provider_id,service,notes\nP1,urgent,called twice\n")
    with pytest.raises(InputError, match="no measure column; give at least one of"):
        read_survey(path)
    path.write_text("provider_id,days_to_appointment\nP1,3\n")
    with pytest.raises(InputError, match="missing column service"):
        read_survey(path)


def test_parquet_rows_are_named_by_row(tmp_path):
    path = tmp_path / "survey.parquet"
    pd.DataFrame(
        {"provider_id": ["P1", "P2"], "service": ["urgent", "x-ray"], "office_wait_minutes": [5, 9]}
    ).to_parquet(path)
    with pytest.raises(InputError, match=r"unknown service 'x-ray' at row 2"):
        read_survey(path)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"office_wait_minute": 30}, "office_wait_minute: unknown key; did you mean "
         "'office_wait_minutes'?"),
        ({"services": {"urgnet": {"days": 1}}}, "services.urgnet: unknown key; did you mean "
         "'urgent'?"),
        ({"services": {"urgent": {"days": -1}}}, "services.urgent.days: must be 0 or more"),
        ({"services": {"urgent": {"days": "soon"}}}, "services.urgent.days: must be a number"),
        ({"services": {"urgent": {"day": 1}}}, "services.urgent.day: unknown key; did you mean "
         "'days'?"),
        ({"callbacks": {"clinical": {"within_hours": 1}, "administrative": {"business_days": 2}}},
         "callbacks.clinical.same_day_hours: missing"),
        ({"callbacks": {"clinical": {"within_hours": 9, "same_day_hours": 8},
                        "administrative": {"business_days": 2}}},
         "callbacks.clinical.within_hours: must be at most same_day_hours"),
        ({"callbacks": {"clinical": {"within_hours": 1, "same_day_hours": 8}}},
         "callbacks.administrative: missing"),
        ({"threshold": 1.5}, "threshold: must be at most 1"),
        ({"office_wait_minutes": 0}, "office_wait_minutes: must be greater than 0"),
    ],
)  # fmt: skip
def test_yaml_errors_name_the_key(tmp_path, change, expected):
    import yaml

    data = load_appointment_standards().to_dict()
    data.pop("sha256")
    data.update(change)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as e:
        load_appointment_standards(path)
    assert str(e.value).startswith(f"{path}: ")
    assert expected in str(e.value)


def test_yaml_file_problems(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: x\noffice_wait_minutes: 30\ncallbacks: {clinical: [\n")
    with pytest.raises(InputError, match="is not valid YAML at line"):
        load_appointment_standards(path)
    path.write_text("name: x\noffice_wait_minutes: 30\n")
    with pytest.raises(InputError, match="callbacks: missing"):
        load_appointment_standards(path)
    with pytest.raises(InputError, match="built-in sets: seed-manual"):
        load_appointment_standards(tmp_path / "nope.yaml")


def test_the_shipped_standards():
    std = load_appointment_standards("seed-manual")
    # the manual's numbers
    assert std.office_wait_minutes == 30
    assert std.callbacks.clinical_within_hours == 1
    assert std.callbacks.administrative_business_days == 2
    # this project's defaults where the manual is silent
    assert [(s.service, s.days) for s in std.services] == [
        ("emergency", 0),
        ("urgent", 1),
        ("routine_symptomatic", 7),
        ("routine_nonsymptomatic", 30),
        ("after_hours", None),
    ]
    # not mistaken for an access standards set
    assert builtin_appointment_standards() == ["seed-manual"]
    assert builtin_standards() == sorted(set(builtin_standards()))  # unchanged by ours
    assert std.path.endswith("appointment_standards/seed-manual.yaml")


def test_report_section_and_app_view(survey_path):
    table = appointment_compliance(survey_path, ROSTER)
    html = appointments_section(table, load_appointment_standards())
    assert "within 30 minutes of the appointment time" in html
    assert "Not in the roster" in html and "50.0%" in html
    assert "Synthetic" not in html
    # read back from CSV as the report would
    path = survey_path.parent / "appointment_compliance.csv"
    table.to_csv(path, index=False)
    back = pd.read_csv(path, dtype={"county_fips": str}, keep_default_na=False, na_values=[""])
    assert "Below" in appointments_section(back)

    calls = []

    class Fake:
        class column_config:
            @staticmethod
            def NumberColumn(label, format):  # noqa: A002, N802
                return (label, format)

        def __getattr__(self, name):
            return lambda *a, **k: calls.append((name, a, k))

    appointments_page(Fake(), table)
    styler = next(a[0] for name, a, _ in calls if name == "dataframe")
    assert "Share compliant" in styler.columns
    shares = styler.data["Share compliant"].tolist()
    assert 0.5 in shares and shares == sorted(shares)  # shares (0.5 reads 50.0%), failing first
    html = styler.to_html()
    assert "50.0%" in html and "None" not in html and "nan" not in html


def test_demo_survey_is_synthetic(graph_cache, tmp_path):
    demo = build_demo("eastern-idaho", n_members=300, cache_dir=graph_cache)
    survey = demo.survey
    assert survey["synthetic"].all()
    assert set(survey["service"]) == {
        "emergency",
        "urgent",
        "routine_symptomatic",
        "routine_nonsymptomatic",
        "after_hours",
    }
    in_network = set(demo.providers.loc[demo.providers["in_network"], "provider_id"])
    assert set(survey["provider_id"]) <= in_network
    paths = demo.write_inputs(tmp_path)
    read = read_survey(paths["survey"])
    assert read["synthetic"].all()
    table = appointment_compliance(read, demo.providers.assign(county_fips="16019"))
    assert table["synthetic"].all()
    assert (table["share_compliant"] < 1).any()  # some answers fail
    assert "Synthetic survey" in appointments_section(table)
    again = build_demo("eastern-idaho", n_members=300, cache_dir=graph_cache)
    pd.testing.assert_frame_equal(survey, again.survey)
