"""The sync engine: backfill, incremental trades and refunds, reconcile."""
