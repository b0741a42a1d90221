"""The app's downloads, built in memory: the quarterly report, the deficiency
workpaper and the exception-request drafts.

The quarterly report is the command line's (``adequacy report``): the same
library functions write a run folder of the evaluation and build the report
from it, in a temporary folder in memory (``/dev/shm`` where there is one)
that is removed at once; the files come back as bytes. That run folder holds
no member IDs or places: its member table keeps only the columns the report
reads (rule, county, miles, minutes, whether the member meets the rule), and
its findings only the county and provider tables. Members appear by ID only,
and only in the CSV lists of members not served, which never touch a disk.

Owns: ``report_files``, ``workpaper_files``, ``zip_bytes`` and
``memory_folder``. Uses: :mod:`adequacy.runs` (``write_run``, the run's member
columns), :mod:`adequacy.report` (``build_report``, the workbook) and the
workpaper of :mod:`adequacy.findings` (built by the caller).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from adequacy.errors import InputError

#: the findings tables the report reads (counties and providers, never member rows)
REPORTED = ("deficiencies", "recruitment_picks", "exception_providers", "outside_by_county")
#: what the report's method section says of the inputs and the commands
IN_SESSION = "in the browser session (not kept)"
COMMAND = "streamlit run app.py (a browser session)"
REPORT_COMMAND = "the app's Downloads tab (built in memory)"
#: where temporary files go when the machine has a memory-backed folder
SHM = Path("/dev/shm")


@contextmanager
def memory_folder() -> Iterator[Path]:
    """A temporary folder in memory (``/dev/shm``), removed with everything in it on
    leaving. Where the machine has none, an InputError: a session's tables are never
    written to disk (``adequacy report`` on the command line writes to a folder you
    choose)."""
    if not (SHM.is_dir() and os.access(SHM, os.W_OK)):
        raise InputError(
            "this machine has no memory-backed folder (/dev/shm) to build files from the "
            "session in, and the app writes nothing of it to disk: use 'adequacy report' "
            "on the command line"
        )
    with tempfile.TemporaryDirectory(prefix="adequacy-app-", dir=str(SHM)) as tmp:
        yield Path(tmp)


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    """A zip archive of ``{name: text or bytes}``, made in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


def _counts_only(evaluation: Any) -> Any:
    """The evaluation with its member results cut to what the report reads (no IDs)."""
    from adequacy.runs.read import RUN_MEMBER_COLUMNS

    results = evaluation.member_results[list(RUN_MEMBER_COLUMNS)]
    return replace(evaluation, member_results=results)


def _inputs(evaluation: Any) -> dict[str, Any]:
    """The inputs the report's method section lists: the road file and the standards;
    the tables read in the session are named as such (nothing of them is kept)."""
    standards = evaluation.standards
    return {
        "members": IN_SESSION,
        "providers": IN_SESSION,
        "road_network": evaluation.network_meta.get("source"),
        "standards": str(standards.path) if standards.path else standards.name,
    }


def report_files(
    evaluation: Any,
    findings: dict[str, pd.DataFrame],
    *,
    period: str | None = None,
    plan: str | None = None,
    demo_region: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The quarterly report of ``evaluation`` as ``adequacy report`` writes it, in memory:
    ``{file name: bytes}`` of ``report.html``, ``report.xlsx`` and, when some county
    fails, ``exception_drafts.zip`` (one HTML draft per failing county and rule).

    ``findings``: the workpaper's tables by run-folder name (``Deficiencies.tables()``
    and ``outside_by_county``); only the county and provider tables are used.
    ``period`` ('2026Q3') picks the rules due (default: every rule); ``plan`` names
    the plan; ``demo_region`` marks a demo run (the title names it); ``extra`` adds
    keys to the run's manifest (e.g. a what-if scenario). A period with no rule due is
    an InputError, as on the command line.
    """
    from adequacy.report import build_report
    from adequacy.runs import write_run

    reported = {name: findings[name] for name in REPORTED if name in findings}
    extra = {**(extra or {}), **({"demo": {"region": demo_region}} if demo_region else {})}
    with memory_folder() as tmp:
        write_run(
            _counts_only(evaluation),
            tmp / "run",
            inputs=_inputs(evaluation),
            command=COMMAND,
            extra=extra,
            findings=reported,
        )
        paths = build_report(
            tmp / "run", tmp / "report", period=period, plan=plan, command=REPORT_COMMAND
        )
        out = {"report.html": paths["html"].read_bytes(), "report.xlsx": paths["xlsx"].read_bytes()}
        drafts = {p.name: p.read_bytes() for k, p in paths.items() if k.startswith("exception-")}
    if drafts:
        out["exception_drafts.zip"] = zip_bytes(drafts)
    return out


def workpaper_files(
    evaluation: Any, findings: dict[str, pd.DataFrame], members: pd.DataFrame
) -> dict[str, bytes]:
    """The deficiency workpaper, in memory: ``deficiency_workpaper.xlsx`` (a README sheet,
    then the failing counties, the recruitment picks, the providers for exception
    requests and the members outside the area by county: counties and providers only)
    and ``members_not_served.csv`` (the members not served, by ID only; made in memory).
    """
    from adequacy.report.workbook import write_workbook
    from adequacy.runs.manifest import run_time

    standards = evaluation.standards
    info = [
        ("Workpaper", "Deficiency workpaper: every failing county and rule, what it lacks "
         "and what would close it"),
        ("Standards", f"{standards.name}@{standards.version}"),
        ("Synthetic data", "YES — demo data, not for filing" if evaluation.synthetic else "no"),
        ("Members", "by ID only, in members_not_served.csv (downloaded beside this file)"),
        ("Infinity (∞)", "no provider (members per provider) or beyond the search horizon"),
    ]  # fmt: skip
    sheets = {name: findings[name] for name in REPORTED if name in findings}
    created = run_time().replace(tzinfo=None)
    with memory_folder() as tmp:
        path = write_workbook(tmp / "deficiency_workpaper.xlsx", sheets, info, created)
        xlsx = path.read_bytes()
    flag = evaluation.synthetic
    csv = members.assign(synthetic=flag).to_csv(index=False, float_format="%.6g")
    return {"deficiency_workpaper.xlsx": xlsx, "members_not_served.csv": csv.encode()}
