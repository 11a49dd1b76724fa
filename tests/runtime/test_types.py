"""core/types.py: a URL key refuses the paths its collection's own routes answer."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError
from svc.core.types import NotReserved

Key = TypeAdapter(Annotated[str, Field(max_length=40), NotReserved("events", "following")])


@pytest.mark.parametrize("value", ["events", "following"])
def test_a_path_of_the_collection_is_refused_naming_what_is_taken(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Key.validate_python(value)
    assert "events, following" in str(refused.value)


@pytest.mark.parametrize("value", ["event", "following-2", "Events", "ada"])
def test_any_other_key_passes_as_it_is(value: str) -> None:
    assert Key.validate_python(value) == value


def test_the_json_schema_says_which_values_are_taken() -> None:
    schema = Key.json_schema()
    assert schema["not"] == {"enum": ["events", "following"]}
    assert schema["maxLength"] == 40
