"""Rate limits hold across processes: two servers of one generated project share Redis counters.

A small project with `limits: {anonymous: 20/minute}` is generated and migrated into one SQLite
file; two server processes start on loopback with the same REDIS_URL and a key prefix unique to
this run. 30 requests alternate between them: exactly 20 succeed and 10 are 429 with
Retry-After, whichever process answers. The run's keys are deleted afterwards.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from backforge.generate import generate
from backforge.verify.context import VerifyContext
from backforge.verify.environment import ensure_env
from backforge.verify.proc import run
from backforge.verify.project import load_project
from backforge.verify.server import launch, wait_ready

pytestmark = pytest.mark.e2e

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 9
SPEC = """
service: {name: throttled, version: 1.0.0}
limits: {anonymous: 20/minute}
resources:
  Note:
    fields:
      title: {type: string, max_length: 80, required: true}
"""


def redis_command(*args: str) -> object:
    """One command over RESP on REDIS_DB; the reply (ints, strings, lists of strings)."""
    with socket.create_connection(REDIS, timeout=2) as sock:
        stream = sock.makefile("rwb")
        for command in (("SELECT", str(REDIS_DB)), args):
            stream.write(f"*{len(command)}\r\n".encode())
            for part in command:
                data = part.encode()
                stream.write(b"$%d\r\n%s\r\n" % (len(data), data))
        stream.flush()
        _reply(stream)  # SELECT's OK
        return _reply(stream)


def _reply(stream) -> object:  # type: ignore[no-untyped-def]
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else stream.read(size + 2)[:-2].decode()
    if kind == b"*":
        return [_reply(stream) for _ in range(max(int(rest), 0))]
    raise ValueError(line)


def redis_up() -> bool:
    try:
        return redis_command("PING") == "PONG"
    except OSError:
        return False


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"bf-test-{secrets.token_hex(6)}"
    yield name
    keys = redis_command("KEYS", f"*{name}*")
    if isinstance(keys, list) and keys:
        redis_command("DEL", *[str(k) for k in keys])


def test_two_processes_share_one_limit(tmp_path: Path, prefix: str) -> None:
    assert redis_up(), "no Redis on 127.0.0.1:6379 (.ci/run starts one)"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    root = generate(spec, tmp_path / "throttled").directory
    with ExitStack() as stack, tempfile.TemporaryDirectory() as work:
        ctx = VerifyContext(project=load_project(root), workdir=Path(work), stack=stack)
        ctx.env = ensure_env(root)
        database = f"sqlite+aiosqlite:///{Path(work) / 'shared.db'}"
        environ = ctx.env.environ(
            {
                "DATABASE_URL": database,
                "REDIS_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}",
                "RATE_LIMIT_PREFIX": prefix,
            }
        )
        migrate = run(
            [ctx.env.python, "-m", "alembic", "upgrade", "head"], cwd=root, env=environ, timeout=120
        )
        assert migrate.ok, migrate.describe()
        servers = []
        for label in ("one", "two"):
            server = launch(ctx, environ, label)
            stack.callback(server.stop)
            assert not wait_ready(server, time.monotonic(), {}), server.log_tail()
            servers.append(server)
        answers = []
        with httpx.Client(timeout=5, trust_env=False) as client:
            for index in range(30):
                url = servers[index % 2].url
                answers.append(client.get(f"{url}/api/v1/notes"))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 20, statuses
    assert statuses.count(429) == 10, statuses
    assert statuses[:20] == [200] * 20
    for refused in answers[20:]:
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["ratelimit-remaining"] == "0"
    assert {a.headers["ratelimit-limit"] for a in answers} == {"20"}
    remaining = [int(a.headers["ratelimit-remaining"]) for a in answers[:20]]
    assert remaining == list(range(19, -1, -1))  # one budget, counted down by both processes
    assert redis_command("KEYS", f"*{prefix}*"), "the counters were not in Redis"


PROBE = """
import asyncio, sys
from throttled.core.ratelimit import RateLimiter

class Settings:
    rate_limit_enabled = True
    rate_limit_anonymous = rate_limit_authenticated = "3/minute"
    rate_limit_prefix, redis_url = sys.argv[1], sys.argv[2]

