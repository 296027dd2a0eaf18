"""Outbound webhooks: an outbox written with each change, signed deliveries, retries, replay."""
