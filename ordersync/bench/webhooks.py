"""Webhook deliveries per second, measured by the webhooks module when it offers a benchmark.

The outbound webhooks (``trades.webhooks``) own their benchmark; this part only finds and
calls it: a ``bench_webhooks(quick=…)`` function returning a dict of figures (with
``deliveries_per_second``), or else a ``bench_webhooks`` management command.
"""

from __future__ import annotations

import importlib
import io
import re

from django.core.management import call_command, get_commands

NOT_AVAILABLE = {"measured": False, "reason": "not available"}


def measure_webhooks(quick: bool) -> dict:
    """The webhooks benchmark's figures, or ``{"measured": False, …}`` when there is none."""
    function = _find_function()
    if function is not None:
        figures = dict(function(quick=quick))
        return {"measured": True, **figures}
    if "bench_webhooks" in get_commands():
        out = io.StringIO()
        call_command("bench_webhooks", *(["--quick"] if quick else []), stdout=out)
        text = out.getvalue()
        match = re.search(r"([\d,.]+)\s*deliveries\s*/\s*s", text)
        rate = float(match.group(1).replace(",", "")) if match else None
        return {"measured": rate is not None, "deliveries_per_second": rate, "output": text[-2000:]}
    return dict(NOT_AVAILABLE)


def _find_function():
    for module_name in ("trades.webhooks", "trades.webhooks.bench"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, "bench_webhooks", None)
        if callable(function):
            return function
    return None
