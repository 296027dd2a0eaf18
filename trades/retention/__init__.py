"""Retention: old change-feed rows, webhook events and attempts, sync runs and reconcile
reports pruned in small batches; buyer data of shops that lost their authorization erased
(docs/audit-retention.md)."""
