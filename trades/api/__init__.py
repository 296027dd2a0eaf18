"""The partner REST API: per-tenant keys, trades, refunds, shops' health, the change feed."""
