"""Connecting a Taobao shop: the authorize redirect and its callback, inside the admin.

The ``state`` sent to ``/authorize`` is signed (``django.core.signing``), expires after
``OAUTH_STATE_MAX_AGE`` seconds, names the tenant, app and user, and carries a one-time nonce
kept in the user's session. A callback is honoured only in the same session, by the same
user, once: a forged, replayed, expired or cross-site state is refused.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ordersync.taobao import oauth
from ordersync.taobao.errors import SessionInvalid, TopError
from shops.console.tenancy import WRITE_ROLES, filled_in, has_role, tenant_ids
from shops.models import Shop, Tenant, TopApp
from shops.onboarding import SellerOwnedElsewhere, connect_shop
from shops.top import app_credentials

log = logging.getLogger(__name__)

STATE_SALT = "ordersync.shops.oauth-state"
SESSION_KEY = "ordersync_oauth_nonces"
MAX_PENDING = 5  # authorizations a session may have in flight (several tabs)


class StateRejected(Exception):
    """The callback's state is not one this session started."""


def writable_tenants(request: HttpRequest):
    if request.user.is_superuser:
        return Tenant.objects.order_by("name")
    return Tenant.objects.filter(pk__in=tenant_ids(request, WRITE_ROLES)).order_by("name")


