"""Structured logs: structlog and the standard library (uvicorn's loggers too) share one pipeline
that writes JSON lines (one object per line) or readable console lines to stderr.

Every line has `timestamp` (ISO 8601, UTC), `level`, `logger` and `event`; within a request also
`request_id` (see core/middleware.py) and, when tracing is on, `trace_id` and `span_id`. Values of
secret-looking keys and of the spec's write-only and hidden fields are replaced by [REDACTED].
Log with `structlog.get_logger(__name__).info("event", key=value)` or plain `logging`.
"""

import logging
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from .spec import PACKAGE, UNLOGGED_FIELDS

REDACTED = "[REDACTED]"
SECRET_KEYS = re.compile(r"password|passwd|secret|token|authorization|cookie|api[_-]?key", re.I)
HANDLER_NAME = PACKAGE


class LoggingSettings(Protocol):
    """The settings of logging (core/settings.py has them all)."""

    @property
    def environment(self) -> str: ...

    @property
    def log_level(self) -> Literal["DEBUG", "INFO", "WARNING", "ERROR"]: ...

    @property
    def log_format(self) -> Literal["json", "console"] | None: ...


class RedactSecrets:
    """structlog processor: hides the values of secret keys, in nested dicts and lists too."""

    def __init__(self, fields: Iterable[str] = UNLOGGED_FIELDS) -> None:
        self.fields = frozenset(name.lower() for name in fields)

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return {k: REDACTED if self.secret(k) else self.clean(v) for k, v in event_dict.items()}

    def secret(self, key: object) -> bool:
        return isinstance(key, str) and (
            key.lower() in self.fields or SECRET_KEYS.search(key) is not None
        )

    def clean(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if self.secret(k) else self.clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.clean(item) for item in value]
        return value


class StderrHandler(logging.Handler):
    """Writes each line to the current `sys.stderr` (so redirection and test capture see it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def log_format(settings: LoggingSettings) -> Literal["json", "console"]:
    """LOG_FORMAT when set, else console lines in development and JSON elsewhere (test runs
    too: their output is read by machines, and the console renderer draws tracebacks at length)."""
    if settings.log_format:
        return settings.log_format
    return "console" if settings.environment == "development" else "json"


def configure_logging(settings: LoggingSettings, processors: Sequence[Processor] = ()) -> None:
    """Send structlog and standard logging to stderr; `processors` add fields to every line."""
    as_json = log_format(settings) == "json"
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, RedactSecrets(), structlog.processors.JSONRenderer()]
        if as_json
        else [RedactSecrets(), structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *processors,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *renderer,
        ],
    )
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # The request context middleware writes the access log (with the request id): not uvicorn,
    # which formats its line for every request unless its logger has no handler to reach.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
