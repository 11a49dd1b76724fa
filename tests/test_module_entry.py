"""`python -m backforge` is the command line, as the benchmarks and the README call it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_backforge_runs_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "bookstore"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "backforge",
            "generate",
            str(ROOT / "examples" / "bookstore.yaml"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "openapi.json").is_file()


def test_python_m_backforge_reports_a_bad_spec_with_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("service: {name: shop}\nresources:\n  Book:\n    fields: {title: strng}\n")
    done = subprocess.run(
        [sys.executable, "-m", "backforge", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{spec}:4" in done.stderr and "strng" in done.stderr
