"""Tables as people read them, in every view of the app.

Headers in words with their units ("Share meeting", "Miles to 2nd nearest"),
shares as percentages ("92.1%"), miles and minutes to one decimal, "none within
100 mi" past the run's search horizon instead of infinity, "no providers" for a
ratio without providers, a blank (never "None" or "nan") where there is
nothing, yes/no for flags, Pass/Fail for verdicts, and failing rows first.

A :class:`Table` keeps each column's values, so that clicking a header sorts by
value (a share by its number, not its text), and says how every cell reads (the
display values of a pandas Styler, which ``st.dataframe`` shows). :func:`readable`
makes one from a table of the engine; :func:`text` gives the cells as they read;
:func:`show` draws it, wide (long text wraps; nothing is cut off).

Owns: ``Table``, ``readable``, ``text``, ``show``, ``failing_first``,
``horizons``, ``nth`` and the column headers (``HEADERS``). Uses:
:mod:`adequacy.report.formatting` (counts, amounts, ratios, ordinals), the
workbook's column notes (the headers' help) and the report's colours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

from adequacy.report.formatting import amount, integer, number, ordinal, per_provider
from adequacy.report.style import FAIL_COLOUR
from adequacy.report.workbook import COLUMN_NOTES

#: column -> header in words, with the unit where there is one; ``{k}`` is the
#: rule's provider count in words ("nearest", "2nd nearest"), see :func:`nth`
HEADERS = {
    "rule": "Rule ID",
    "label": "Rule",
    "language": "Language",
    "county_fips": "FIPS",
    "county": "County",
    "standard": "Standard",
    "cadence": "Cadence",
    "provider_type": "Provider type",
    "specialty": "Specialty",
    "verdict": "Verdict",
    "verdict_reasons": "Why it fails",
    "findings": "Other findings",
    "members": "Members",
    "meeting": "Members meeting",
    "share_meeting": "Share meeting",
    "threshold": "Threshold",
    "share_passes": "Share reaches threshold",
    "providers": "Providers",
    "members_per_provider": "Members per provider",
    "ratio_limit": "Most members per provider",
    "ratio_passes": "Ratio met",
    "min_providers": "Minimum providers",
    "min_providers_passes": "Minimum met",
    "languages_passes": "Languages met",
    "counties": "Counties",
    "counties_failing": "Counties failing",
    "off_road_members": "Members off road",
    "median_miles": "Median miles to {k}",
    "median_minutes": "Median minutes to {k}",
    "population": "Population",
    "density_per_sq_mi": "People per sq mi",
    "member_id": "Member",
    "miles": "Miles to {k}",
    "minutes": "Minutes to {k}",
    "n_qualifying": "Providers within limits",
    "count_required": "Providers required",
    "nearest_1": "Nearest provider",
    "prevalent": "Prevalent",
    "speakers_5plus": "Speakers aged 5+",
    "basis": "Prevalent by",
    # the deficiency workpaper
    "members_not_meeting": "Members not meeting",
    "members_short": "Members short of the threshold",
    "providers_needed_for_ratio": "Providers needed (ratio)",
    "providers_short_of_minimum": "Providers below the minimum",
    "members_with_out_of_network_within_limits": "Unserved with an out-of-network "
    "provider within limits",
    "recruitment_sites": "Sites that close the gap",
    "recruitment_closes_gap": "Recruitment closes the gap",
    "recruitment_note": "Recruitment",
    "out_of_network_nearest": "Nearest out-of-network provider",
    "out_of_network_miles": "Miles to nearest out of network",
    "out_of_network_minutes": "Minutes to nearest out of network",
    "out_of_network_within_limits": "Out of network within limits",
    "rank": "Rank",
    "candidate": "Candidate site",
    "lon": "Longitude",
    "lat": "Latitude",
    "newly_meeting": "Members newly meeting",
    "county_meeting_after": "County members meeting after",
    "county_share_after": "County share meeting after",
    "provider_id": "Provider",
    "network": "Network",
    "unserved_members_near": "Unserved members near",
    "within_limits": "Within limits",
    # members outside the service area
    "residence_county_fips": "FIPS of residence",
    "residence_county": "County of residence",
    "in_network_nearest": "Nearest in-network provider",
    "in_network_miles": "Miles to nearest in network",
    "in_network_minutes": "Minutes to nearest in network",
    # the exception drafts
    "file": "Draft file",
    "providers_within_limits": "Providers within limits",
    "providers_just_beyond": "Providers just beyond",
    # appointment availability
    "service_label": "Service",
    "providers_surveyed": "Providers surveyed",
    "responses": "Answers",
    "judged": "Judged",
    "compliant": "Compliant",
    "share_compliant": "Share compliant",
    "day_limit": "Day limit",
    "median_days": "Median days to appointment",
    "share_within_day_limit": "Within day limit",
    "median_office_wait_minutes": "Median office wait (min)",
    "share_seen_within_wait_limit": "Seen within wait limit",
    "share_callbacks_in_time": "Calls returned in time",
    "share_clinical_callbacks_within_hour": "Clinical calls within the hour",
}
#: columns of long text: a wide column, and rows tall enough for it to wrap
LONG_TEXT = ("verdict_reasons", "findings", "recruitment_note", "standard", "recruitment_sites")
#: row height (px) that lets text wrap in ``st.dataframe`` (it wraps above 4rem)
WRAP_ROW_PX = 72
#: text longer than this makes a table's rows tall enough to wrap
WRAP_CHARS = 48

Format = Callable[[Any], str]


@dataclass(frozen=True)
class Table:
    """A table ready to show: values under headers in words, how each cell reads, settings.

    ``frame`` keeps the values (numbers stay numbers: a header click sorts by
    value); ``formats`` turns each column's value into the text people read;
    ``column_config`` is ``st.dataframe``'s (help, width);
    ``row_height`` lets long text wrap (None: one line).
    """

    frame: pd.DataFrame
    formats: dict[str, Format]
    column_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    row_height: int | None = None

    def styler(self) -> Styler:
        """The frame with its display values (and failing verdicts in the failing colour)."""
        styler = self.frame.style.format(self.formats, na_rep="")
        verdicts = [c for c in self.frame.columns if self.formats.get(c) is verdict_text]
        if verdicts:
            styler = styler.map(_verdict_css, subset=verdicts)
        return styler


def nth(count: int | None) -> str:
    """The k-th nearest in words: 'nearest' for 1 (or unknown), '2nd nearest', ..."""
    if not count or int(count) <= 1:
        return "nearest"
    return f"{ordinal(int(count))} nearest"


def horizons(evaluation: Any, rule_ids: Iterable[str] | None = None) -> tuple[float, float]:
    """(miles, minutes) of the run's search horizon: distances and times past it are
    infinity. The settings' ``max_report_miles``/``max_report_minutes``, or a rule's own
    limit when larger (as the engine searches)."""
    settings = getattr(evaluation, "settings", None)
    miles = float(getattr(settings, "max_report_miles", 100.0))
    minutes = float(getattr(settings, "max_report_minutes", 120.0))
    rules = evaluation.standards.rules
    if rule_ids is not None:
        wanted = set(rule_ids)
        rules = [r for r in rules if r.id in wanted]
    miles = max([r.max_miles or 0.0 for r in rules] + [miles])
    minutes = max([r.max_minutes or 0.0 for r in rules] + [minutes])
    return miles, minutes


# ---------------------------------------------------------------------------
# how a cell reads
# ---------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def percent_text(value: Any) -> str:
    """A share as a percentage to one decimal ('92.1%'); blank when there is none."""
    v = number(value)
    return "" if math.isnan(v) or math.isinf(v) else f"{v:.1%}"


def count_text(value: Any) -> str:
    """A whole number with thousands separators ('1,234'); blank when there is none."""
    v = number(value)
    if math.isnan(v):
        return ""
    return "unbounded" if math.isinf(v) else integer(v)


def amount_text(value: Any) -> str:
    """A count that may be fractional (FTE, medians): '3', '0.4'; blank when none."""
    v = number(value)
    if math.isnan(v):
        return ""
    return "unbounded" if math.isinf(v) else amount(v)


def ratio_text(value: Any) -> str:
    """Members per provider: '228', 'no providers' (infinity); blank when there is none."""
    v = number(value)
    return "" if math.isnan(v) else per_provider(v)


def flag_text(value: Any) -> str:
    """'yes'/'no' of a flag (true/false, also as text); blank when there is none."""
    if _blank(value) or str(value).strip() == "":
        return ""
    if isinstance(value, str):
        return {"true": "yes", "false": "no", "1": "yes", "0": "no"}.get(value.lower(), value)
    return "yes" if bool(value) else "no"


def verdict_text(value: Any) -> str:
    """'Pass'/'Fail' of a verdict; blank when there is none (no members)."""
    if _blank(value):
        return ""
    return {"pass": "Pass", "fail": "Fail"}.get(str(value).strip().lower(), str(value))


def plain_text(value: Any) -> str:
    """Text as it is; blank for nothing."""
    return "" if _blank(value) else str(value)


def coordinate_text(value: Any) -> str:
    """A longitude or latitude to five decimals (about a metre)."""
    v = number(value)
    return "" if math.isnan(v) else f"{v:.5f}"


def distance_text(unit: str, horizon: float) -> Format:
    """Miles or minutes to one decimal, 'none within 100 mi' past the search horizon."""

    def fmt(value: Any) -> str:
        v = number(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return f"none within {horizon:g} {unit}"
        return f"{v:,.1f}"

    return fmt


def _verdict_css(value: Any) -> str:
    fails = str(value).strip().lower() == "fail"
    return f"color: {FAIL_COLOUR}; font-weight: 600" if fails else ""


def _is_flag(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna()
    values = values[values.astype(str).str.strip() != ""]
    return len(values) > 0 and all(isinstance(v, bool) for v in values)


def format_of(column: str, series: pd.Series, horizon: tuple[float, float]) -> Format:
    """How a column's cells read, from its name (as the workbook formats them) and type."""
    if column.startswith("verdict") and not column.startswith("verdict_reasons"):
        return verdict_text
    if column.endswith("_passes") or _is_flag(series):
        return flag_text
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if column in ("lon", "lat"):
        return coordinate_text
    if not numeric:
        values = pd.to_numeric(series, errors="coerce")
        if column in ("min_providers", "ratio_limit") and values.notna().any():
            return amount_text
        return plain_text
    if column.startswith("share") or column in ("threshold", "county_share_after"):
        return percent_text
    if "miles" in column:
        return distance_text("mi", horizon[0])
    if "minutes" in column:
        return distance_text("min", horizon[1])
    if column.endswith("members_per_provider"):
        return ratio_text
    if pd.api.types.is_integer_dtype(series):
        return count_text
    finite = series[pd.notna(series) & (series.abs() != math.inf)]
    if column in ("population", "speakers_5plus") or (finite == finite.round()).all():
        return count_text
    return amount_text


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------
def failing_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Failing rows first, then passing, then those without a verdict; the lowest share
    meeting (or compliant) first within each; otherwise the table's own order."""
    if "verdict" not in frame.columns:
        return frame
    verdict = frame["verdict"].astype(str).str.strip().str.lower()
    keys = {"_order": verdict.map({"fail": 0, "pass": 1}).fillna(2).to_numpy()}
    share = next((c for c in ("share_meeting", "share_compliant") if c in frame.columns), None)
    if share is not None:
        keys["_share"] = pd.to_numeric(frame[share], errors="coerce").to_numpy()
    order = frame.assign(**keys).sort_values(list(keys), kind="stable", na_position="last")
    return frame.loc[order.index]


