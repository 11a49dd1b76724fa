"""`service.server`: uvicorn (the default) or granian. The spec refuses other values at their
line; the IR of a spec without it is unchanged; changing it is not breaking; a granian project
pins Granian, serves through it and shares the project venv of its uvicorn twin."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from backforge.errors import SpecError
from backforge.evolve.diff import diff, renames_in
from backforge.evolve.snapshot import ir_from_json
from backforge.generate import generate
from backforge.ir import ServiceIR, build_ir
from backforge.spec import load_spec_text
from backforge.verify.environment import Interpreter, added_pins, env_key
from backforge.verify.server import http_server

SPEC = """
service:
  name: shop
  version: 1.0.0
resources:
  Item:
    fields:
      name: {type: string, max_length: 80, required: true}
"""
GRANIAN = SPEC.replace("version: 1.0.0", "version: 1.0.0\n  server: granian")


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def test_an_unknown_server_is_refused_at_its_line() -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_text(SPEC.replace("version: 1.0.0", "version: 1.0.0\n  server: gunicorn"))
    [problem] = raised.value.problems
    assert problem.line == 5
    assert "uvicorn, granian" in str(problem)


def test_the_default_leaves_the_ir_as_it_was() -> None:
    assert ir(SPEC).server == "uvicorn"
    assert '"server"' not in ir(SPEC).to_json()
    granian = ir(GRANIAN)
    assert granian.server == "granian"
    assert ir_from_json(granian.to_json()).server == "granian"


def test_changing_the_server_is_not_breaking() -> None:
    spec = load_spec_text(GRANIAN)
    changes = diff(ir_from_json(ir(SPEC).to_json()), build_ir(spec, GRANIAN), renames_in(spec))
    assert [(c.summary, c.breaking) for c in changes.api] == [
        ("served by granian instead of uvicorn (service.server)", False)
    ]
    assert not changes.operations


def test_a_granian_project_pins_it_and_shares_the_venv_of_its_uvicorn_twin(tmp_path: Path) -> None:
    projects = {}
    for name, text in (("uvicorn", SPEC), ("granian", GRANIAN)):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(text)
        projects[name] = generate(spec, tmp_path / name).directory
    uvicorn, granian = projects["uvicorn"], projects["granian"]
    assert added_pins(uvicorn) == []
    [pin] = added_pins(granian)
    assert pin.startswith("granian==")
    python = Interpreter("python3", (3, 12))
    assert env_key(granian, python) == env_key(uvicorn, python)
    assert (http_server(uvicorn), http_server(granian)) == ("uvicorn", "granian")
    serve = (granian / "shop" / "serve.py").read_text()
    assert "from granian.server import Server" in serve
    assert "workers=settings.web_concurrency" in serve
    assert "granian" not in (uvicorn / "shop" / "serve.py").read_text()
    assert "WEB_CONCURRENCY=1" in (granian / ".env.example").read_text()
    assert "WEB_CONCURRENCY" not in (uvicorn / ".env.example").read_text()
