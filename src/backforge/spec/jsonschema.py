"""The JSON Schema (draft 2020-12) of the spec language, for editors and other tools.

It is derived from the pydantic model, plus what the model learns only while loading: the field
shorthand (``bio: text``) and the naming rules of resources and fields. The semantic checks
(references, clashes, contradictions) stay with ``backforge validate``.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from backforge.names import AUTOMATIC_FIELDS, FIELD_NAME, MAX_FIELD_NAME, RESOURCE_NAME
from backforge.spec.checks import MAX_SUBSCRIPTION, SUBSCRIPTION_NAME
from backforge.spec.model import FieldTypeName, ServiceSpec

SCHEMA_ID = "https://backforge.dev/schema/spec.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema() -> dict[str, Any]:
    schema = ServiceSpec.model_json_schema()
    resources = schema["properties"]["resources"]
    resources["propertyNames"] = {"pattern": RESOURCE_NAME.pattern}
    fields = schema["$defs"]["ResourceSpec"]["properties"]["fields"]
    fields["propertyNames"] = {
        "pattern": FIELD_NAME.pattern,
        "maxLength": MAX_FIELD_NAME,
        "not": {"enum": list(AUTOMATIC_FIELDS)},
    }
    fields["additionalProperties"] = _field_or_shorthand()
    schema["properties"]["consumes"]["propertyNames"] = {
        "pattern": SUBSCRIPTION_NAME.pattern,
        "maxLength": MAX_SUBSCRIPTION,
    }
    profile = schema["$defs"]["ProfileSpec"]["properties"]["fields"]
    profile["additionalProperties"] = _field_or_shorthand()
    profile["propertyNames"] = {"pattern": FIELD_NAME.pattern, "maxLength": MAX_FIELD_NAME}
    action = schema["$defs"]["ActionSpec"]["properties"]
    for group in ("input", "output"):
        action[group]["additionalProperties"] = _field_or_shorthand()
        action[group]["propertyNames"] = {"pattern": FIELD_NAME.pattern}
    return {
        **schema,
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "backforge service spec",
    }


def _field_or_shorthand() -> dict[str, Any]:
    return {
        "anyOf": [
            {
                "type": "string",
                "enum": list(get_args(FieldTypeName)),
                "description": "Shorthand: just the type, every option at its default.",
            },
            {"$ref": "#/$defs/FieldSpec"},
        ]
    }


def schema_text() -> str:
    """The schema as published in docs/spec.schema.json (and printed by `backforge schema`)."""
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
