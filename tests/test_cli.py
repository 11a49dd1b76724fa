"""The command line: exit codes, messages and machine output of every command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from backforge.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_init_writes_a_starter_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "shop.yaml"
    assert main(["init", "shop", "-o", str(target)]) == 0
    assert "name: shop" in target.read_text()
    assert main(["validate", str(target)]) == 0
    assert "valid — service shop" in capsys.readouterr().out


def test_init_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "shop.yaml"
    target.write_text("mine")
    assert main(["init", "shop", "-o", str(target)]) == 2
    assert target.read_text() == "mine"


def test_init_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "Bad-Name", "-o", str(tmp_path / "x.yaml")]) == 2
    assert "Bad-Name" in capsys.readouterr().err
    assert not (tmp_path / "x.yaml").exists()


def test_validate_reports_every_problem_with_file_and_line(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(
        """
        service: {name: shop}
        resources:
          Book:
            fields:
              title: {type: strng}
              author: {type: ref, to: Writer}
        """
    )
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "2 problems in the spec" in err
    assert f"{spec}:5 at resources.Book.fields.title.type" in err
    assert "did you mean `string`" in err
    assert f"{spec}:6 at resources.Book.fields.author.to" in err
    assert "nothing was written" in err


def test_validate_json_lists_problems(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec("service: {name: shop}\nresources:\n  Book:\n    fields: {id: int}\n")
    assert main(["validate", str(spec), "--json"]) == 2
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["path"] == "resources.Book.fields.id"
    assert problem["line"] == 4
    assert "automatic" in problem["message"]


def test_validate_calls_nothing_of_a_generated_spec_not_generated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(ROOT / "tests" / "specs" / "sketch.yaml")]) == 0
    out = capsys.readouterr().out
    assert "not generated yet" not in out  # its cache is generated now
    assert "auth:" not in out and "resources.Book.permissions" not in out  # both generated


def test_schema_is_the_published_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "spec.schema.json").read_text()


def test_generate_with_a_bad_spec_exits_2_and_writes_nothing(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec("service: {name: shop}\nresources: {}\n")
    assert main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_generate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inventory"
    assert (
        main(["generate", str(ROOT / "examples" / "inventory.yaml"), "-o", str(out), "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True
    assert "inventory/main.py" in result["files"]
    assert (out / "inventory" / "main.py").is_file()


def test_verify_refuses_a_directory_that_is_not_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(tmp_path)]) == 2
    assert "backforge:" in capsys.readouterr().err


def test_verify_refuses_an_unusable_database_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "inventory"
    assert main(["generate", str(ROOT / "examples" / "inventory.yaml"), "-o", str(out)]) == 0
    assert main(["verify", str(out), "--database", "oracle://scott@127.0.0.1/test"]) == 2


@pytest.mark.e2e
def test_verify_quick_runs_the_edit_loop_checks_and_says_it_is_not_a_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from verify_miniproject import write_project

    root = write_project(tmp_path / "notes")
    assert main(["verify", "--quick", str(root)]) == 0
    captured = capsys.readouterr()
    block = captured.out.splitlines()
    assert block[0] == "STATUS: QUICK"
    assert block[-2] == f"NEXT: run the full `backforge verify {root}` before delivering it"
    assert block[-1].startswith("BLOCKER: not verified in full: --quick does not run security,")
    for name in ("environment", "lint", "tests", "migrations"):  # per-check timings, as they end
        assert f"      {name}: passed in " in captured.err
    assert "server" not in captured.err and "contract" not in captured.err
    assert "verify: QUICK in " in captured.err.splitlines()[-1]
    report = json.loads((root / "backforge-report.json").read_text())
    assert report["mode"] == "quick" and report["status"] == "QUICK"
    assert [c["name"] for c in report["checks"]] == ["environment", "lint", "tests", "migrations"]
    tests = report["checks"][2]["figures"]
    major, minor = map(int, report["checks"][0]["figures"]["python"].split("."))
    assert tests["passed"] == 5
    assert tests["coverage_core"] == ("sysmon" if (major, minor) >= (3, 12) else "ctrace")
