"""Targets: the text one framework writes for the target-neutral IR.

``fastapi`` turns field values into the Python of Pydantic schemas, ``sqlalchemy`` into column
types, defaults and checks of models and migrations, ``factories`` into the generated tests'
value factories. The templates reach them as Jinja filters (``FILTERS``).
"""

from __future__ import annotations

from typing import Any

from backforge.targets import factories, fastapi, sqlalchemy

FILTERS: dict[str, Any] = {
    "alias": fastapi.alias,
    "alias_def": fastapi.alias_def,
    "alias_class": fastapi.class_part,
    "schema_type": fastapi.schema_type,
    "query_type": fastapi.query_type,
    "read_type": fastapi.read_type,
    "mapped_type": fastapi.mapped_type,
    "param_type": fastapi.param_type,
    "pattern_constant": fastapi.pattern_constant,
    "body_decimal_pattern": fastapi.body_decimal_pattern,
    "filter_decimal_pattern": fastapi.filter_decimal_pattern,
    "pyvalue": fastapi.python_value,
    "factory": factories.factory,
    "key_of": factories.key_of,
    "collection": factories.collection,
    "bad_keys": factories.bad_keys,
    "migration_type": sqlalchemy.migration_type,
    "column_args": sqlalchemy.column_args,
    "column_default": sqlalchemy.column_default,
    "field_check": sqlalchemy.field_check,
}
