"""The naive scheme now lives with the benchmarks; the tests import it here."""

from tools.bench.naive import naive_sync, naive_sync_refunds

__all__ = ["naive_sync", "naive_sync_refunds"]
