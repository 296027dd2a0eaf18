"""The change feed: every row the sync writes, in commit order, for the API and webhooks."""
