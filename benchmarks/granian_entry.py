"""The generated service's application for Granian, as `python -m <package>.serve` makes it
for uvicorn: X-Forwarded-For trusted from 127.0.0.1 (uvicorn's own proxy-headers middleware,
which uvicorn wraps the application in) and the garbage collector tuned as serve.py does.
benchmarks/read_path.py --granian runs it; BENCH_APP names the application (`pkg.main:app`).
"""

import gc
import importlib
import os

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

module, _, name = os.environ["BENCH_APP"].partition(":")
app = ProxyHeadersMiddleware(
    getattr(importlib.import_module(module), name), trusted_hosts="127.0.0.1"
)
gc.collect()
gc.freeze()
gc.set_threshold(20_000, 20, 20)
