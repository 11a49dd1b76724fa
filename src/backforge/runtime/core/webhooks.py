"""Outbound webhooks: the subscribers an admin registers, their deliveries, the Standard Webhooks
signature and the guard against server-side request forgery (SSRF).

A subscriber has a URL, the event types it wants, and a secret (``whsec_`` + base64 of 24 random
bytes) shown once. A rotated secret keeps signing beside the new one for a grace period, so a
receiver can switch without losing a delivery. Each delivery is signed per Standard Webhooks:
``webhook-id`` (the event id), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed by the decoded secret; one per
secret in use, space-separated).

The guard resolves a URL's host and refuses it when any address is not globally routable
(private, loopback, link-local such as the cloud metadata address 169.254.169.254, multicast,
reserved, unique-local IPv6): at registration and again before every delivery, which then
connects to the address it checked (a DNS answer that changes in between cannot redirect it).
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from .db import Base, IdType, UTCDateTime

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 24
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254"})

webhook_subscribers = sa.Table(
    "webhook_subscribers",
    Base.metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("events", sa.JSON(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    Base.metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column(
        "subscriber_id",
        IdType,
        sa.ForeignKey("webhook_subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("response_status", sa.Integer(), nullable=True),
    sa.Column("duration_ms", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint(
        "subscriber_id", "event_id", name="uq_webhook_deliveries_subscriber_id_event_id"
    ),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `webhook-signature` entry: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` header: a signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_in_use)


def secrets_in_use(row: Any, now: datetime) -> list[str]:
    """The subscriber's secret, and the previous one while its grace period lasts."""
    found = [row.secret]
    until = row.previous_secret_expires_at
    if row.previous_secret and until is not None and until > now:
        found.append(row.previous_secret)
    return found


class TargetRefused(ValueError):
    """A webhook URL the service will not send to; the message says why."""


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (an address stands for itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise TargetRefused(f"the host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(entry[4][0]) for entry in found))


def address_problem(address: str) -> str | None:
    """Why sending to ``address`` is refused, or None when it is globally routable."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in METADATA_ADDRESSES:
        return "the cloud metadata address"
    for name in ("loopback", "link_local", "multicast", "private", "reserved", "unspecified"):
        if getattr(ip, f"is_{name}"):
            return f"a {name.replace('_', '-')} address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def host_list(text: str) -> frozenset[str]:
    """WEBHOOK_ALLOWED_HOSTS (comma-separated host names) as a set; empty: any host."""
    return frozenset(name.strip().lower() for name in text.split(",") if name.strip())


def check_url(url: str, *, https_only: bool) -> tuple[str, int]:
    """The host and port of a webhook URL with an acceptable form; TargetRefused otherwise."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        if host:
            host.encode("idna")  # a name DNS could hold
    except (ValueError, UnicodeError) as exc:
        raise TargetRefused(f"the URL is not valid ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with https:// (or http://)")
    if https_only and parts.scheme != "https":
        raise TargetRefused("the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not hold credentials")
    if not host:
        raise TargetRefused("the URL has no host")
    return host, port or (443 if parts.scheme == "https" else 80)


async def checked_address(
    url: str,
    *,
    allow_private: bool,
    https_only: bool,
    resolver: Resolver = resolve,
    allowed_hosts: frozenset[str] = frozenset(),
) -> str:
    """The address to connect to for ``url``, after refusing a URL of a bad form, a host not in
    ``allowed_hosts`` (when any are given: checked before any DNS lookup) or a host with any
    address that is not globally routable (unless ``allow_private``)."""
    host, port = check_url(url, https_only=https_only)
    if allowed_hosts and host.lower() not in allowed_hosts:
        raise TargetRefused(f"the host {host!r} is not one of WEBHOOK_ALLOWED_HOSTS")
    addresses = await resolver(host, port)
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if problem := address_problem(address):
                raise TargetRefused(f"{host} resolves to {address}, {problem}")
    return addresses[0]
