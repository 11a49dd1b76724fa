"""Running commands in the project's environment with a time limit, keeping their output."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

# The commands `run` has going, so that an interrupted verify can end them (they run in sessions
# of their own, out of reach of the terminal's Ctrl-C).
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Completed:
    """A finished (or timed-out) command."""

    args: tuple[str, ...]
    returncode: int
    output: str
    seconds: float
    timed_out: bool = False
    errors: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self, lines: int = 25) -> str:
        """The command, how it ended, and the tail of its output."""
        if self.timed_out:
            how = f"timed out after {self.seconds:.0f} s"
        else:
            how = f"exit code {self.returncode}"
        text = tail(f"{self.output}\n{self.errors}".strip(), lines)
        return f"$ {' '.join(self.args)}\n({how})\n{text}".rstrip()


def tail(text: str, lines: int = 25, width: int = 4000) -> str:
    """The last `lines` lines of `text`, at most `width` characters."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return kept[-width:]


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    merge: bool = True,
) -> Completed:
    """Run `args`, killed (with its group) after `timeout` seconds.

    stderr is merged into `output` unless `merge` is false; then it is kept in `errors`.
    """
    argv = tuple(str(a) for a in args)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        timed_out = True
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    seconds = time.monotonic() - started
    return Completed(argv, proc.returncode, _text(out), seconds, timed_out, _text(err))


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a process started with start_new_session=True, and everything it started."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_running() -> int:
    """Kill every command `run` still has going (and what they started); how many there were."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        kill_group(proc)
    return len(live)
