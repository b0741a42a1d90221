"""The README's examples run as written on the Boston demo.

Every ```bash block right after a ``<!-- runnable -->`` line runs verbatim, in order,
with bash, in a scratch folder that holds what the README assumes of the project
folder (``.venv`` and ``data/`` as links), so that their outputs never land in the
repository; each must exit 0. The virtual environment's ``bin`` is left off PATH: the
blocks work for a user who has not activated it. Blocks that need a browser or a
server that keeps running (``streamlit run``) are not marked runnable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
MARK = "<!-- runnable -->"
CHROMIUM = Path("/usr/bin/chromium")


def runnable_blocks(text: str) -> list[str]:
    """The bash blocks right after a runnable marker, in the README's order."""
    return re.findall(r"^<!-- runnable -->\n```bash\n(.*?)^```$", text, flags=re.M | re.S)


def commands_of(block: str) -> list[str]:
    """A block's commands, continuation lines joined and comments left out."""
    joined = re.sub(r"\\\n\s*", "", block)
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_runnable_blocks_cover_the_command_line():
    text = README.read_text()
    blocks = runnable_blocks(text)
    assert len(blocks) == text.count(MARK)  # every marker stands right before a bash block
    commands = [c for block in blocks for c in commands_of(block)]
    for name in ("demo", "evaluate", "report", "whatif", "recruit", "hsd"):
        assert any(c.startswith(f".venv/bin/adequacy {name} ") for c in commands), name
    # as a user types them after ./scripts/demo, without an activated environment
    assert all(c.startswith(".venv/bin/") for c in commands), commands
    assert commands[0].startswith(".venv/bin/adequacy demo")  # the rest runs on its output


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory, graph_cache):
    """Run every runnable block in order in a scratch folder; (folder, [(block, process)])."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "adequacy").is_file():
        pytest.skip(f"no adequacy command in {venv}/bin: run the tests from the .venv")
    work = tmp_path_factory.mktemp("readme")
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    (work / "data").symlink_to(ROOT / "data", target_is_directory=True)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    path = [p for p in path if Path(p).resolve() != (venv / "bin").resolve()]
    env = dict(
        os.environ, PATH=os.pathsep.join(path), ADEQUACY_CACHE_DIR=str(graph_cache), COLUMNS="120"
    )
    env.pop("VIRTUAL_ENV", None)
    results = []
    for block in runnable_blocks(README.read_text()):
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        results.append((block, proc))
        if proc.returncode != 0:
            break
    return work, results


def test_every_runnable_block_exits_0(readme_run):
    work, results = readme_run
    for block, proc in results:
        assert proc.returncode == 0, f"{block}\nexit {proc.returncode}\n{proc.stderr[-3000:]}"
    assert len(results) == len(runnable_blocks(README.read_text()))
    # and each wrote what it says
    for made in (
        "demo-output/boston/manifest.json",
        "demo-output/boston-report-2026Q4/report.html",
        "demo-output/boston-whatif/delta.csv",
        "demo-output/boston-recruit/picks.csv",
        "results/county_summary.csv",
        "ma-demo/providers_served.csv",
        "ma-hsd/hsd_provider_table.csv",
        "whatif-output/delta.csv",
        "recruit-output/picks.csv",
        "report-2026Q4/report.xlsx",
    ):
        assert (work / made).is_file(), made


def test_the_demo_prints_the_readmes_next_commands(readme_run):
    """The Quick start's commands are those the Boston demo ends with (from the project
    folder, where its programs are .venv/bin/...)."""
    work, results = readme_run
    block, proc = results[0]
    assert proc.returncode == 0
    venv_bin = str(Path(sys.prefix) / "bin") + "/"
    tail = proc.stdout.split("\nnext, on demo-output/boston/:\n", 1)[1]
    printed = []
    for line in tail.splitlines():
        if not line.startswith("  "):
            break
        if not line.startswith("  #"):
            printed.append(line.strip().replace(venv_bin, ".venv/bin/"))
    adequacy = [c for c in printed if c.startswith(".venv/bin/adequacy ")]
    assert len(adequacy) == 3, printed
    assert adequacy == commands_of(block)[1:]


def test_the_readmes_scenario_is_the_one_the_demo_writes(readme_run):
    work, _ = readme_run
    text = README.read_text()
    yaml_blocks = re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.M | re.S)
    example = (work / "demo-output" / "boston" / "whatif-example.yaml").read_text()
    assert example in yaml_blocks


def test_rendered_report_without_playwright(readme_run, tmp_path):
    """scripts/render_report.py in the environment of ./scripts/demo (no Playwright):
    Chromium's own headless screenshot of the whole report, offline."""
    from PIL import Image

    assert CHROMIUM.exists(), "install Debian's chromium (scripts/test does)"
    work, _ = readme_run
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [
            sys.executable,
            ROOT / "scripts" / "render_report.py",
            work / "report-2026Q4" / "report.html",
            png,
            "--engine",
            "chromium",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = int(re.search(r"; (\d+) figures", proc.stdout).group(1))
    assert figures > 10 and "0 page errors" in proc.stdout
    assert "0 network requests" in proc.stdout and "chromium" in proc.stdout
    image = Image.open(png)
    assert image.size[0] == 1280 and image.size[1] > 10_000
