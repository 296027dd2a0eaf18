"""Signing and the receivers' verify_signature, including a secret rotation's overlap."""

from __future__ import annotations

import pytest

from trades.webhooks.signing import InvalidSignature, sign, signature_headers, verify_signature

BODY = b'{"id":"evt_1","type":"trade.created"}'
NOW = 1_800_000_000


def test_a_signed_request_verifies():
    headers = signature_headers(["whsec_a"], "evt_1", BODY, timestamp=NOW)
    assert headers["webhook-signature"] == f"t={NOW},v1={sign('whsec_a', 'evt_1', NOW, BODY)}"
    verify_signature(["whsec_a"], headers, BODY, now=NOW + 10)


def test_header_names_are_case_insensitive():
    headers = signature_headers(["whsec_a"], "evt_1", BODY, timestamp=NOW)
    verify_signature(["whsec_a"], {k.upper(): v for k, v in headers.items()}, BODY, now=NOW)


def test_during_a_rotation_either_secret_verifies():
    headers = signature_headers(["whsec_new", "whsec_old"], "evt_1", BODY, timestamp=NOW)
    assert headers["webhook-signature"].count("v1=") == 2
    verify_signature(["whsec_old"], headers, BODY, now=NOW)  # a receiver not yet switched
    verify_signature(["whsec_new"], headers, BODY, now=NOW)  # one already switched
    with pytest.raises(InvalidSignature, match="no v1"):
        verify_signature(["whsec_other"], headers, BODY, now=NOW)


@pytest.mark.parametrize(
    "tamper,message",
    [
        (lambda h, b: (h, b + b" "), "no v1"),
        (lambda h, b: ({**h, "webhook-id": "evt_2"}, b), "no v1"),
        (lambda h, b: ({**h, "webhook-timestamp": str(NOW + 1)}, b), "does not match"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "whole number"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
    ],
)
def test_tampering_is_refused(tamper, message):
    headers, body = tamper(signature_headers(["whsec_a"], "evt_1", BODY, timestamp=NOW), BODY)
    with pytest.raises(InvalidSignature, match=message):
        verify_signature(["whsec_a"], headers, body, now=NOW)


def test_old_or_future_timestamps_are_refused():
    headers = signature_headers(["whsec_a"], "evt_1", BODY, timestamp=NOW)
    verify_signature(["whsec_a"], headers, BODY, tolerance=300, now=NOW + 300)
    for now in (NOW + 301, NOW - 301):
        with pytest.raises(InvalidSignature, match="tolerance"):
            verify_signature(["whsec_a"], headers, BODY, tolerance=300, now=now)


def test_the_module_needs_no_django():
    import ast
    import inspect

    from trades.webhooks import signing

    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(signing))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "base64", "hashlib", "hmac", "time", "collections"}
