"""The spec fuzzer's fast half: every drawn valid spec validates (model, checks, JSON Schema, IR),
and every drawn invalid one is refused with exit 2, file:line and its path, and nothing written.

The slow half (generating each fuzzed spec and running its own suite) is test_specfuzz_e2e.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from specfuzz import invalid_specs, to_yaml, valid_specs
from support import tree_hash

from backforge.cli import main
from backforge.errors import SpecError
from backforge.generate import generate
from backforge.ir import build_ir
from backforge.spec.jsonschema import spec_json_schema
from backforge.spec.load import load_spec_text

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


def fast(examples: int) -> settings:
    """Deterministic (a fixed seed derived from the test), no example database, no deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=_QUIET,
    )


SCHEMA = jsonschema.Draft202012Validator(spec_json_schema())


@fast(300)
@given(valid_specs())
def test_every_fuzzed_valid_spec_validates(data: dict) -> None:  # type: ignore[type-arg]
    text = to_yaml(data)
    try:
        spec = load_spec_text(text, "fuzz.yaml")
    except SpecError as exc:
        pytest.fail(f"a valid spec was refused:\n{exc}\n--- spec ---\n{text}")
    schema_errors = [e.message for e in SCHEMA.iter_errors(yaml.safe_load(text))]
    assert not schema_errors, f"{schema_errors}\n--- spec ---\n{text}"
    ir = build_ir(spec, text)
    assert {r.name for r in ir.resources} == set(data["resources"])


@fast(60)
@given(valid_specs(cycles=True))
def test_specs_with_reference_cycles_validate(data: dict) -> None:  # type: ignore[type-arg]
    load_spec_text(to_yaml(data), "fuzz.yaml")


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _assert_refused(code: int, message: str, path: str, spec: Path, text: str) -> None:
    context = f"{message}\n--- spec ---\n{text}"
    assert code == 2, context
    lines = text.splitlines()
    found = re.findall(
        rf"^  {re.escape(str(spec))}:(\d+) at {re.escape(path)}[.\[:]", message, re.M
    )
    assert found, f"no problem names {spec}:<line> at {path}\n{context}"
    assert all(1 <= int(n) <= len(lines) for n in found), context
    assert "nothing was written" in message, context


@fast(150)
@given(case=invalid_specs(), command=st.sampled_from(["validate", "generate"]))
def test_every_fuzzed_invalid_spec_is_refused_with_its_place(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[dict, str, str],  # type: ignore[type-arg]
    command: str,
) -> None:
    data, mutation, path = case
    work = tmp_path_factory.mktemp(mutation)
    spec, out = work / "fuzz.yaml", work / "out"
    text = to_yaml(data)
    spec.write_text(text, encoding="utf-8")
    argv = [command, str(spec)] + (["-o", str(out)] if command == "generate" else [])
    code, message = _run(argv)
    if command == "validate":
        message += "\nnothing was written." if code == 2 else ""
    _assert_refused(code, message, path, spec, text)
    assert not out.exists(), f"{mutation}: generate wrote {out}"


@pytest.fixture(scope="module")
def existing_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated once, for the mutations to be refused against."""
    work = tmp_path_factory.mktemp("existing")
    spec = work / "spec.yaml"
    spec.write_text(
        to_yaml({"service": {"name": "fuzzed"}, "resources": {"Note": {"fields": {"t": "text"}}}})
    )
    return generate(spec, work / "out").directory


@fast(25)
@given(case=invalid_specs())
def test_an_invalid_spec_leaves_an_existing_project_unchanged(
    existing_project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[dict, str, str],  # type: ignore[type-arg]
) -> None:
    data, _mutation, path = case
    before = tree_hash(existing_project)
    spec = tmp_path_factory.mktemp("bad") / "fuzz.yaml"
    text = to_yaml(data)
    spec.write_text(text, encoding="utf-8")
    code, message = _run(["generate", str(spec), "-o", str(existing_project)])
    _assert_refused(code, message, path, spec, text)
    assert tree_hash(existing_project) == before
    assert json.loads((existing_project / ".backforge" / "manifest.json").read_text())
