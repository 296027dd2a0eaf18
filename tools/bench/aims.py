"""Each headline figure beside its aim and what bounds it on this machine.

Rows come from the parts present in the results; a part not measured says so. "Limit" is a
figure measured in the same run that the aim cannot beat here (the sandbox's page rate, the
same rows by ``COPY`` or ``psql``, a static 200 from the same gunicorn, the cores' CPU).
"""

from __future__ import annotations

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
            f"backfill, {size['trades']:,} trades",
            f"{size['trades_per_second']:,} trades/s; peak RSS {peaks} MB",
            "≥ 5,000 trades/s at 1,000,000, RSS flat",
            f"source {_n(source.get('trades_per_second'))} trades/s (sandbox pages); "
            f"write {_n(write.get('trades_per_second'))} trades/s (`COPY`)",
        )
    ]


def _scheduler(f: dict) -> list[Row]:
    lag = f["cursor_lag_seconds"]
    cpu = f.get("cpu_percent_of_one_core", {})
    return [
        (
            f"shops by one qcluster ({f['workers']} workers), every {f['cadence_minutes']} min",
            f"{f['shops']:,} shops; cursor lag p99 {lag.get('p99')} s; "
            f"{f.get('syncs_per_second_done', '—')} of {f.get('syncs_per_second_needed', '—')} "
            "syncs/s",
            f"10,000 shops, lag p99 ≤ {f.get('lag_aim_seconds', '—')} s, none skipped",
            "CPU % of one core: "
            + ", ".join(f"{name} {value}" for name, value in cpu.items())
            + f"; queue depth max {f.get('queue_depth', {}).get('max', '—')}; "
            f"{f['database'].get('xact_commit_per_second')} commits/s",
        )
    ]


def _api(f: dict) -> list[Row]:
    pages = {r["page"]: r for r in f["gunicorn"]}
    hundred, static = pages.get(100, {}), pages.get("static", {})
    return [
        (
            "partner API, `GET /api/v1/trades/?limit=100` with sub-orders",
            f"{hundred.get('requests_per_second', '—')} req/s through gunicorn; "
            f"p50 {f['in_process']['p50_ms']} ms in-process",
            "≥ 300 req/s, p50 ≤ 30 ms",
            f"the queries in `psql` alone {f.get('psql', {}).get('ms_per_request', '—')} ms; "
            f"a static 200 from the same gunicorn {static.get('requests_per_second', '—')} req/s",
        )
    ]


def _double11(f: dict) -> list[Row]:
    ours = f["ordersync"]
    return [
        (
            "Double 11 burst, API calls per changed trade (peak-mode lists)",
            f"{ours['api_calls_per_changed_trade']}",
            "≤ 1.1 (one fullinfo per trade that really changed)",
            _double11_least(ours),
        )
    ]


def _double11_least(ours: dict) -> str:
    if "fullinfo_calls" not in ours:  # figures from before fullinfo calls were counted apart
        return "≈ 1.0: every listed trade lacks its sub-orders, one `trade.fullinfo.get` each"
    trades = max(ours["trades"], 1)
    others = (ours["api_calls_trades"] - ours["fullinfo_calls"]) / trades
    return (
        f"`trade.fullinfo.get` {ours['fullinfo_per_changed_trade']} per trade (the least: one "
        "per trade listed without its sub-orders; the quiet last pass lists them whole), list "
        f"calls and retries {others:.3f} (one call per 100 trades: 0.01)"
    )


def _feed(f: dict) -> list[Row]:
    return [
        (
            f"change feed, {f['changes']:,} changes read by one client",
            f"{f['changes_per_second']:,} changes/s",
            "≥ 20,000 changes/s",
            f"the same rows by `psql`: {_n(f['psql_changes_per_second'])} changes/s",
        )
    ]


def _tmc(f: dict) -> list[Row]:
    on, off = f["on"], f["off"]
    return [
        (
            "freshness with TMC (change → visible in the API)",
            f"p50 {on['p50']} s, p99 {on['p99']} s",
            "p50 ≤ 1 s, p99 ≤ 5 s",
            f"polling alone every {f['interval_seconds']:.0f} s: p50 {off['p50']} s; "
            + _tmc_bound(f),
        )
    ]


def _tmc_bound(f: dict) -> str:
    if "collapse_seconds" not in f:  # figures measured from the whole-second `modified`
        return "the platform's `modified` has whole seconds (up to 1 s of any figure)"
    return (
        "every version counted from the instant it was made; the consumer's collapse wait "
        f"(`TMC_COLLAPSE_SECONDS`, {f['collapse_seconds']} s), a fetch, a commit"
    )


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,}"


BUILDERS = (
    ("backfill", _backfill),
    ("scheduler", _scheduler),
    ("api", _api),
    ("double11", _double11),
    ("feed", _feed),
    ("tmc", _tmc),
)


def markdown(parts: dict) -> list[str]:
    rows = aims(parts)
    if not rows:
        return []
    return [
        "## Aims and limits",
        "",
        "| figure | measured | aim | what bounds it here |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ]