class ConnectForm(forms.Form):
    tenant = forms.ModelChoiceField(
        label=gettext_lazy("tenant"), queryset=Tenant.objects.none(), empty_label=None
    )
    app = forms.ModelChoiceField(
        queryset=TopApp.objects.order_by("name"), empty_label=None, label=gettext_lazy("TOP app")
    )

    def __init__(self, request: HttpRequest, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        tenants = writable_tenants(request)
        self.fields["tenant"].queryset = tenants
        fixed = {} if request.user.is_superuser else filled_in(tenants)
        if fixed:  # a user of one tenant does not pick it
            field = self.fields["tenant"]
            field.initial, field.disabled, field.widget = (
                fixed["initial"],
                True,
                forms.HiddenInput(),
            )


def issue_state(request: HttpRequest, tenant: Tenant, app: TopApp) -> str:
    """Sign a state for this user, tenant and app; remember its nonce in the session."""
    nonce = secrets.token_urlsafe(16)
    pending = [*request.session.get(SESSION_KEY, []), nonce][-MAX_PENDING:]
    request.session[SESSION_KEY] = pending
    payload = {"t": tenant.pk, "a": app.pk, "u": request.user.pk, "n": nonce}
    return signing.dumps(payload, salt=STATE_SALT)


def accept_state(request: HttpRequest, state: str) -> tuple[Tenant, TopApp]:
    """Check a callback's state and spend its nonce; return its tenant and app.

    Raises StateRejected for a bad signature, an expired state, another user or session, a
    nonce already used, or a user who may no longer connect shops to the tenant.
    """
    try:
        payload = signing.loads(state, salt=STATE_SALT, max_age=settings.OAUTH_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise StateRejected(_("the authorization took too long; please start again")) from None
    except signing.BadSignature:
        raise StateRejected(_("the authorization state is not valid")) from None
    pending = request.session.get(SESSION_KEY, [])
    if payload.get("u") != request.user.pk or payload.get("n") not in pending:
        raise StateRejected(_("this authorization was not started in this session"))
    pending.remove(payload["n"])
    request.session[SESSION_KEY] = pending
    if not has_role(request, payload["t"], WRITE_ROLES):
        raise StateRejected(_("you may no longer connect shops to this tenant"))
    tenant = Tenant.objects.filter(pk=payload["t"]).first()
    app = TopApp.objects.filter(pk=payload["a"]).first()
    if tenant is None or app is None:
        raise StateRejected(_("the tenant or app of this authorization is gone"))
    return tenant, app


def callback_uri(request: HttpRequest) -> str:
    path = reverse("admin:shops_shop_oauth_callback")
    base = settings.OAUTH_REDIRECT_BASE_URL
    return base.rstrip("/") + path if base else request.build_absolute_uri(path)


def authorize_url(request: HttpRequest, tenant: Tenant, app: TopApp) -> str:
    query = {
        "response_type": "code",
        "client_id": app.app_key,
        "redirect_uri": callback_uri(request),
        "state": issue_state(request, tenant, app),
        "view": "web",
    }
    return f"{app.authorize_url}?{urlencode(query)}"


def connect_view(request: HttpRequest, admin_context: dict) -> HttpResponse:
    """GET: choose tenant and app (prefilled when re-authorizing); POST: go to /authorize."""
    shop = reauthorized_shop(request)
    if request.method == "POST":
        form = ConnectForm(request, request.POST)
        if form.is_valid():
            url = authorize_url(request, form.cleaned_data["tenant"], form.cleaned_data["app"])
            return HttpResponseRedirect(url)
    else:
        initial = {"tenant": shop.tenant_id, "app": shop.app_id} if shop else {}
        form = ConnectForm(request, initial=initial)
    if shop:
        title = _("Re-authorize %(shop)s") % {"shop": shop.seller_nick}
    else:
        title = _("Connect a Taobao shop")
    tenants = list(form.fields["tenant"].queryset[:2])
    context = {
        **admin_context,
        "title": title,
        "form": form,
        "shop": shop,
        "tenant": shop.tenant if shop else (tenants[0] if len(tenants) == 1 else None),
    }
    return TemplateResponse(request, "admin/shops/shop/connect.html", context)


def reauthorized_shop(request: HttpRequest) -> Shop | None:
    shop_id = request.GET.get("shop", "")
    if not shop_id.isdigit():
        return None
    shop = Shop.objects.filter(pk=int(shop_id)).first()
    if shop is None or not has_role(request, shop.tenant_id, WRITE_ROLES):
        return None
    return shop


def callback_view(request: HttpRequest, admin_context: dict) -> HttpResponse:
    """The redirect back from ``/authorize``: check state, exchange the code, save the shop."""
    try:
        tenant, app = accept_state(request, request.GET.get("state", ""))
    except StateRejected as error:
        return _refused(request, admin_context, str(error))
    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET["error"]
        messages.warning(
            request, _("The seller did not authorize the shop (%(reason)s).") % {"reason": reason}
        )
        return redirect("admin:shops_shop_changelist")
    code = request.GET.get("code", "")
    if not code:
        return _refused(request, admin_context, _("the platform sent no authorization code"))
    try:
        token = oauth.exchange_code(app_credentials(app), code, callback_uri(request))
        shop, created = connect_shop(tenant, app, token)
    except SellerOwnedElsewhere as error:
        reason = _("%(error)s; ask the operators to move it") % {"error": error}
        return _refused(request, admin_context, reason)
    except SessionInvalid as error:
        reason = _("the platform refused the code: %(error)s") % {"error": error}
        return _refused(request, admin_context, reason)
    except TopError as error:
        log.warning("OAuth code exchange for tenant %s failed: %s", tenant.pk, error)
        reason = _("the platform could not be reached: %(error)s") % {"error": error}
        return _refused(request, admin_context, reason)
    if created:
        messages.success(
            request, _("Connected %(shop)s; its backfill is queued.") % {"shop": shop.seller_nick}
        )
    else:
        messages.success(
            request,
            _("Re-authorized %(shop)s; its tokens are updated.") % {"shop": shop.seller_nick},
        )
        if shop.status != Shop.Status.ACTIVE:
            messages.warning(
                request,
                _("%(shop)s stays %(status)s.")
                % {"shop": shop.seller_nick, "status": shop.get_status_display()},
            )
    return redirect("admin:shops_shop_change", shop.pk)


def _refused(request: HttpRequest, admin_context: dict, reason: str) -> HttpResponse:
    title = _("The shop was not connected")
    context = {**admin_context, "title": title, "reason": reason}
    return TemplateResponse(request, "admin/shops/shop/connect_refused.html", context, status=400)
