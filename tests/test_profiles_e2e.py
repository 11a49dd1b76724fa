"""Profiles end to end (tests/specs/profiles.yaml): profile fields on accounts, public profiles,
follows, articles showing their author's profile, a `following` view, JSON sign-in and the
Token scheme, camelCase on the wire and offset paging. Generated and verified in full (lint,
the generated tests with their coverage gate, migrations, the contract fuzzed by
schemathesis, load): COMPLETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "profiles.yaml"


def test_profiles_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "blog"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    migration = next((out / "migrations" / "versions").glob("0001_*.py")).read_text()
    assert '"account_follows"' in migration and '"username"' in migration

    openapi = json.loads((out / "openapi.json").read_text())
    paths = openapi["paths"]
    follow = paths["/api/v1/profiles/{username}/follow"]
    assert {"put", "delete"} <= set(follow)
    assert {"200", "401", "404"} <= set(follow["put"]["responses"])
    assert "get" in paths["/api/v1/profiles/{username}"]
    assert "patch" in paths["/api/v1/auth/me"] and "post" in paths["/api/v1/auth/login"]
    assert "get" in paths["/api/v1/articles/following"]
    profile = openapi["components"]["schemas"]["ProfileRead"]["properties"]
    assert {"username", "bio", "image", "followersCount", "following"} <= set(profile)
    assert "email" not in profile
    read = openapi["components"]["schemas"]["ArticleRead"]["properties"]
    assert "author" in read
    listing = paths["/api/v1/articles"]["get"]["parameters"]
    assert "author" in {p["name"] for p in listing}
    assert "Token" in openapi["components"]["securitySchemes"]

    tests = verified_complete(out)
    assert tests["modules"]["tests/test_profiles.py"]["passed"] >= 12