async def main():
    limiter = RateLimiter(Settings())
    batches = []  # hits per pipeline sent to Redis
    evaluate = limiter._evaluate
    async def counted(hits):
        batches.append(len(hits))
        return await evaluate(hits)
    limiter._evaluate = counted
    one = limiter.anonymous
    alone = [await limiter.count(one, "ip:alone") for _ in range(4)]
    together = await asyncio.gather(*(limiter.count(one, "ip:together") for _ in range(5)))
    await limiter.close()
    print(alone, sorted(together), batches)

asyncio.run(main())
"""


def test_a_request_costs_one_round_trip(tmp_path: Path, prefix: str) -> None:
    """The moving window counts a hit and answers its headers' figures in one command; the
    hits of one turn of the event loop share one script call."""
    assert redis_up(), "no Redis on 127.0.0.1:6379 (.ci/run starts one)"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    root = generate(spec, tmp_path / "throttled").directory
    env = ensure_env(root)
    redis_url = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
    probe = run(
        [env.python, "-c", PROBE, prefix, redis_url], cwd=root, env=env.environ({}), timeout=60
    )
    assert probe.ok, probe.describe()
    last = probe.output.strip().splitlines()[-1]
    # 3 a minute: three pass, then refused (a refusal is not counted); a request alone is sent
    # alone, the requests of one turn of the event loop together: a round trip each at most
    assert last == (
        "[(True, 2, 60), (True, 1, 60), (True, 0, 60), (False, 0, 60)] "
        "[(False, 0, 60), (False, 0, 60), (True, 0, 60), (True, 1, 60), (True, 2, 60)] "
        "[1, 1, 1, 1, 5]"
    ), last


AHEAD = """
import asyncio, sys
from throttled.core.ratelimit import RateLimiter

class Settings:
    rate_limit_enabled = True
    rate_limit_anonymous = rate_limit_authenticated = "200/minute"
    rate_limit_prefix, redis_url = sys.argv[1], sys.argv[2]

async def main():
    one, two = RateLimiter(Settings()), RateLimiter(Settings())
    item = one.anonymous

    def hit(limiter, key):  # as the middleware counts a request
        return limiter.count(item, key, ahead=True)

    # hit() limits (and sign-in's) are never answered ahead of Redis
    await one.count(item, "ip:hit", local_fallback=True)
    assert not one.known.pending and not one.known.remaining
    alone = [await hit(one, "ip:alone") for _ in range(230)]
    # two processes, one caller: their hits interleaved, many in flight at once
    shared = await asyncio.gather(
        *(hit(limiter, "ip:shared") for _ in range(150) for limiter in (one, two))
    )
    # one of them last heard of the caller before the other's hits were counted: it answers
    # a few ahead that Redis then refuses (the overshoot), then learns
    more = [await hit(limiter, "ip:shared") for limiter in (one, two) for _ in range(15)]
    await asyncio.sleep(0.1)  # the hits answered ahead reach Redis, and their answers come back
    last = [await hit(limiter, "ip:shared") for limiter in (one, two) for _ in range(5)]
    for limiter in (one, two):
        await limiter.close()
    print(sum(a for a, _, _ in alone), [r for _, r, _ in alone[:201]] == [*range(199, -1, -1), 0])
    print(*(sum(a for a, _, _ in hits) for hits in (shared, more, last)))

asyncio.run(main())
"""


def test_hits_answered_ahead_of_redis_stay_within_the_documented_bound(
    tmp_path: Path, prefix: str
) -> None:
    """200 a minute (at least FAST_MINIMUM): most hits are answered before Redis counts them.
    One process alone is exact (200 allowed, Remaining counted down by one); two sharing a
    caller allow at most 1/20 of the limit each beyond it, and refuse once Redis says so."""
    assert redis_up(), "no Redis on 127.0.0.1:6379 (.ci/run starts one)"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    root = generate(spec, tmp_path / "throttled").directory
    env = ensure_env(root)
    redis_url = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
    probe = run(
        [env.python, "-c", AHEAD, prefix, redis_url], cwd=root, env=env.environ({}), timeout=60
    )
    assert probe.ok, probe.describe()
    alone, shared = probe.output.strip().splitlines()[-2:]
    assert alone == "200 True"
    allowed, more, last = map(int, shared.split())
    assert allowed == 200  # every hit of the first burst waited for Redis but 2 * 10
    assert allowed + more <= 200 + 2 * (200 // 20), more
    assert last == 0
