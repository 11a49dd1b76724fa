"""Credentials for checks that call a service with accounts: a bootstrapped admin's token.

A project generated with `auth` refuses anonymous callers on most operations, so contract
fuzzing and the load test act as its admin role (which may do everything): the account is made
by the project's own bootstrap command and signs in through the real token endpoint.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx

from backforge.verify.proc import run

ADMIN_EMAIL = "verify-admin@backforge.dev"


def has_accounts(root: Path, package: str) -> bool:
    return (root / package / "auth" / "bootstrap.py").is_file()


def auth_environ(root: Path, package: str) -> dict[str, str]:
    """A signing key for this run (the service runs as it would in production)."""
    return {"JWT_SECRET": secrets.token_urlsafe(48)} if has_accounts(root, package) else {}


def bootstrap_admin(python: Path, root: Path, package: str, environ: dict[str, str]) -> str:
    """Create the admin account with the project's own command; returns its password."""
    password = secrets.token_urlsafe(24)
    done = run(
        [str(python), "-m", f"{package}.auth.bootstrap", ADMIN_EMAIL],
        cwd=root,
        env={**environ, "ADMIN_PASSWORD": password},
        timeout=120,
    )
    if not done.ok:
        raise RuntimeError(f"the bootstrap command failed\n{done.describe(10)}")
    return password


def sign_in(url: str, token_path: str, password: str) -> dict[str, Any]:
    form = {"grant_type": "password", "username": ADMIN_EMAIL, "password": password}
    response = httpx.post(f"{url}{token_path}", data=form, timeout=30, trust_env=False)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
