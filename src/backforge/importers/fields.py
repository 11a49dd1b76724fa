"""One property of a contract's schema as a field of the spec: its type and constraints, and
what differs when the language cannot say exactly what the contract says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backforge.importers.contract import Contract, Schema
from backforge.names import FIELD_NAME, identifier

AUTOMATIC = {"id": "integer", "created_at": "string", "updated_at": "string", "version": "integer"}
STRING_FORMATS = {
    "date": "date",
    "date-time": "datetime",
    "time": "time",
    "email": "email",
    "uuid": "uuid",
    "uri": "url",
    "url": "url",
}
LONGEST_STRING = 2000  # a longer maxLength, or none, is a `text` field
INT32 = (-(2**31), 2**31 - 1)
SAFE_INTEGER = 2**53 - 1


@dataclass
class Mapped:
    name: str
    body: dict[str, Any]
    change: str = ""  # what differs from the contract, empty when nothing does
    automatic: bool = False
    nullable: bool = False  # the contract allows null


class FieldMapper:
    def __init__(self, contract: Contract, resources: set[str]) -> None:
        self.contract = contract
        self.resources = resources

    def field(self, owner: Schema, prop: str) -> Mapped:
        schema = self.contract.property(owner, prop)
        name = prop if FIELD_NAME.match(prop) else identifier(prop)
        if name in AUTOMATIC:
            kind = schema.type
            change = "" if kind in (AUTOMATIC[name], None) else f"{name} is an {AUTOMATIC[name]}"
            return Mapped(name, {}, change, automatic=True)
        body, change = self._body(schema)
        if isinstance(schema.data.get("description"), str):
            body["description"] = " ".join(schema.data["description"].split())
        if schema.data.get("readOnly") is True:
            body["read_only"] = True
        if schema.data.get("writeOnly") is True:
            body["write_only"] = True
        return Mapped(name, body, change, nullable=schema.nullable)

    def _body(self, schema: Schema) -> tuple[dict[str, Any], str]:
        kind = schema.type
        data = schema.data
        if "enum" in data:
            return self._enum(schema)
        if kind == "string":
            return self._string(schema)
        if kind == "integer":
            return self._integer(data)
        if kind == "number":
            body: dict[str, Any] = {"type": "float"}
            body.update(_bounds(data, float))
            return body, ""
        if kind == "boolean":
            return {"type": "bool"}, ""
        if kind == "array":
            return {"type": "json"}, "a list, stored as JSON: its items are not checked"
        for choice in ("oneOf", "anyOf"):
            if isinstance(data.get(choice), list):
                count = len(data[choice])
                return {"type": "json"}, f"{choice} of {count} schemas: stored as JSON, not checked"
        if kind == "object" or schema.properties:
            what = f"a {schema.name}" if schema.name else "an object"
            return {"type": "json"}, f"{what}, stored as JSON: its members are not checked"
        return {"type": "json"}, "no type in the contract: any JSON value is accepted"

    def _string(self, schema: Schema) -> tuple[dict[str, Any], str]:
        data = schema.data
        fmt = data.get("format")
        if fmt in STRING_FORMATS:
            body: dict[str, Any] = {"type": STRING_FORMATS[fmt]}
            if body["type"] in ("email", "url") and isinstance(data.get("maxLength"), int):
                body["max_length"] = data["maxLength"]
            return body, ""
        longest = data.get("maxLength")
        body = {
            "type": "string" if isinstance(longest, int) and longest <= LONGEST_STRING else "text"
        }
        if isinstance(longest, int) and longest >= 1:
            body["max_length"] = longest
        shortest = data.get("minLength")
        if isinstance(shortest, int) and shortest >= 1:
            body["min_length"] = shortest
        if isinstance(data.get("pattern"), str):
            body["pattern"] = data["pattern"]
        default = data.get("default")
        if isinstance(default, str) and len(default) <= (longest or LONGEST_STRING):
            body["default"] = default
        return body, ""

    def _integer(self, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        bounds = _bounds(data, int)
        wide = data.get("format") == "int64" or any(
            not INT32[0] <= v <= INT32[1] for v in bounds.values()
        )
        body: dict[str, Any] = {"type": "bigint" if wide else "int", **bounds}
        change = ""
        if wide:
            for key, limit in (("min", -SAFE_INTEGER), ("max", SAFE_INTEGER)):
                value = body.get(key)
                if isinstance(value, int) and abs(value) > SAFE_INTEGER:
                    body[key] = limit
                    change = "64-bit integers are kept to ±(2^53 - 1), what JSON reads exactly"
        if isinstance(data.get("default"), int) and not isinstance(data["default"], bool):
            body["default"] = data["default"]
        return body, change

    def _enum(self, schema: Schema) -> tuple[dict[str, Any], str]:
        values = schema.data["enum"]
        words = [v for v in values if v is not None]
        if words and all(isinstance(v, str) and v and identifier(v) == v for v in words):
            body: dict[str, Any] = {"type": "enum", "values": list(dict.fromkeys(words))}
            if schema.data.get("default") in words:
                body["default"] = schema.data["default"]
            return body, ""
        if words and all(isinstance(v, str) for v in words):
            longest = max(len(v) for v in words)
            return (
                {"type": "string", "max_length": max(longest, 1)},
                f"one of {words}: enum values are lowercase identifiers, kept as text",
            )
        return {"type": "json"}, f"one of {words}: stored as JSON"


def _bounds(data: dict[str, Any], kind: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, exclusive, step in (
        ("minimum", "exclusiveMinimum", 1),
        ("maximum", "exclusiveMaximum", -1),
    ):
        value = data.get(key)
        if isinstance(data.get(exclusive), int | float) and not isinstance(data[exclusive], bool):
            value = data[exclusive] + (step if kind is int else 0)
        elif data.get(exclusive) is True and isinstance(value, int | float) and kind is int:
            value = value + step
        if isinstance(value, int | float) and not isinstance(value, bool):
            found["min" if key == "minimum" else "max"] = kind(value)
    return found
