"""Each headline figure beside its aim and what bounds it on this machine.

Rows come from the parts present in the results; a part not measured says so. "Limit" is a
figure measured in the same run that the aim cannot beat here (the sandbox's page rate, the
same rows by ``COPY`` or ``psql``, a static 200 from the same gunicorn, the cores' CPU).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

Row = tuple[str, str, str, str]  # figure, measured, aim, limit


def aims(parts: dict) -> list[Row]:
    rows: list[Row] = []
    for name, build in BUILDERS:
        figures = parts.get(name, {}).get("figures")
        rows += build(figures) if figures else []
    return rows


def _backfill(f: dict) -> list[Row]:
    size = max(f["sizes"], key=lambda s: s["trades"])
    limits = size.get("limits", {})
    source, write = limits.get("source", {}), limits.get("write", {})
    peaks = ", ".join(f"{s['rss_mb_peak']}" for s in f["sizes"])
    return [
        (
            _("backfill, %(trades)s trades") % {"trades": f"{size['trades']:,}"},
            _("%(rate)s trades/s; peak RSS %(peaks)s MB")
            % {"rate": f"{size['trades_per_second']:,}", "peaks": peaks},
            _("≥ 5,000 trades/s at 1,000,000, RSS flat"),
            _("source %(source)s trades/s (sandbox pages); write %(write)s trades/s (`COPY`)")
            % {
                "source": _n(source.get("trades_per_second")),
                "write": _n(write.get("trades_per_second")),
            },
        )
    ]


def _scheduler(f: dict) -> list[Row]:
    lag = f["cursor_lag_seconds"]
    cpu = f.get("cpu_percent_of_one_core", {})
    return [
        (
            _("shops by one qcluster (%(workers)s workers), every %(minutes)s min")
            % {"workers": f["workers"], "minutes": f["cadence_minutes"]},
            _("%(shops)s shops; cursor lag p99 %(p99)s s; %(done)s of %(needed)s syncs/s")
            % {
                "shops": f"{f['shops']:,}",
                "p99": lag.get("p99"),
                "done": f.get("syncs_per_second_done", "—"),
                "needed": f.get("syncs_per_second_needed", "—"),
            },
            _("10,000 shops, lag p99 ≤ %(aim)s s, none skipped")
            % {"aim": f.get("lag_aim_seconds", "—")},
            _("CPU %% of one core: %(cpu)s; queue depth max %(depth)s; %(commits)s commits/s")
            % {
                "cpu": _(", ").join(f"{process(name)} {value}" for name, value in cpu.items()),
                "depth": f.get("queue_depth", {}).get("max", "—"),
                "commits": f["database"].get("xact_commit_per_second"),
            },
        )
    ]


def _api(f: dict) -> list[Row]:
    pages = {r["page"]: r for r in f["gunicorn"]}
    hundred, static = pages.get(100, {}), pages.get("static", {})
    return [
        (
            _("partner API, `GET /api/v1/trades/?limit=100` with sub-orders"),
            _("%(rate)s req/s through gunicorn; p50 %(p50)s ms in-process")
            % {"rate": hundred.get("requests_per_second", "—"), "p50": f["in_process"]["p50_ms"]},
            _("≥ 300 req/s, p50 ≤ 30 ms"),
            _(
                "the queries in `psql` alone %(psql)s ms; a static 200 from the same gunicorn "
                "%(static)s req/s"
            )
            % {
                "psql": f.get("psql", {}).get("ms_per_request", "—"),
                "static": static.get("requests_per_second", "—"),
            },
        )
    ]


def _double11(f: dict) -> list[Row]:
    ours = f["ordersync"]
    return [
        (
            _("Double 11 burst, API calls per changed trade (peak-mode lists)"),
            f"{ours['api_calls_per_changed_trade']}",
            _("≤ 1.1 (one fullinfo per trade that really changed)"),
            _double11_least(ours),
        ),
        *_double11_keeping_up(f),
    ]


def _double11_keeping_up(f: dict) -> list[Row]:
    """How far behind the market the engine was at the first quiet pass, and when it caught
    up; for figures that have the passes after the market."""
    ours = f["ordersync"]
    if "first_pass" not in ours:
        return []
    first = ours["first_pass"]
    if ours["caught_up"]:
        after = _("caught up %(seconds)s s after the market stopped (%(passes)s quiet passes)")
        seconds = ours["catch_up_seconds"]
    else:
        after = _("not caught up %(seconds)s s after the market stopped (%(passes)s quiet passes)")
        seconds = ours["passes_ended_seconds"]
    return [
        (
            _("Double 11 burst, trades / refunds missing or stale at the first quiet pass"),
            f"{first['trades_lost']:,} / {first['refunds_lost']:,}; "
            + after % {"seconds": seconds, "passes": ours["catch_up_passes"]},
            _("0 / 0: the engine keeps up with the market; 0 lost at the end"),
            _(
                "%(sync)s s in sync calls over %(rounds)s rounds for %(market)s s of market "
                "(one process syncs both streams)"
            )
            % {
                "sync": first["sync_seconds"],
                "rounds": f["rounds"],
                "market": f.get("market_seconds", f["seconds"]),
            },
        )
    ]


def _double11_least(ours: dict) -> str:
    if "fullinfo_calls" not in ours:  # figures from before fullinfo calls were counted apart
        return str(
            _("≈ 1.0: every listed trade lacks its sub-orders, one `trade.fullinfo.get` each")
        )
    trades = max(ours["trades"], 1)
    others = (ours["api_calls_trades"] - ours["fullinfo_calls"]) / trades
    return _(
        "`trade.fullinfo.get` %(fullinfo)s per trade (the least: one per trade listed without "
        "its sub-orders; the quiet last pass lists them whole), list calls and retries "
        "%(others)s (one call per 100 trades: 0.01)"
    ) % {"fullinfo": ours["fullinfo_per_changed_trade"], "others": f"{others:.3f}"}


def _feed(f: dict) -> list[Row]:
    return [
        (
            _("change feed, %(changes)s changes read by one client")
            % {"changes": f"{f['changes']:,}"},
            _("%(rate)s changes/s") % {"rate": f"{f['changes_per_second']:,}"},
            _("≥ 20,000 changes/s"),
            _("the same rows by `psql`: %(rate)s changes/s")
            % {"rate": _n(f["psql_changes_per_second"])},
        )
    ]


def _tmc(f: dict) -> list[Row]:
    on, off = f["on"], f["off"]
    return [
        (
            _("freshness with TMC (change → visible in the API)"),
            _("p50 %(p50)s s, p99 %(p99)s s") % {"p50": on["p50"], "p99": on["p99"]},
            _("p50 ≤ 1 s, p99 ≤ 5 s"),
            _("polling alone every %(interval)s s: p50 %(p50)s s; ")
            % {"interval": f"{f['interval_seconds']:.0f}", "p50": off["p50"]}
            + _tmc_bound(f),
        )
    ]


def _tmc_bound(f: dict) -> str:
    if "collapse_seconds" not in f:  # figures measured from the whole-second `modified`
        return str(_("the platform's `modified` has whole seconds (up to 1 s of any figure)"))
    return _(
        "every version counted from the instant it was made; the consumer's collapse wait "
        "(`TMC_COLLAPSE_SECONDS`, %(seconds)s s), a fetch, a commit"
    ) % {"seconds": f["collapse_seconds"]}


def _steady(f: dict) -> list[Row]:
    return [_steady_row(side) for side in (f["default"], f["short"])]


def _steady_row(side: dict) -> Row:
    return (
        _("API calls per changed trade in steady state, visible overlap %(seconds)s s")
        % {"seconds": side["visible_overlap_seconds"]},
        _("%(calls)s calls = %(ratio)s × the minimum; %(per)s per changed trade")
        % {
            "calls": side["api_calls"],
            "ratio": side["ratio_to_minimum"],
            "per": side["api_calls_per_changed_trade"],
        },
        _("≤ 1.1 × the minimum"),
        _("the minimum: %(minimum)s calls, one per page of 100 changed rows (%(changed)s trades)")
        % {"minimum": side["minimum_calls"], "changed": f"{side['changed_trades']:,}"},
    )


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,}"


def process(name: str) -> str:
    """A process measured for CPU, by its name in the figures, as the reader calls it."""
    return str(PROCESSES.get(name, name))


# the processes whose CPU the scheduler part measures; others are shown as they are
PROCESSES = {"sandbox": gettext_lazy("sandbox")}


BUILDERS = (
    ("backfill", _backfill),
    ("scheduler", _scheduler),
    ("api", _api),
    ("double11", _double11),
    ("feed", _feed),
    ("tmc", _tmc),
    ("steady", _steady),
)


def markdown(parts: dict) -> list[str]:
    rows = aims(parts)
    if not rows:
        return []
    return [
        "## " + _("Aims and limits"),
        "",
        _("| figure | measured | aim | what bounds it here |"),
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ]
