"""Against a running generated service (examples/bookclub.yaml, over HTTP on loopback): one
account cannot read, change or delete another's owned records by id; tokens signed with another
key or with `alg: none` are refused; a reused refresh token revokes its whole family."""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from live_service import Live, run_in, serve

from backforge.generate import generate

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
API = "/api/v1"
PASSWORD = "a long and private passphrase"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    work = tmp_path_factory.mktemp("auth-e2e")
    project = generate(EXAMPLES / "bookclub.yaml", work / "bookclub").directory
    environ = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bookclub.db'}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ENVIRONMENT": "production",
        "METRICS_TOKEN": secrets.token_urlsafe(48),  # production refuses /metrics open
        # every test here calls from 127.0.0.1: room for all of them in the address's budget
        "RATE_LIMIT_ANONYMOUS": "100000/minute",
        "RATE_LIMIT_AUTHENTICATED": "100000/minute",
        "LOGIN_RATE_LIMIT": "1000/minute",  # the generated tests check this limit
    }
    run_in(project, ["-m", "alembic", "upgrade", "head"], environ)
    admin = {**environ, "ADMIN_PASSWORD": PASSWORD}
    run_in(project, ["-m", "bookclub.auth.bootstrap", "root@example.com"], admin)
    with serve(project, "bookclub", environ, work / "server.log") as running:
        yield running


def http(live: Live, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=live.url + API, headers=headers, timeout=30, trust_env=False)


def sign_in(live: Live, email: str) -> dict[str, Any]:
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    with http(live) as client:
        response = client.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return response.json()


def member(live: Live, name: str) -> dict[str, Any]:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    with http(live) as client:
        created = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return {**created.json(), **sign_in(live, email)}


def an_author(live: Live) -> int:
    with http(live, sign_in(live, "root@example.com")["access_token"]) as admin:
        response = admin.post("/authors", json={"name": "Ursula K. Le Guin"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_nobody_touches_another_accounts_records(live: Live) -> None:
    alice, bob = member(live, "alice"), member(live, "bob")
    author = an_author(live)
    with http(live, alice["access_token"]) as as_alice, http(live, bob["access_token"]) as as_bob:
        book = as_alice.post("/books", json={"title": "The Dispossessed", "author": author})
        assert book.status_code == 201 and book.json()["owner"] == alice["id"]
        book_id = book.json()["id"]
        review = as_alice.post("/reviews", json={"book": book_id, "rating": 5, "body": "mine"})
        assert review.status_code == 201, review.text
        review_id = review.json()["id"]
        url = f"/reviews/{review_id}"
        replacement = {"book": book_id, "rating": 1, "body": "bob was here"}
        # a review is readable by its owner only: to bob it does not exist
        assert as_bob.get(url).status_code == 404
        assert as_bob.put(url, json=replacement).status_code == 404
        assert as_bob.patch(url, json={"rating": 1}).status_code == 404
        assert as_bob.delete(url).status_code == 404
        assert review_id not in [r["id"] for r in as_bob.get("/reviews").json()["items"]]
        # a book is public, but only its owner (or an admin) may change it
        assert as_bob.get(f"/books/{book_id}").status_code == 200
        assert as_bob.patch(f"/books/{book_id}", json={"title": "Mine now"}).status_code == 403
        assert as_bob.delete(f"/books/{book_id}").status_code == 403
        # nothing changed
        kept = as_alice.get(url).json()
        assert (kept["rating"], kept["body"], kept["version"]) == (5, "mine", 1)
        assert as_alice.get(f"/books/{book_id}").json()["title"] == "The Dispossessed"
        assert [r["id"] for r in as_alice.get("/reviews").json()["items"]] == [review_id]
        # and the owner comes from the token, never from the body
        forged = as_bob.post("/reviews", json={"book": book_id, "rating": 2, "owner": alice["id"]})
        assert forged.status_code == 422


def _forged(claims: dict[str, Any], how: str) -> str:
    if how == "other key":
        return jwt.encode(
            claims, "somebody-else's-key-" + "x" * 32, algorithm="HS256", headers={"kid": "1"}
        )

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': '1'})}.{part(claims)}."


@pytest.mark.parametrize("how", ["other key", "alg none"])
def test_forged_tokens_are_refused(live: Live, how: str) -> None:
    alice = member(live, "alice")
    real = jwt.decode(alice["access_token"], options={"verify_signature": False})
    now = int(time.time())
    claims = {**real, "role": "admin", "iat": now, "nbf": now, "exp": now + 600}
    with http(live, _forged(claims, how)) as forged:
        me = forged.get("/auth/me")
        assert me.status_code == 401
        assert me.headers["www-authenticate"].startswith("Bearer")
        assert me.headers["content-type"] == "application/problem+json"
        assert forged.get("/users").status_code == 401
        assert forged.post("/authors", json={"name": "Forged"}).status_code == 401
    with http(live, alice["access_token"]) as genuine:
        assert genuine.get("/auth/me").json()["role"] == "member"


def test_refresh_token_reuse_revokes_the_family(live: Live) -> None:
    alice = member(live, "alice")
    with http(live) as anonymous:
        first = alice["refresh_token"]
        rotated = anonymous.post("/auth/refresh", json={"refresh_token": first})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["refresh_token"]
        assert second != first
        assert anonymous.post("/auth/refresh", json={"refresh_token": first}).status_code == 401
        # the thief's reuse also ends the legitimate chain
        assert anonymous.post("/auth/refresh", json={"refresh_token": second}).status_code == 401
    with http(live, rotated.json()["access_token"]) as revoked:
        assert revoked.get("/auth/me").status_code == 401  # the family's access tokens end too


def test_unknown_account_and_wrong_password_take_alike(live: Live) -> None:
    """Both do one argon2id verification (production cost): timing does not tell accounts apart.
    Without the decoy hash an unknown account would answer ~100 times faster."""
    alice = member(live, "alice")

    def timed(username: str) -> float:
        form = {"grant_type": "password", "username": username, "password": "wrong password!"}
        with http(live) as client:
            started = time.perf_counter()
            assert client.post("/auth/token", data=form).status_code == 401
            return time.perf_counter() - started

    wrong, unknown = [], []
    for i in range(9):  # interleaved, so that the machine's noise hits both alike
        wrong.append(timed(alice["email"]))
        unknown.append(timed(f"nobody-{i}@example.com"))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    print(
        f"median sign-in refusal: wrong password {statistics.median(wrong) * 1000:.1f} ms, "
        f"unknown account {statistics.median(unknown) * 1000:.1f} ms (ratio {ratio:.2f})"
    )
    assert 0.25 < ratio < 4.0  # without the decoy it is about 0.01