def readable(
    frame: pd.DataFrame,
    columns: Iterable[str] | None = None,
    *,
    horizon: tuple[float, float] = (100.0, 120.0),
    nearest: int | None = None,
    headers: dict[str, str] | None = None,
    sort: bool = True,
) -> Table:
    """A table of the engine as people read it.

    ``columns`` picks and orders the columns (default: all); ``horizon`` is the
    run's (miles, minutes) search horizon (:func:`horizons`); ``nearest`` is the
    rule's provider count, named in the distance headers ('Miles to 2nd nearest');
    ``headers`` overrides headers by column; ``sort`` puts failing rows first.
    """
    columns = [c for c in (columns if columns is not None else frame.columns) if c in frame]
    table = frame[columns]
    if sort:
        table = failing_first(table)
    table = table.reset_index(drop=True)
    names = {**HEADERS, **(headers or {})}
    k = nth(nearest) if nearest is not None else "k-th nearest"
    renamed, formats, config = {}, {}, {}
    for column in columns:
        header = names.get(column, column.replace("_", " ").capitalize()).format(k=k)
        while header in formats:  # headers stay unique
            header += " "
        renamed[column] = header
        formats[header] = format_of(column, table[column], horizon)
        config[header] = {
            "label": header,
            "help": COLUMN_NOTES.get(column),
            "width": "large" if column in LONG_TEXT else None,
        }
        config[header] = {key: v for key, v in config[header].items() if v is not None}
    shown = table.rename(columns=renamed)
    for column in columns:
        header = renamed[column]
        if formats[header] is flag_text:  # words, not the checkboxes of a bool column
            shown[header] = shown[header].map(flag_text).astype(object)
            formats[header] = plain_text
        elif isinstance(shown[header].dtype, pd.CategoricalDtype):
            shown[header] = shown[header].astype(object)
    long_text = any(
        table[c].astype(str).str.len().max() > WRAP_CHARS
        for c in columns
        if c in LONG_TEXT and len(table)
    )
    return Table(shown, formats, config, WRAP_ROW_PX if long_text else None)


def text(table: Table) -> pd.DataFrame:
    """The cells as people read them (every cell a string; blank where there is nothing)."""
    return pd.DataFrame(
        {c: [table.formats[c](v) for v in table.frame[c]] for c in table.frame.columns},
        index=table.frame.index,
    )


def show(st: Any, table: Table, *, key: str | None = None, height: int | None = None) -> None:
    """Draw ``table`` with ``st`` (the streamlit module or a container): full width,
    sortable, no index, blanks for nothing, long text wrapped."""
    options: dict[str, Any] = {}
    if table.row_height is not None:
        options["row_height"] = table.row_height
        if height is None and len(table.frame) > 5:  # tall rows: show ten, not five
            height = min(len(table.frame), 10) * table.row_height + 38
    if height is not None:
        options["height"] = height
    st.dataframe(
        table.styler(),
        hide_index=True,
        width="stretch",
        column_config=table.column_config,
        placeholder="",
        key=key,
        **options,
    )
