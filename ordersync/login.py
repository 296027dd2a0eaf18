"""The console's sign-in form, throttled against password guessing.

Each attempt is counted atomically (``ordersync.ratelimit``) for its username and for its
client address before the password is checked; past ``ADMIN_LOGIN_THROTTLE_RATE`` either way
the attempt is refused unchecked. A successful sign-in clears its username's count, so a
guesser can lock an account out for at most one window, and the address count stops one
client from trying many usernames.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ordersync import ratelimit


def _username_key(username: str) -> str:
    # hashed: any length and any characters fit the key, and no username sits in the table
    return "login:user:" + hashlib.sha256(username.casefold().encode()).hexdigest()


class ThrottledLoginForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        rate = ratelimit.parse_rate(settings.ADMIN_LOGIN_THROTTLE_RATE)
        address = ratelimit.client_address(self.request) if self.request else "unknown"
        hits = [
            ratelimit.hit(_username_key(username), rate),
            ratelimit.hit(f"login:address:{address}", rate),
        ]
        refused = [hit for hit in hits if not hit.allowed]
        if refused:
            minutes = -(-max(hit.retry_after for hit in refused) // 60)
            raise ValidationError(
                _("Too many sign-in attempts. Try again in %(minutes)d minute(s).")
                % {"minutes": minutes},
                code="throttled",
            )
        cleaned = super().clean()
        ratelimit.reset(_username_key(username))
        return cleaned
