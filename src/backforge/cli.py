"""The `backforge` command line: init, validate, schema, plan, generate, verify and new (and
`mcp` and `agent install`, from backforge.agent.commands).

Exit codes: 0 success (verify: STATUS COMPLETE, or QUICK for `verify --quick`; plan: also when it
reports breaking or destructive changes), 1 the service did not verify (BLOCKED or ERROR), 2 bad
input (a spec with problems, an unusable directory or option, a destructive change without
--allow-destructive).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backforge import __version__
from backforge.errors import BackforgeError, ProjectError, SpecError
from backforge.verify import LOAD_REQUESTS

EXIT_OK, EXIT_NOT_VERIFIED, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SpecError as exc:
        _problems(exc, args)
        return exc.exit_code
    except BackforgeError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(exc)}, indent=2))
        print(f"backforge: {exc}", file=sys.stderr)
        return exc.exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backforge",
        description="From a service spec to a verified, production-ready FastAPI backend.",
    )
    parser.add_argument("--version", action="version", version=f"backforge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="write a commented starter spec")
    init.add_argument("name", nargs="?", default="my_service", help="the service name")
    init.add_argument("-o", "--output", type=Path, help="spec file to write (default NAME.yaml)")
    init.set_defaults(handler=_init)

    validate = commands.add_parser("validate", help="check a spec and explain every problem")
    validate.add_argument("spec", type=Path)
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the spec language")
    schema.set_defaults(handler=_schema)

    plan = commands.add_parser(
        "plan", help="show what regenerating a project from a spec would change (writes nothing)"
    )
    plan.add_argument("spec", type=Path)
    plan.add_argument("directory", type=Path, help="the project directory")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(handler=_plan)

    generate = commands.add_parser("generate", help="write the project for a spec")
    _generate_options(generate)
    generate.set_defaults(handler=_generate)

    verify = commands.add_parser("verify", help="check a generated project and report")
    verify.add_argument("directory", type=Path)
    _verify_options(verify)
    verify.set_defaults(handler=_verify)

    importing = commands.add_parser(
        "import", help="write a spec from what exists already (a contract, a database)"
    )
    sources = importing.add_subparsers(dest="source", required=True, metavar="SOURCE")
    openapi = sources.add_parser("openapi", help="a spec from an OpenAPI 3.0/3.1 contract")
    openapi.add_argument("contract", type=Path, help="the contract, YAML or JSON")
    openapi.add_argument("-o", "--output", type=Path, required=True, help="spec file to write")
    openapi.add_argument("--service", help="service name (default: from the contract's title)")
    openapi.add_argument(
        "--report", type=Path, help="also write the import report (JSON) to this file"
    )
    openapi.add_argument("--force", action="store_true", help="overwrite an existing spec file")
    openapi.add_argument("--json", action="store_true", help="machine-readable output")
    openapi.set_defaults(handler=_import_openapi)

    new = commands.add_parser("new", help="generate, then verify: the whole job")
    _generate_options(new)
    _verify_options(new, json_flag=False)
    new.set_defaults(handler=_new)

    database = sources.add_parser(
        "database", help="a spec for an existing PostgreSQL or SQLite database's tables"
    )
    database.add_argument("url", help="postgresql://user@host/db or sqlite:///path.db")
    database.add_argument(
        "-o", "--output", type=Path, required=True, help="spec to write (merged into if it exists)"
    )
    database.add_argument("--service", help="service name (default: from the database name)")
    database.add_argument("--schema", help="PostgreSQL schema to read (default: public)")
    database.add_argument(
        "--table", action="append", dest="tables", metavar="T", help="import only T (repeatable)"
    )
    database.add_argument("--json", action="store_true", help="machine-readable summary")
    database.set_defaults(handler=_import_database)

    from backforge.agent.commands import add_commands  # mcp, agent install

    add_commands(commands)
    return parser


def _generate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="project directory")
    parser.add_argument(
        "--force", action="store_true", help="overwrite hand-edited generated files"
    )
    parser.add_argument(
        "--allow-destructive",
        action="store_true",
        help="apply a spec change that loses data (drops a table or column, narrows a type, "
        "removes enum values); see `backforge plan`",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _verify_options(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="run tests and migrations against this server (e.g. postgresql://…) "
        "in a scratch database; default: SQLite",
    )
    parser.add_argument("--seed", type=int, default=20261122, help="contract-fuzzing seed")
    parser.add_argument(
        "--fuzz-examples", type=int, default=30, help="examples per operation when fuzzing"
    )
    parser.add_argument(
        "--load-requests", type=int, default=LOAD_REQUESTS, help="requests in the smoke load"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="for the edit loop: environment, lint, tests and migrations only; the status is "
        "QUICK at best, never COMPLETE (run the full verify before delivering)",
    )
    parser.add_argument(
        "--contract",
        type=Path,
        metavar="FILE",
        help="also check the running service against this OpenAPI 3.0/3.1 document "
        "(YAML or JSON; the conformance check); not with --quick",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="checks run at once (default: every check that is ready; 1: one after another)",
    )
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def _import_openapi(args: argparse.Namespace) -> int:
    from backforge.importers.openapi import import_contract

    imported = import_contract(args.contract, service=args.service)
    imported.write(args.output, report=args.report, force=args.force)
    if args.json:
        print(json.dumps(imported.report(), indent=2))
    else:
        print(imported.summary(args.output))
    return EXIT_OK


def _import_database(args: argparse.Namespace) -> int:
    from backforge.importers.database import import_database

    result = import_database(
        args.url, args.output, service=args.service, schema=args.schema, tables=args.tables
    )
    if args.json:
        print(json.dumps({"ok": True, "spec": str(args.output), **result.as_dict()}, indent=2))
    else:
        print(result.summary())
        print(f"wrote {args.output}; next: backforge generate {args.output} -o <dir>")
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from backforge.starter import starter_spec

    text = starter_spec(args.name)
    target: Path = args.output or Path(f"{args.name}.yaml")
    if target.exists():
        print(f"backforge: {target} already exists; choose another name or -o", file=sys.stderr)
        return EXIT_BAD_INPUT
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}; next: backforge new {target} -o {args.name}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from backforge.spec import load_spec

    spec = load_spec(args.spec)
    notes = spec.accepted_but_not_generated()
    fields = sum(len(r.fields) for r in spec.resources.values())
    if args.json:
        print(json.dumps({"ok": True, "problems": [], "notes": notes}, indent=2))
    else:
        print(
            f"{args.spec}: valid — service {spec.service.name}, "
            f"{len(spec.resources)} resources, {fields} fields"
        )
        for note in notes:
            print(f"note: {note}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from backforge.spec.jsonschema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from backforge.plan import make_plan

    plan = make_plan(args.spec, args.directory)
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
    else:
        sys.stdout.write(plan.text())
    return EXIT_OK


def _generate(args: argparse.Namespace) -> int:
    generated = _run_generate(args)
    if args.json:
        print(json.dumps(generated.as_json(), indent=2))
    return EXIT_OK


def _run_generate(args: argparse.Namespace) -> Any:
    from backforge.generate import generate

    _say(args, f"generating {args.output} from {args.spec} …")
    generated = generate(
        args.spec, args.output, force=args.force, allow_destructive=args.allow_destructive
    )
    _say(
        args,
        f"generated {len(generated.files)} files in {generated.directory} "
        f"({len(generated.changed)} changed) in {generated.seconds:.1f} s",
    )
    if generated.evolution is not None:
        changes = generated.evolution.diff
        if generated.revision:
            _say(args, f"new migration {generated.revision}: run `alembic upgrade head`")
        for op in changes.destructive:
            _say(args, f"destructive: {op.summary} (loses {op.loses})")
        for change in changes.breaking:
            _say(args, f"breaking API change: {change.where}: {change.summary}")
    for note in generated.ir.notes:
        _say(args, f"note: {note}")
    return generated


def _verify(args: argparse.Namespace) -> int:
    return _run_verify(args, args.directory)


def _new(args: argparse.Namespace) -> int:
    if args.contract is not None:  # refused before anything is generated
        from backforge.verify.runner import QUICK_REFUSES_CONTRACT, load_contract

        if args.quick:
            raise ProjectError(QUICK_REFUSES_CONTRACT)
        load_contract(args.contract)
    _run_generate(args)
    return _run_verify(args, args.output)


def _run_verify(args: argparse.Namespace, directory: Path) -> int:
    from backforge.verify import verify_project

    report = verify_project(
        directory,
        database_url=args.database,
        progress=_progress_printer(args),
        seed=args.seed,
        fuzz_examples=args.fuzz_examples,
        load_requests=args.load_requests,
        quick=args.quick,
        jobs=args.jobs,
        contract=args.contract,
    )
    if args.json:
        print(report.to_json(), end="")
    else:
        print(report.status_block())
    return EXIT_OK if report.status in ("COMPLETE", "QUICK") else EXIT_NOT_VERIFIED


def _progress_printer(args: argparse.Namespace) -> Any:
    def show(event: str, data: dict[str, Any]) -> None:
        if args.json:
            safe = {k: v for k, v in data.items() if k != "report"}
            print(json.dumps({"event": event, **safe}, default=str), file=sys.stderr)
        elif event == "check_started":
            print(
                f"[{data['index'] + 1}/{data['total']}] {data['name']} …",
                file=sys.stderr,
                flush=True,
            )
        elif event == "check_finished":
            figure = f" — {data['figure']}" if data.get("figure") else ""
            print(
                f"      {data['name']}: {data['status']} in {data['seconds']:.1f} s{figure}",
                file=sys.stderr,
                flush=True,
            )
        elif event == "verify_finished" and "seconds" in data:
            print(f"verify: {data['status']} in {data['seconds']:.1f} s", file=sys.stderr)

    return show


def _say(args: argparse.Namespace, text: str) -> None:
    if args.json:
        print(json.dumps({"event": "message", "text": text}), file=sys.stderr)
    else:
        print(text, file=sys.stderr)


def _problems(exc: SpecError, args: argparse.Namespace) -> None:
    if getattr(args, "json", False):
        problems = [p.as_dict() for p in exc.problems]
        print(json.dumps({"ok": False, "problems": problems}, indent=2))
    count = len(exc.problems)
    print(f"{count} problem{'s' if count != 1 else ''} in {exc.subject}:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}".replace("\n", "\n  "), file=sys.stderr)
    print("nothing was written.", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
