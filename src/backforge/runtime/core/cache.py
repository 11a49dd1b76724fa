"""Read-through cache of the GETs of the resources the spec caches (`cache: {ttl}`): a record by
its URL key and a page of a list, as the JSON the route sends.

Where: in process (L1, cashews' memory backend, at most CACHE_MEMORY_ITEMS entries) and, when
REDIS_URL is set, in Redis (L2, shared by every process, keys under CACHE_PREFIX). An entry
lives at most the resource's TTL.

Never wrong after a commit: every key carries the generations (random tokens) of its tags
(the resource ``R``, a record ``R:item:<key>``, its lists ``R:lists``). A write gives its tags
new generations after its commit (one round trip), before it answers; a load that raced the
commit stores its answer under the old generations, which nothing reads any more. A delete
also bumps the cached resources it reaches (cascades, set null, link rows: the service's
`cache_dependents`). Generations live in Redis when REDIS_URL is set (shared), else in the process.

Who may read what is checked on every read, hit or miss: an entry keeps the record's owner;
a list a caller sees only part of (its own records) is keyed per caller.

Redis down (an error, or no answer within REDIS_TIMEOUT): reads go to the database, a warning
is logged and `cache_redis_errors_total` counts it; for CIRCUIT_SECONDS after an error the
cache is not tried. The memory cache is cleared when Redis fails, and the bumps Redis did not
take are done before this process reads from the cache again; a process that ends before
Redis is back leaves entries at most their TTL stale.

One loader per key per process: concurrent misses of a key wait for the first one's load.

Generations without a round trip (`Subscriber`, REDIS_URL redis://host:port only; rediss:// and
unix sockets always ask Redis): a write sets its tags' generations AND publishes them on the
channel ``<CACHE_PREFIX>:cache:generations`` in one MULTI (one round trip, as before). Each
process subscribes to that channel on a connection of its own and keeps the generations it has
seen (at most CACHE_MEMORY_ITEMS tags, least recently read dropped first). A read uses them
without asking Redis when it knows every tag, the subscription is confirmed, and Redis was heard
from (a message or the answer to a PING sent every PING_SECONDS) within SILENT_SECONDS; else it
asks Redis (MGET) as without a subscription, and keeps the answer only if no message arrived
and the subscription did not change while it was asked. Any error of the subscription forgets
every generation kept and reconnects with backoff; until it is confirmed again, reads ask Redis.

Before it uses what it keeps, a read applies every message that has reached this process's
socket: it reads the subscription's non-blocking socket itself, synchronously (one recv that
usually answers EAGAIN). redis-py's asyncio PubSub cannot be used for that: it only sees what
the event loop has already moved into its StreamReader, so a read could run before the loop
reads a message that arrived before the request did. Hence the small RESP reader here
(`RespReader`: the replies a subscription gets, nothing more).

What this guarantees: Redis queues the message for every subscriber while it runs the write's
MULTI, before the writer's answer, and writes both out in the same turn of its event loop; a
process reads the new generations once that message has reached its socket. On one host that is
in practice before the writer's client can hold its answer (loopback delivers into the receiving
socket as Redis writes); across hosts it is microseconds after the writer's answer leaves Redis
(the network's delay to that host), so a read arriving elsewhere within that delay may still be
answered from before the write. A process that stops hearing from Redis (a silent network) uses
what it keeps for at most SILENT_SECONDS. A process's own reads never miss its own writes: a
write forgets its tags locally once Redis has taken it, and the next read asks Redis.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import socket
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast
from urllib.parse import unquote, urlsplit

import pydantic_core
from prometheus_client import Counter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from .schemas import _next_link
from .service import CrudService, Scope
from .settings import get_settings

if TYPE_CHECKING:  # imported when a cache is made: importing redis loads OpenTelemetry's SDK
    from cashews import Cache
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5  # seconds for a Redis connection or answer
CIRCUIT_SECONDS = 1.0  # after a Redis error, reads skip the cache this long
GENERATION_SECONDS = 86400 + 60  # longer than the longest TTL a spec may give (a day)
CACHE_HEADER = "X-Cache"  # hit or miss, outside production
PING_SECONDS = 0.5  # the subscription is pinged this often
SILENT_SECONDS = 2.0  # a subscription not heard from this long is not trusted (and is replaced)
RECONNECT_SECONDS = (0.1, 5.0)  # first and longest wait before subscribing again

CACHE_READS = Counter(
    "cache_reads_total",
    "Cached GETs by result: hit, miss, or bypass (the cache could not be asked).",
    ["result"],
)
CACHE_INVALIDATIONS = Counter(
    "cache_invalidations_total", "Tag generations bumped by writes (each tag counts one)."
)
CACHE_GENERATIONS = Counter(
    "cache_generation_reads_total",
    "Where reads found their tags' generations: kept (heard on the subscription) or asked (MGET).",
    ["source"],
)
KEPT, ASKED = CACHE_GENERATIONS.labels("kept"), CACHE_GENERATIONS.labels("asked")
CACHE_REDIS_ERRORS = Counter(
    "cache_redis_errors_total", "Redis errors and timeouts of the cache (answered from the DB)."
)


class CacheSettings(Protocol):
    """The settings of the cache (core/settings.py has them all)."""

    @property
    def environment(self) -> str: ...

    @property
    def redis_url(self) -> str | None: ...

    @property
    def cache_memory_items(self) -> int: ...

    @property
    def cache_prefix(self) -> str: ...


@dataclass(frozen=True)
class Entry:
    """One cached answer: the JSON body and, for a record, its version (the ETag), id and
    owner (None: nobody's, or not owned)."""

    body: bytes
    version: int | None = None
    id: Any = None
    owner: int | None = None
    expires: float = 0.0  # wall-clock time after which it is not served
    page: dict[str, Any] | None = None  # a bare array's page: what its headers say


class RespError(Exception):
    """An error reply of Redis, or a reply the subscription does not expect."""


class RespReader:
    """Replies of the Redis protocol (RESP2) parsed out of bytes as they arrive: simple strings,
    errors, integers, bulk strings and arrays of them (what a subscription is sent)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def replies(self) -> list[Any]:
        """Every complete reply fed so far (an error reply comes back as a RespError)."""
        done: list[Any] = []
        position = 0
        while True:
            parsed = self._parse(position)
            if parsed is None:
                break
            reply, position = parsed
            done.append(reply)
        del self.buffer[:position]
        return done

    def _parse(self, position: int) -> tuple[Any, int] | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return None
        kind, line, after = buffer[position : position + 1], buffer[position + 1 : end], end + 2
        if kind == b"+":
            return line.decode(), after
        if kind == b"-":
            return RespError(line.decode()), after
        if kind == b":":
            return int(line), after
        if kind == b"$":
            size = int(line)
            if size < 0:
                return None, after
            if len(buffer) < after + size + 2:
                return None
            return bytes(buffer[after : after + size]), after + size + 2
        if kind == b"*":
            items: list[Any] = []
            for _ in range(max(int(line), 0)):
                parsed = self._parse(after)
                if parsed is None:
                    return None
                item, after = parsed
                items.append(item)
            return items, after
        raise RespError(f"unexpected reply from Redis: {bytes(buffer[position:end])!r}")


def command(*parts: str | bytes) -> bytes:
    """One command in the Redis protocol."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Subscriber:
    """The tag generations this process has seen, kept fresh by a subscription to the channel
    writes publish them on (see the module docstring)."""

    def __init__(self, url: str, channel: str, size: int) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "localhost", parts.port or 6379)
        self.login = [unquote(p) for p in (parts.username, parts.password) if p]
        self.channel = channel
        self.size = size
        self.tokens: OrderedDict[str, str] = OrderedDict()  # tag: generation, last read last
        self.epoch = 0  # +1 whenever the subscription starts or ends
        self.heard = 0  # +1 per message applied and per write of this process
        self.live = False  # subscribed, confirmed by Redis
        self.heard_at = 0.0  # when Redis last sent anything on it (monotonic)
        self.sock: socket.socket | None = None
        self.reader = RespReader()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    @staticmethod
    def supports(url: str) -> bool:
        """Whether ``url`` is one this subscriber connects to (plain TCP)."""
        return urlsplit(url).scheme == "redis"

    def start(self) -> bool:
        """Subscribe (in the background) on first use; whether it runs on the current loop."""
        loop = asyncio.get_running_loop()
        if self.task is None:
            self.loop = loop
            self.task = loop.create_task(self._run())
        return loop is self.loop

    def trusted(self) -> bool:
        return self.live and time.monotonic() - self.heard_at < SILENT_SECONDS

    def lookup(self, tags: list[str]) -> list[str] | None:
        """The generations of ``tags`` if all are kept and the subscription is trusted."""
        if not self.live:
            return None
        self.drain()
        if not self.trusted():
            return None
        tokens, kept = [], self.tokens
        for tag in tags:
            token = kept.get(tag)
            if token is None:
                return None
            kept.move_to_end(tag)
            tokens.append(token)
        return tokens

    def mark(self) -> tuple[int, int] | None:
        """Before asking Redis: what `learn` compares to (None: nothing will be kept)."""
        if not self.live:
            return None
        self.drain()
        return (self.epoch, self.heard) if self.live else None

    def learn(self, mark: tuple[int, int] | None, tags: list[str], tokens: list[str]) -> None:
        """Keep Redis's answer, unless a message arrived or the subscription changed since
        ``mark`` (the answer may then be older than what the messages said)."""
        if mark is None:
            return
        self.drain()
        if not self.live or (self.epoch, self.heard) != mark:
            return
        for tag, token in zip(tags, tokens, strict=True):
            self._keep(tag, token)

    def wrote(self, tags: list[str]) -> None:
        """This process's write changed ``tags`` in Redis: ask Redis for them next time."""
        self.heard += 1
        for tag in tags:
            self.tokens.pop(tag, None)

    def drain(self) -> None:
        """Apply every message that has reached the socket (never waits)."""
        sock = self.sock
        if sock is None:
            return
        received = False
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionResetError("Redis closed the subscription")
                self.reader.feed(data)
                received = True
                if len(data) < 65536:
                    break
        except BlockingIOError:
            pass
        except OSError as error:
            self._drop(error)
            return
        if received:
            self.heard_at = time.monotonic()
            try:
                for reply in self.reader.replies():
                    self._apply(reply)
            except (RespError, ValueError, UnicodeDecodeError) as error:
                self._drop(error)

    async def close(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        self._drop(None)

    def _apply(self, reply: Any) -> None:
        if isinstance(reply, RespError):
            raise reply
        if not isinstance(reply, list) or not reply:
            return  # +OK of AUTH
        kind = reply[0]
        if kind == b"message" and len(reply) == 3:
            for tag, token in json.loads(reply[2]).items():
                self._keep(tag, token)
            self.heard += 1
        elif kind == b"subscribe":
            self.live = True
            self.epoch += 1

    def _keep(self, tag: str, token: str) -> None:
        kept = self.tokens
        kept[tag] = token
        kept.move_to_end(tag)
        if len(kept) > self.size:
            kept.popitem(last=False)

    def _drop(self, error: BaseException | None) -> None:
        """Forget the subscription and every generation it kept."""
        sock, self.sock = self.sock, None
        if self.live and error is not None:
            logger.warning("cache: subscription to Redis lost, asking Redis: %r", error)
        self.live = False
        self.epoch += 1
        self.tokens.clear()
        self.reader = RespReader()
        if sock is not None:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.remove_reader(sock.fileno())
            sock.close()

    async def _run(self) -> None:
        """Subscribe, ping, and subscribe again (with backoff) when it fails or falls silent."""
        wait = RECONNECT_SECONDS[0]
        while True:
            if self.sock is None:
                try:
                    await self._connect()
                except Exception as error:  # refused, unresolvable, timed out: later again
                    logger.debug("cache: cannot subscribe to Redis: %r", error)
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, RECONNECT_SECONDS[1])
                    continue
            await asyncio.sleep(PING_SECONDS)
            self.drain()
            if self.sock is None:
                await asyncio.sleep(wait)
                wait = min(wait * 2, RECONNECT_SECONDS[1])
            elif time.monotonic() - self.heard_at > SILENT_SECONDS:
                self._drop(TimeoutError(f"Redis silent for {SILENT_SECONDS} s"))
            else:
                if self.live:
                    wait = RECONNECT_SECONDS[0]
                self._send(command("PING"))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.address
        family, kind, proto, _, address = (
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), REDIS_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        self.sock, self.heard_at = sock, time.monotonic()
        loop.add_reader(sock.fileno(), self.drain)
        login = command("AUTH", *self.login) if self.login else b""
        self._send(login + command("SUBSCRIBE", self.channel))

    def _send(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            if sock.send(data) != len(data):
                raise BlockingIOError("the subscription's socket is full")
        except OSError as error:
            self._drop(error)


class ReadCache:
    """The L1 and L2 caches of one process, and the generations of the tags."""

    redis: "Redis | None"  # generations, with REDIS_URL
    shared: "Cache | None"  # L2, with REDIS_URL

    def __init__(self, settings: CacheSettings) -> None:
        self.prefix = f"{settings.cache_prefix}:cache:"
        self.headers = settings.environment != "production"
        self.memory_items = settings.cache_memory_items
        self.memory = self._memory()
        self.redis = None
        self.shared = None
        self.subscriber: Subscriber | None = None  # generations without a round trip
        if settings.redis_url:
            from cashews import Cache
            from redis.asyncio import Redis

            url, wait = settings.redis_url, REDIS_TIMEOUT
            self.redis = Redis.from_url(url, socket_timeout=wait, socket_connect_timeout=wait)
            self.shared = Cache()
            self.shared.setup(url, suppress=False, socket_timeout=wait, socket_connect_timeout=wait)
            if Subscriber.supports(url):
                channel = f"{self.prefix}generations"
                self.subscriber = Subscriber(url, channel, settings.cache_memory_items)
        self.generations: dict[str, tuple[str, float]] = {}  # without Redis: token, when
        self.loading: dict[str, asyncio.Future[Entry | None]] = {}
        self.down_until = 0.0
        self.lost: set[str] = set()  # tags whose bump Redis did not take, done once it is back

    async def close(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.close()
        await self.memory.close()
        if self.shared is not None:
            with warnings.catch_warnings():  # cashews 7.6 closes its client with close()
                warnings.simplefilter("ignore", DeprecationWarning)
                await self.shared.close()
        if self.redis is not None:
            await self.redis.aclose()

    async def read(
        self, key: str, tags: list[str], ttl: int, load: Callable[[], Awaitable[Entry]]
    ) -> tuple[Entry, str]:
        """The entry of ``key`` and whether it was a hit, a miss or a bypass."""
        tokens = await self._tokens(tags)
        if tokens is None:
            CACHE_READS.labels("bypass").inc()
            return await load(), "bypass"
        full = f"{self.prefix}{key}@{'.'.join(tokens)}"
        entry = await self._lookup(full)
        if entry is not None:
            CACHE_READS.labels("hit").inc()
            return entry, "hit"
        CACHE_READS.labels("miss").inc()
        pending = self.loading.get(full)
        if pending is not None:  # another request loads it: its answer, then our own checks
            shared = await asyncio.shield(pending)
            return (shared if shared is not None else await load()), "miss"
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self.loading[full] = future
        loaded: Entry | None = None
        try:
            loaded = await load()
            loaded = replace(loaded, expires=time.time() + ttl)
            await self._store(full, loaded, ttl)
            return loaded, "miss"
        finally:
            del self.loading[full]
            future.set_result(loaded)  # None: it failed, the waiters load for themselves

    async def bump(self, tags: list[str]) -> None:
        """Invalidate every entry under ``tags``: each gets a new random generation (kept
        GENERATION_SECONDS: longer than any entry lives, so one that was dropped had no entry
        left under the generation before it)."""
        CACHE_INVALIDATIONS.inc(len(tags))
        if self.redis is None:
            now = time.monotonic()
            for tag in tags:
                self.generations[tag] = (secrets.token_hex(8), now)
            if len(self.generations) > self.memory_items:
                self._sweep(now)
            return
        if not await self._publish([*self.lost, *tags]):
            self.lost.update(tags)

    async def _publish(self, tags: list[str]) -> bool:
        """New generations for ``tags`` in Redis, in one round trip; on success the bumps lost
        while Redis was down are done too."""
        redis = self.redis
        if redis is None:
            return False
        tokens = {tag: secrets.token_hex(8) for tag in tags}
        try:  # one MULTI: the generations change and subscribers hear of it together
            async with redis.pipeline(transaction=True) as pipeline:
                for tag, token in tokens.items():
                    pipeline.set(self._generation(tag), token, ex=GENERATION_SECONDS)
                if self.subscriber is not None:
                    pipeline.publish(self.subscriber.channel, json.dumps(tokens))
                await pipeline.execute()
        except _redis_errors() as error:
            self._failed("invalidate", error)
            return False
        if self.subscriber is not None:
            self.subscriber.wrote(list(tokens))
        self.lost.clear()
        return True

    def _sweep(self, now: float) -> None:
        """Forget generations older than any entry can be (at most one sweep per entry kept)."""
        old = now - GENERATION_SECONDS
        for tag in [tag for tag, (_, when) in self.generations.items() if when < old]:
            del self.generations[tag]

    async def _tokens(self, tags: list[str]) -> list[str] | None:
        if self.redis is None:
            return [self.generations.get(tag, ("0", 0.0))[0] for tag in tags]
        if time.monotonic() < self.down_until:
            return None
        if self.lost and not await self._publish(list(self.lost)):
            return None  # a change this process made is not in Redis yet: no cached answer
        subscriber, mark = self.subscriber, None
        if subscriber is not None and subscriber.start():
            tokens = subscriber.lookup(tags)
            if tokens is not None:
                KEPT.inc()
                return tokens
            mark = subscriber.mark()
        try:
            values = await self.redis.mget([self._generation(tag) for tag in tags])
        except _redis_errors() as error:
            self._failed("read generations", error)
            return None
        ASKED.inc()
        tokens = [_text(value) if value else "0" for value in values]
        if subscriber is not None:
            subscriber.learn(mark, tags, tokens)
        return tokens

    async def _lookup(self, key: str) -> Entry | None:
        entry = cast(Entry | None, await self.memory.get(key))
        if entry is None and self.shared is not None:
            try:
                entry = cast(Entry | None, await self.shared.get(key))
            except _redis_errors() as error:
                self._failed("read", error)
                return None
            if entry is not None and entry.expires > time.time():
                await self.memory.set(key, entry, expire=entry.expires - time.time())
        if entry is None or entry.expires <= time.time():
            return None
        return entry

    async def _store(self, key: str, entry: Entry, ttl: int) -> None:
        await self.memory.set(key, entry, expire=ttl)
        if self.shared is not None:
            try:
                await self.shared.set(key, entry, expire=ttl)
            except _redis_errors() as error:
                self._failed("write", error)

    def _generation(self, tag: str) -> str:
        return f"{self.prefix}gen:{tag}"

    def _failed(self, what: str, error: Exception) -> None:
        CACHE_REDIS_ERRORS.inc()
        self.down_until = time.monotonic() + CIRCUIT_SECONDS
        # a write's bump may be lost: what this process holds may be stale from now on
        self.memory = self._memory()
        logger.warning("cache: Redis failed to %s, reading from the database: %r", what, error)

    def _memory(self) -> "Cache":
        from cashews import Cache

        memory = Cache()
        memory.setup(f"mem://?size={self.memory_items}")
        return memory


_cache: ReadCache | None = None
_configured: CacheSettings | None = None
_retired: list[ReadCache] = []


def read_cache() -> ReadCache:
    """The process's cache, made on first use from the settings `configure_cache` was given
    (else from the environment)."""
    global _cache
    if _cache is None:
        _cache = ReadCache(_configured or cast(CacheSettings, get_settings()))
    return _cache


def configure_cache(settings: CacheSettings) -> None:
    """Use ``settings`` (the app's) for the process's cache, made on first use; a cache made
    with other settings is retired (closed by `close_cache`)."""
    global _cache, _configured
    _configured = settings
    if _cache is not None:
        _retired.append(_cache)
        _cache = None


async def close_cache() -> None:
    """Close the process's cache (at shutdown; the next use makes a new one)."""
    global _cache
    caches = [*_retired, *([_cache] if _cache is not None else [])]
    _cache = None
    _retired.clear()
    for cache in caches:
        await cache.close()


def _redis_errors() -> tuple[type[Exception], ...]:
    """What Redis or cashews raise when Redis fails (imported only then)."""
    from cashews.exceptions import CacheError
    from redis.exceptions import RedisError

    return RedisError, CacheError, OSError


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class CachedService(CrudService):
    """A resource service whose reads go through the cache and whose writes invalidate it."""

    cache_ttl: ClassVar[int] = 0  # seconds (0: not cached, its deletes invalidate others)
    cache_key: ClassVar[str] = "id"  # the record's field item URLs name it by
    cache_dependents: ClassVar[list[str]] = []  # cached resources a delete here changes

    async def cached_record(
        self, key: Any, render: Callable[[dict[str, Any]], bytes]
    ) -> tuple[Entry, str]:
        """The record item URLs name ``key``, rendered by ``render``; 401/403/404 as `get`."""
        self.access.scope("read")

        async def load() -> Entry:
            record = await self.get(key)
            owner = record.get("owner")
            if self.repository.through:
                owner = await self.repository.owner_of(record["id"])
            return Entry(render(record), record["version"], record["id"], owner)

        resource = self.resource
        tags = [resource, f"{resource}:item:{key}"]
        entry, result = await read_cache().read(tags[1], tags, self.cache_ttl, load)
        # every caller's own check, whoever loaded it
        self.access.check("read", {"id": entry.id, "owner": entry.owner}, entry.owner)
        return entry, result

    async def cached_page(
        self, params: dict[str, Any], render: Callable[[dict[str, Any]], Entry]
    ) -> tuple[Entry, str]:
        """A page of the list, rendered by ``render`` (`page_entry`, `array_entry`); keyed by
        the normalised parameters and, when the caller sees only its own records, by the
        caller."""
        caller = self.access.user_id if self.access.scope("list") is Scope.OWN else None
        query = json.dumps([params, caller], sort_keys=True, default=str, ensure_ascii=False)
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]

        async def load() -> Entry:
            return render(await self.list_page(params))

        resource = self.resource
        tags = [resource, f"{resource}:lists"]
        return await read_cache().read(f"{resource}:list:{digest}", tags, self.cache_ttl, load)

    async def create(
        self,
        values: dict[str, Any],
        before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        try:
            return await super().create(values, before_commit)
        finally:
            await self._invalidate()

    async def update(
        self, key: Any, values: dict[str, Any], versions: set[int] | None = None
    ) -> dict[str, Any]:
        changed: Any = key
        try:
            record = await super().update(key, values, versions)
            changed = record[self.cache_key]  # a new lookup value names it from now on
            return record
        finally:
            await self._invalidate(key, changed)

    async def delete(self, key: Any, versions: set[int] | None = None) -> None:
        try:
            await super().delete(key, versions)
        finally:
            await self._invalidate(key, whole=self.cache_dependents)

    async def link(self, key: Any, name: str, target: int) -> None:
        try:
            await super().link(key, name, target)
        finally:
            await self._invalidate(key)

    async def unlink(self, key: Any, name: str, target: int) -> None:
        try:
            await super().unlink(key, name, target)
        finally:
            await self._invalidate(key)

    async def _invalidate(self, *keys: Any, whole: list[str] | None = None) -> None:
        """After a write (committed or not): its records, the lists, and ``whole``
        resources."""
        resource = self.resource
        tags = [f"{resource}:lists", *dict.fromkeys(f"{resource}:item:{key}" for key in keys)]
        await read_cache().bump([*tags, *(whole or [])])


def to_json(model: BaseModel) -> bytes:
    """``model`` as `json_response` (core/schemas.py) would send it."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def page_entry(page: BaseModel) -> Entry:
    """A page (an object: its items and cursor or offset) to cache."""
    return Entry(to_json(page))


def array_entry(page: BaseModel) -> Entry:
    """A page sent as a bare array of its items (`array_response` in core/schemas.py) to
    cache: the array, and the cursor or offset its headers are made of."""
    data = page.__dict__
    kept: dict[str, Any] = {
        key: data[key] for key in ("next_cursor", "total", "offset", "limit") if key in data
    }
    return Entry(pydantic_core.to_json(data["items"], by_alias=True), page=kept)


def cached_array_response(request: Request, entry: Entry, result: str) -> Response:
    """A cached bare array, with the headers `array_response` would give it."""
    page, headers = entry.page or {}, {}
    if "next_cursor" in page:
        if page["next_cursor"]:
            headers["Link"] = _next_link(request, cursor=page["next_cursor"])
    else:
        headers["X-Total-Count"] = str(page["total"])
        if page["offset"] + page["limit"] < page["total"]:
            headers["Link"] = _next_link(request, offset=page["offset"] + page["limit"])
    return cached_response(entry, result, headers)


def cached_response(entry: Entry, result: str, headers: dict[str, str] | None = None) -> Response:
    """The cached JSON body as a 200 response (X-Cache says hit or miss outside production)."""
    return Response(entry.body, media_type="application/json", headers=with_result(result, headers))


def with_result(result: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` with X-Cache added outside production."""
    headers = dict(headers or {})
    if read_cache().headers:
        headers[CACHE_HEADER] = result
    return headers
