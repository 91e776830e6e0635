"""`envmint report`: one self-contained HTML file over real runs, escaped, rendered by a headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from envmint import sandbox
from envmint.cli import app
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.report import build_data, load_runs, write_report
from envmint.harness.results import RunDirectory
from envmint.harness.selection import select
from tests.conftest import need
from tests.fixtures import library

CHROMIUM = "/usr/bin/chromium"
PAYLOAD = '</script><script>document.body.dataset.pwned = "1"</script><img src=x onerror="document.title=\'pwned\'">'


def _run(scenarios: Path, servers: Path, out: Path, agent: str) -> Path:
    options = runner.RunOptions(agent=agent, concurrency=2, sandboxed=sandbox.sandbox_available())

    async def go() -> None:
        with anyio.fail_after(180):
            await runner.run(
                select(scenarios), servers, RunDirectory(out), options, agent_factory(agent), lambda s: None
            )

    anyio.run(go)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, library_folder: Path) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    target = root / "scenarios" / "library_desk"
    target.mkdir(parents=True)
    for path in library.scenario_paths():
        shutil.copy(path, target / path.name)
    reference = _run(root / "scenarios", library_folder.parent, root / "runs" / "ref", "reference")
    null = _run(root / "scenarios", library_folder.parent, root / "runs" / "null", "null")
    return reference, null


@pytest.fixture()
def hostile_runs(runs: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the runs whose first tool result (reference run) holds an HTML injection attempt."""
    reference, null = (Path(shutil.copytree(run, tmp_path / run.name)) for run in runs)
    run_dir = RunDirectory(reference)
    record = next(r for r in run_dir.read() if r.tool_calls)
    trajectory = run_dir.load_trajectory(record.trajectory)
    tool = next(m for m in trajectory["messages"] if m["role"] == "tool")
    tool["content"] = PAYLOAD
    (reference / record.trajectory).write_text(json.dumps(trajectory), encoding="utf-8")
    return reference, null


def _embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert match, "the data is embedded as JSON"
    data: dict = json.loads(match.group(1))
    return data


def test_the_report_embeds_reference_at_100_percent_and_null_at_0_percent(runs: tuple[Path, Path]) -> None:
    path = write_report(list(runs))
    assert path == runs[0] / "report.html"
    data = _embedded(path.read_text(encoding="utf-8"))
    rows = {(r["agent"], r["env"]): r for r in data["summary"]}
    scenarios = len(library.scenario_paths())
    graded = len([r for r in RunDirectory(runs[0]).read() if r.graded])
    assert rows[("reference", "(all)")]["success_rate"] == 1.0
    assert rows[("null", "(all)")]["success_rate"] == 0.0
    assert rows[("null", "library_desk")]["ci_high"] == 0.0 and rows[("reference", "library_desk")]["ci_low"] == 1.0
    assert rows[("reference", "(all)")]["episodes"] == graded
    assert len(data["episodes"]) == 2 * scenarios
    assert data["totals"]["episodes"] == 2 * scenarios and data["totals"]["cost_usd"] == 0.0
    failures = data["check_failures"]
    assert failures and all(f["agents"] == ["null"] and f["failed"] >= 1 for f in failures)
    null_failed = sum(1 for r in RunDirectory(runs[1]).read() if r.graded for c in r.checks if c.verdict != "pass")
    assert sum(f["failed"] + f["errored"] for f in failures) == null_failed
    reference = next(e for e in data["episodes"] if e["agent"] == "reference" and e["tool_calls"])
    roles = [m["role"] for m in reference["trajectory"]["messages"]]
    assert roles[:2] == ["system", "user"] and "tool" in roles and reference["trajectory"]["state_diff"]
    assert all(c["verdict"] == "pass" for c in reference["checks"])


def test_the_report_is_self_contained_and_deterministic(runs: tuple[Path, Path], tmp_path: Path) -> None:
    first = write_report(list(runs), tmp_path / "a.html").read_text(encoding="utf-8")
    second = write_report(list(runs), tmp_path / "b.html").read_text(encoding="utf-8")
    assert first == second
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", first), "no external resource"
    assert "@import" not in first and "url(" not in first
    assert first.count("<script") == 2 and "<svg" in first and "95% bootstrap CI" in first


def test_the_same_agent_in_two_runs_is_shown_once_per_run(runs: tuple[Path, Path]) -> None:
    data = build_data(load_runs([runs[0], runs[0]]))
    assert {r["agent"] for r in data["summary"]} == {"reference [ref]", "reference [ref']"}


def test_text_from_a_trajectory_cannot_inject_html(hostile_runs: tuple[Path, Path]) -> None:
    page = write_report(list(hostile_runs)).read_text(encoding="utf-8")
    assert "pwned" in page and PAYLOAD not in page and "<img" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert any(m.get("content") == PAYLOAD for e in _embedded(page)["episodes"] for m in e["trajectory"]["messages"]), (
        "the text survives, escaped"
    )


def test_the_report_command_writes_the_file_and_refuses_a_folder_without_results(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nested" / "r.html"
    result = CliRunner().invoke(app, ["report", str(runs[0]), str(runs[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and len(_embedded(out.read_text(encoding="utf-8"))["runs"]) == 2
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_headless_browser_renders_the_report_without_errors_and_runs_no_injected_code(
    hostile_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    need(Path(CHROMIUM).is_file(), "chromium is needed to render the report headless")
    page = write_report(list(hostile_runs))
    data = _embedded(page.read_text(encoding="utf-8"))
    hostile = next(
        i
        for i, e in enumerate(data["episodes"])
        if any(m.get("content") == PAYLOAD for m in e["trajectory"]["messages"])
    )
    url = f"{page.resolve().as_uri()}#episode-{hostile}"
    dom = _chromium(tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert 'data-rendered="ok"' in dom.stdout and "— rendered</title>" in dom.stdout
    assert "data-pwned" not in dom.stdout and "<title>pwned" not in dom.stdout
    assert "&lt;/script&gt;&lt;script&gt;document.body.dataset.pwned" in dom.stdout, "shown as text"
    assert dom.stdout.count('class="msg tool"') >= 1 and 'class="call"' in dom.stdout

    shot = page.parent / "report.png"
    result = _chromium(tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,1600", url)
    assert result.returncode == 0, result.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
