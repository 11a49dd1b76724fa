"""Distributed tracing with OpenTelemetry, exported by OTLP over HTTP when configured.

Set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://otel-collector:4318) to trace every request, its SQL
statements and its outgoing httpx calls. Unset, nothing here runs, and the OpenTelemetry SDK,
exporter and instrumentations are not even imported (FastAPI imports only the no-op API). The
exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
"""

from typing import TYPE_CHECKING, Protocol

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.types import EventDict, WrappedLogger

from .spec import PACKAGE

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# Probes and scrapes would only add noise to the traces.
UNTRACED = r"//[^/]+/(healthz|readyz|startupz|metrics)$"


class TracingSettings(Protocol):
    """The settings of tracing (core/settings.py has them all)."""

    @property
    def otel_exporter_otlp_endpoint(self) -> str | None: ...

    @property
    def otel_service_name(self) -> str | None: ...


def enabled(settings: TracingSettings) -> bool:
    return bool(settings.otel_exporter_otlp_endpoint)


def span_exporter(settings: TracingSettings) -> "SpanExporter":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = str(settings.otel_exporter_otlp_endpoint).rstrip("/")
    return OTLPSpanExporter(endpoint=f"{base}/v1/traces")


def instrument_app(app: FastAPI, settings: TracingSettings) -> "TracerProvider":
    """A tracer provider exporting in batches, and a server span for every request."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": settings.otel_service_name or PACKAGE,
            "service.version": app.version,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter(settings)))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # for spans of your own: trace.get_tracer(__name__)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED,
        exclude_spans=["receive", "send"],
    )
    return provider


def instrument_database(engine: AsyncEngine, provider: "TracerProvider") -> None:
    """Spans for the engine's SQL statements and for outgoing httpx requests."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentation declares SQLAlchemy < 2.1 but works with 2.1's unchanged event API.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)


def shutdown(provider: "TracerProvider") -> None:
    """Undo `instrument_database` and export the spans still buffered."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    provider.shutdown()


def add_trace_ids(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the trace and span ids of the active span, if any."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict
