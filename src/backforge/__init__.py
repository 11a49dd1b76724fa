"""backforge: from a service spec to a verified, production-ready FastAPI backend."""

__version__ = "0.1.0"
