"""The generated tests of reads (marked `reads`) pass on the general read path too: with
FAST_READS=false GET requests are answered by FastAPI and read through SQLAlchemy (what a
traced service does), and the answers must be the same as on the direct path production takes.
The generated project's CI runs the same pass; here it runs for every example, on SQLite."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.verify.environment import ensure_env

pytestmark = pytest.mark.e2e

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_tests_of_reads_pass_on_the_general_path(spec: Path, tmp_path: Path) -> None:
    project = tmp_path / spec.stem
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    env = ensure_env(project)
    done = subprocess.run(
        [str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "-m", "reads", "-rfEs"],
        cwd=project,
        env=env.environ({"FAST_READS": "false"}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary
