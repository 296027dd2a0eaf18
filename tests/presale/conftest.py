from __future__ import annotations

from tests.webhooks.conftest import endpoint, issued, queued, receiver, webhook_settings  # noqa: F401
