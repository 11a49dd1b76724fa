"""`backforge new` on MariaDB: the examples delivered COMPLETE with their tests, migrations,
server, contract fuzzing, load and resilience all run against a scratch MariaDB database
(utf8mb4, binary collation) on 127.0.0.1:3306, and the report names the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_e2e_new import EVERY_EXAMPLE, EXAMPLES, assert_delivered, run_new

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.mysql]

MARIADB = "mysql://root@127.0.0.1:3306/x"


@pytest.mark.parametrize(
    ("example", "url"),
    [
        (example, "mariadb+asyncmy://root@127.0.0.1:3306/x" if example == "bookclub" else MARIADB)
        for example in EVERY_EXAMPLE
    ],
)
def test_new_delivers_the_examples_on_mariadb(tmp_path: Path, example: str, url: str) -> None:
    spec = EXAMPLES / f"{example}.yaml"
    report = run_new(spec, tmp_path / example, "--database", url, "--fuzz-examples", "15")
    assert_delivered(report)
    assert report["database"]["verified_on"] == "mysql"
    assert "checks passed on mysql" in report["status_block"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["migrations"]["figures"]["database"] == "mysql"
    assert checks["tests"]["figures"]["database"] == "mysql"


def test_verify_refuses_a_database_it_does_not_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "bookstore"
    assert main(["generate", str(EXAMPLES / "bookstore.yaml"), "-o", str(project)]) == 0
    capsys.readouterr()
    assert main(["verify", str(project), "--database", "oracle://scott@127.0.0.1/x"]) == 2
    assert "mysql+asyncmy://" in capsys.readouterr().err
