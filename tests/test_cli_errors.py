"""Bad input to any command gets a clear one-line error and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from envmint.cli import app

REPO = Path(__file__).resolve().parents[1]


def _bad_corpus(tmp_path: Path) -> str:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"task": "book a table"}\n{not json\n', encoding="utf-8")
    return str(path)


CASES = [
    (["synthesize", "--llm", "bogus:x", "--topic", "a shop"], "unknown --llm value"),
    (["synthesize", "--llm", "replay:recordings", "--from-tasks", "/nonexistent/tasks.jsonl"], "no task corpus"),
    (["synthesize", "--llm", "replay:recordings", "--from-tasks", "{bad_corpus}"], "line 2 is not valid JSON"),
    (
        ["synthesize", "--llm", "replay:{tmp}/empty-recording", "--topic", "a shop", "--servers", "{tmp}/s"],
        "no recorded exchange",
    ),
    (["scenarios", "no_such_env", "--llm", "replay:recordings"], "file not found"),
    (["catalog", "--servers", "/nonexistent"], "no servers folder"),
    (["bundle", "sporting_goods_store", "--deps-from", "/nonexistent", "--out", "{tmp}/dist"], "not a site-packages"),
    (
        ["bundle", "sporting_goods_store", "--release-url", "http://example.com/x", "--out", "{tmp}/dist"],
        "must be an absolute https URL",
    ),
    (
        ["run", "--agent", "anthropic:claude-x", "--env", "sporting_goods_store", "--out", "{tmp}/run"],
        "needs ANTHROPIC_API_KEY",
    ),
    (["run", "--agent", "bogus"], "unknown agent"),
    (["report", "/nonexistent"], "not a run directory"),
    (["config", "claude-code", "no_such_env"], "no server for no_such_env"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(CASES)])
def test_bad_input_is_a_clear_error_without_a_traceback(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    args = [a.format(tmp=tmp_path, bad_corpus=_bad_corpus(tmp_path)) for a in argv]
    result = CliRunner().invoke(app, args)
    output = " ".join(result.output.split())
    assert result.exit_code != 0, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert message in output, output
