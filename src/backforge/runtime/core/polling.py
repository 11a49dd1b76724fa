"""What the service's background workers share (the outbox relay of core/relay.py, and the
others that claim rows of a table to work on): rounds of claiming and handling a batch until
told to stop, resting when a round found nothing, a failed round logged and tried again, the
backlog gauges read every second; and the wait before a failed row's next attempt."""

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

OBSERVE_EVERY = 1.0  # seconds between two readings of the backlog by a running worker


class Backoff(Protocol):
    @property
    def backoff_base(self) -> float:
        """Seconds before the second attempt; doubles each time."""

    @property
    def backoff_cap(self) -> float:
        """The longest wait between two attempts."""


def backoff(attempts: int, options: Backoff, rng: Callable[[], float]) -> float:
    """Seconds to wait after ``attempts`` failures: capped exponential, with full jitter
    between half and all of it."""
    ceiling = min(options.backoff_cap, options.backoff_base * 2.0 ** (attempts - 1))
    return ceiling * (0.5 + rng() / 2)


class PollingWorker(ABC):
    """A worker whose `run_once` claims and handles one batch, and `observe` sets its gauges."""

    label = "worker"  # names it in the log line of a failed round

    @property
    @abstractmethod
    def poll_interval(self) -> float:
        """Seconds to rest after a round that found nothing to do."""

    @abstractmethod
    async def run_once(self) -> int:
        """Claim one batch and handle it; how many rows it claimed."""

    @abstractmethod
    async def observe(self) -> Any:
        """Set the backlog gauges; what they were set to."""

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set, resting ``poll_interval`` when there was nothing to do
        (or the database failed: logged, tried again)."""
        observed = 0.0
        while not stop.is_set():
            try:
                claimed = await self.run_once()
                if time.monotonic() - observed >= OBSERVE_EVERY:
                    await self.observe()
                    observed = time.monotonic()
            except Exception:
                logging.getLogger(type(self).__module__).exception("%s round failed", self.label)
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def drain(self, rounds: int = 1000) -> int:
        """Rounds until one claims nothing (at most ``rounds``); the rows claimed."""
        total = 0
        for _ in range(rounds):
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total
