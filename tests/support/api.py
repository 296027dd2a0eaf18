"""The partner API as a partner calls it."""

from __future__ import annotations

from rest_framework.test import APIClient


def client_for(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
