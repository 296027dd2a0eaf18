"""TOP request signing, shared by the client and the sandbox.

Reference: https://developer.alibaba.com/docs/doc.htm?articleId=101617&docType=1&treeId=780
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def signing_string(params: Mapping[str, str], include_empty: bool = False) -> str:
    """Return the sorted ``name1value1name2value2…`` string that gets hashed.

    ``sign`` itself is left out. Empty values are left out as the official Java and .NET
    SDKs do; ``include_empty`` keeps them (as bare names), as the official Python, PHP and
    Go SDKs do (docs/platform.md §1.4).
    """
    return "".join(
        f"{name}{params[name]}"
        for name in sorted(params)
        if name != "sign" and (include_empty or params[name] != "")
    )


def sign(
    params: Mapping[str, str], secret: str, sign_method: str, include_empty: bool = False
) -> str:
    """Return the uppercase hex signature of ``params`` for ``sign_method``."""
    payload = signing_string(params, include_empty).encode()
    key = secret.encode()
    if sign_method == "md5":
        digest = hashlib.md5(key + payload + key).hexdigest()
    elif sign_method == "hmac":
        digest = hmac.new(key, payload, hashlib.md5).hexdigest()
    elif sign_method == "hmac-sha256":
        digest = hmac.new(key, payload, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown sign_method {sign_method!r}; expected one of {SIGN_METHODS}")
    return digest.upper()
