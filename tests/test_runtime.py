"""The runtime (src/backforge/runtime/core) checked as the Python it is, without generating a
service from it: `mypy --strict` (pyproject's [tool.mypy]) and its unit tests (tests/runtime),
both in the shared generated-project environment, which has the packages the runtime imports;
and, here, that core/ imports nothing but its own modules and that the per-spec module a
service gets (core/spec.py) defines what runtime/core/spec.pyi declares."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from backforge.generate import generate, prepare
from backforge.render import OPTIONAL_RUNTIME, render_project, runtime_files
from backforge.verify.environment import ensure_env
from backforge.verify.projectenv import ProjectEnv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RUNTIME = ROOT / "src" / "backforge" / "runtime" / "core"


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> ProjectEnv:
    """The environment generated projects run in (built on first use, then shared): that of
    examples/inventory.yaml, whose cache pins the optional packages too (cashews)."""
    project = generate(EXAMPLES / "inventory.yaml", tmp_path_factory.mktemp("g") / "inventory")
    return ensure_env(project.directory)


@pytest.mark.e2e
def test_the_runtime_passes_mypy_strict(project_env: ProjectEnv) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", str(project_env.python)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


@pytest.mark.e2e
def test_the_runtime_unit_tests_pass(project_env: ProjectEnv) -> None:
    done = subprocess.run(
        [
            *(str(project_env.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("--confcutdir", "tests/runtime", "tests/runtime"),
        ],
        cwd=ROOT,
        env=project_env.environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


def test_core_imports_nothing_of_the_service_but_core() -> None:
    """Relative imports of sibling modules only (so no auth/, no models): the runtime works
    in any service, and in tests/runtime."""
    modules = {path.stem for path in [*RUNTIME.glob("*.py"), *RUNTIME.glob("*.pyi")]}
    for path in sorted(RUNTIME.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name}: from {'.' * node.level}{node.module}"
                imported = [node.module] if node.module else [a.name for a in node.names]
                assert set(imported) <= modules, f"{path.name} imports {imported}"
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += (
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                )
                assert not any(name.split(".")[0] == "backforge" for name in names), path.name


STUB_TYPES = {
    "str": str,
    "bool": bool,
    "frozenset[str]": frozenset,
    "Literal['cursor', 'offset']": str,
    "dict[str, str]": dict,
}


def _stub() -> dict[str, str]:
    """The names runtime/core/spec.pyi declares, with their annotations."""
    tree = ast.parse((RUNTIME / "spec.pyi").read_text("utf-8"))
    return {
        node.target.id: ast.unparse(node.annotation)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


@pytest.mark.parametrize("example", ["bookclub", "inventory"])
def test_the_generated_spec_module_defines_what_its_stub_declares(
    example: str, tmp_path: Path
) -> None:
    ir = prepare(EXAMPLES / f"{example}.yaml", tmp_path / "out").ir
    files = render_project(ir)
    namespace: dict[str, object] = {}
    exec(files[f"{ir.package}/core/spec.py"], namespace)  # constants only
    defined = {name: value for name, value in namespace.items() if not name.startswith("__")}
    stub = _stub()
    assert sorted(defined) == sorted(stub)
    for name, annotation in stub.items():
        assert isinstance(defined[name], STUB_TYPES[annotation]), (name, defined[name])
    unlogged = defined["UNLOGGED_FIELDS"]
    assert isinstance(unlogged, frozenset) and all(isinstance(f, str) for f in unlogged)
    assert defined["PACKAGE"] == ir.package and defined["API_PREFIX"] == ir.base_path
    assert all(files[path] == text for path, text in runtime_files(ir).items())


@pytest.mark.parametrize("example", ["bookclub", "inventory"])
def test_the_generated_settings_module_defines_what_its_stub_declares(
    example: str, tmp_path: Path
) -> None:
    """runtime/core/settings.pyi declares the functions of core/settings.py the runtime calls."""
    ir = prepare(EXAMPLES / f"{example}.yaml", tmp_path / "out").ir
    generated = ast.parse(render_project(ir)[f"{ir.package}/core/settings.py"])
    stub = ast.parse((RUNTIME / "settings.pyi").read_text("utf-8"))
    declared = {node.name for node in stub.body if isinstance(node, ast.FunctionDef)}
    defined = {node.name for node in generated.body if isinstance(node, ast.FunctionDef)}
    assert declared and declared <= defined


def test_runtime_modules_are_copied_with_the_header_only(tmp_path: Path) -> None:
    ir = prepare(EXAMPLES / "inventory.yaml", tmp_path / "out").ir
    copied = runtime_files(ir)
    shipped = [p for p in RUNTIME.glob("*.py") if OPTIONAL_RUNTIME.get(p.name, bool)(ir)]
    assert sorted(copied) == sorted(f"inventory/core/{p.name}" for p in shipped)
    assert "inventory/core/actions.py" not in copied  # inventory declares no actions
    assert not {"inventory/core/outbox.py", "inventory/core/relay.py"} & set(copied)  # no events
    first, _, rest = copied["inventory/core/errors.py"].partition("\n")
    assert (
        first
        == f"# Generated by backforge {ir.generator_version} from spec sha256:{ir.spec_hash[:12]}."
    )
    assert rest == (RUNTIME / "errors.py").read_text("utf-8")


def _members(source: str, name: str) -> dict[str, str]:
    """The annotated fields and properties of class `name` in `source`, with their types."""
    cls = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == name
    )
    found = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = ast.unparse(node.annotation)
        elif (
            isinstance(node, ast.FunctionDef)
            and node.returns is not None
            and any(ast.unparse(d) == "property" for d in node.decorator_list)
        ):
            found[node.name] = ast.unparse(node.returns)
    return found


def test_the_principal_of_auth_is_the_caller_hooks_expect(tmp_path: Path) -> None:
    """core/ never imports auth/: hooks.py types the principal it is handed as the Caller
    protocol, which auth/principal.py's Principal must fit, member for member."""
    ir = prepare(EXAMPLES / "bookclub.yaml", tmp_path / "out").ir
    principal = _members(render_project(ir)[f"{ir.package}/auth/principal.py"], "Principal")
    caller = _members((RUNTIME / "hooks.py").read_text("utf-8"), "Caller")
    assert caller and {name: principal.get(name) for name in caller} == caller
