"""Tenants help themselves: owners invite and remove members; the console fills the tenant
in; re-authorizing names the shop; "View site" and the bare address lead somewhere."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from shops.models import Membership

pytestmark = pytest.mark.django_db
MEMBERS = "/admin/shops/membership/"


def invite(client, username: str, role: str = "viewer", tenant=None):
    data = {"username": username, "email": f"{username}@example.com", "role": role}
    if tenant is not None:
        data["tenant"] = tenant.pk
    return client.post(f"{MEMBERS}add/", data, follow=True)


def test_owner_invites_a_new_user_who_can_sign_in(client, alice, bob, tenant_a, tenant_b):
    client.force_login(alice)
    form = client.get(f"{MEMBERS}add/").content.decode()
    assert 'type="hidden" name="tenant"' in form  # alice's one tenant, filled in
    page = invite(client, "frank", tenant=tenant_b)  # a posted tenant is ignored
    assert page.status_code == 200
    membership = Membership.objects.get(user__username="frank")
    assert (membership.tenant, membership.role) == (tenant_a, "viewer")
    password = _shown_password(page)
    assert Client().login(username="frank", password=password)
    # once: the next page does not show it again
    assert password not in client.get(MEMBERS).content.decode()


def _shown_password(page) -> str:
    html = page.content.decode()
    start = html.index('class="one-time-secret">') + len('class="one-time-secret">')
    return html[start : html.index("</code>", start)]


def test_owner_adds_an_existing_user_changes_and_removes_members(client, alice, bob, tenant_a):
    existing = get_user_model().objects.create_user("gina", password="pw-gina")
    client.force_login(alice)
    page = invite(client, "gina", role="admin")
    assert "one-time-secret" not in page.content.decode()  # her password stays hers
    membership = Membership.objects.get(user=existing)
    assert membership.role == "admin" and get_user_model().objects.get(pk=existing.pk).is_staff
    assert "already a member" in invite(client, "gina").content.decode()

    bobs = Membership.objects.get(user=bob)
    page = client.post(MEMBERS, {"action": "remove_members", "_selected_action": [bobs.pk]})
    assert page.status_code == 302 and not Membership.objects.filter(pk=bobs.pk).exists()
    assert client.post(f"{MEMBERS}{membership.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_stays(client, alice, tenant_a):
    own = Membership.objects.get(user=alice)
    client.force_login(alice)
    assert client.post(f"{MEMBERS}{own.pk}/delete/", {"post": "yes"}).status_code == 403
    page = client.post(MEMBERS, {"action": "remove_members", "_selected_action": [own.pk]})
    assert page.status_code == 302 and Membership.objects.filter(pk=own.pk).exists()
    page = client.post(f"{MEMBERS}{own.pk}/change/", {"role": "viewer"})
    assert page.status_code == 200 and "needs an owner" in page.content.decode()
    assert Membership.objects.get(pk=own.pk).role == "owner"


def test_viewers_and_outsiders_cannot_invite_or_remove(client, alice, bob, charlie, tenant_a):
    alices = Membership.objects.get(user=alice)
    client.force_login(bob)  # read-only member of tenant A
    assert client.get(MEMBERS).status_code == 200  # sees the members
    assert client.get(f"{MEMBERS}add/").status_code == 403
    assert invite(client, "mallory").status_code == 403
    assert client.post(f"{MEMBERS}{alices.pk}/delete/", {"post": "yes"}).status_code == 403
    client.force_login(charlie)  # owner of tenant B
    assert client.post(f"{MEMBERS}{alices.pk}/delete/", {"post": "yes"}).status_code == 404
    page = client.post(MEMBERS, {"action": "remove_members", "_selected_action": [alices.pk]})
    assert Membership.objects.filter(pk=alices.pk).exists()
    invite(client, "mallory", tenant=tenant_a)  # lands in charlie's own tenant, not A
    assert not Membership.objects.filter(tenant=tenant_a, user__username="mallory").exists()
    assert page.status_code in (200, 302)


def test_reauthorize_names_the_shop(client, alice, shop_a):
    client.force_login(alice)
    html = client.get(f"/admin/shops/shop/connect/?shop={shop_a.pk}").content.decode()
    assert (
        "<title>Re-authorize seller-a" in html and "The seller of <strong>seller-a</strong>" in html
    )
    page = client.get(f"/admin/shops/shop/{shop_a.pk}/change/").content.decode()
    assert "Re-authorize seller-a</a>" in page


def test_view_site_and_the_bare_address_lead_somewhere(client, alice):
    client.force_login(alice)
    assert 'href="/api/docs/">View site</a>' in client.get("/admin/").content.decode()
    assert client.get("/api/docs/").status_code == 200
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
