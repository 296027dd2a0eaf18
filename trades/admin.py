from trades.api.admin import ApiKeyAdmin  # noqa: F401
