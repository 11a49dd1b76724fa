"""The live change feed (`GET …/events`, default on with `events`, `feed: false` off) and the
AsyncAPI document of the events: what a spec generates, and that the document is valid
AsyncAPI 3.0, checked against the JSON Schema of AsyncAPI 3.0.0 that the AsyncAPI initiative
publishes in its npm package @asyncapi/specs (scripts/test.sh installs it into .cache/asyncapi;
ASYNCAPI_SPECS names another copy of the package)."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest

from backforge.cli import main
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text

SPECS_PACKAGE = Path(
    os.environ.get(
        "ASYNCAPI_SPECS",
        Path(__file__).parents[1] / ".cache" / "asyncapi" / "node_modules" / "@asyncapi" / "specs",
    )
)
SCHEMA = SPECS_PACKAGE / "schemas" / "3.0.0-without-$id.json"
SPEC = """
service: {name: shelf}
resources:
  Author:
    fields:
      name: {type: string, required: true}
    events: [created]
    feed: false
  Book:
    fields:
      title: {type: string, required: true}
      code: {type: string, write_only: true}
      author: {type: ref, to: Author}
    events: [created, updated, deleted]
"""


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def test_the_feed_is_on_with_events_unless_turned_off() -> None:
    service = ir(SPEC)
    assert service.feed
    assert (service.resource("Book").feed, service.resource("Author").feed) == (True, False)
    assert service.feed_resource.name == "Book"
    files = render_project(service)
    assert "shelf/core/feed.py" in files and "tests/test_feed.py" in files
    assert '"/events"' in files["shelf/book/routes.py"]
    assert "/events" not in files["shelf/author/routes.py"]
    main_py = files["shelf/main.py"]
    assert main_py.index("book_feed,") < main_py.index("book_reads,")  # before GET /{id}
    assert (
        'include-operation-id = "stream_book_events"\nenabled = false' in files["schemathesis.toml"]
    )
    assert "close_streams()" in files["shelf/serve.py"]


def test_without_any_feed_nothing_of_it_is_generated() -> None:
    files = render_project(
        ir(
            SPEC.replace(
                "events: [created, updated, deleted]", "feed: false\n    events: [created]"
            )
        )
    )
    assert "shelf/core/feed.py" not in files and "tests/test_feed.py" not in files
    assert "feed" not in files["shelf/main.py"] and "feed" not in files["shelf/serve.py"]
    assert "shelf/events/asyncapi.py" in files  # the events still are


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feed")
    (root / "shelf.yaml").write_text(SPEC)
    assert main(["generate", str(root / "shelf.yaml"), "-o", str(root / "shelf")]) == 0
    return root / "shelf"


def test_the_asyncapi_document_is_valid_asyncapi_3(shelf: Path) -> None:
    document = json.loads((shelf / "asyncapi.json").read_text("utf-8"))
    assert SCHEMA.is_file(), f"{SCHEMA} is missing: run scripts/test.sh, which installs it"
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text("utf-8")))
    assert [error.message for error in validator.iter_errors(document)] == []
    broken = {**document, "channels": {"x": {"address": 7}}}
    assert list(validator.iter_errors(broken))  # the schema does catch mistakes
    types = ["author.created", "book.created", "book.updated", "book.deleted"]
    channels = document["channels"]
    assert sorted(c["address"] for c in channels.values()) == sorted(
        types + [f"shelf.events.{t}" for t in types]
    )
    rabbit = channels["rabbitmq_book_updated"]["bindings"]["amqp"]
    assert (rabbit["is"], rabbit["exchange"]["name"]) == ("routingKey", "shelf.events")
    assert {s["protocol"] for s in document["servers"].values()} == {"amqp", "nats"}
    event = document["components"]["schemas"]["BookUpdatedEvent"]
    assert event["properties"]["type"]["const"] == "book.updated"
    after = event["properties"]["data"]["properties"]["after"]
    assert {"$ref": "#/components/schemas/BookRecord"} in after["anyOf"]
    record = document["components"]["schemas"]["BookRecord"]["properties"]
    assert "code" not in record  # write-only: never in an event
    assert {"id", "title", "author", "created_at", "version"} <= set(record)
    text = json.dumps(document)
    for ref in re.findall(r'"\$ref": "#/([^"]+)"', text):  # every reference resolves
        node = document
        for part in ref.split("/"):
            node = node[part]
    readme = (shelf / "README.md").read_text("utf-8")
    assert "asyncapi.json" in readme and "/books/events" in readme


def test_the_asyncapi_document_is_deterministic(shelf: Path) -> None:
    before = (shelf / "asyncapi.json").read_bytes()
    spec = shelf.parent / "shelf.yaml"
    assert main(["generate", str(spec), "-o", str(shelf)]) == 0
    assert (shelf / "asyncapi.json").read_bytes() == before
