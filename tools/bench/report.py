"""Benchmark results: kept in one JSON file (parts merged across runs), shown as tables.

Each part keeps the command, time and load average of the run that measured it, so a part
re-measured alone (``--only backfill``) updates only its own rows.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tools.bench import aims

PARTS = ("naive", "double11", "backfill", "scheduler", "api", "feed", "tmc", "webhooks")


def merge(path: Path, machine: dict, parts: dict) -> dict:
    """The results in ``path`` with ``parts`` replaced; written back to ``path``."""
    results = {"machine": machine, "parts": {}}
    if path.exists():
        with contextlib.suppress(json.JSONDecodeError):  # a broken file is replaced whole
            results["parts"] = json.loads(path.read_text()).get("parts", {})
    results["parts"].update(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    return results


def headline(results: dict) -> list[tuple[str, str]]:
    """(figure, value) rows: the few numbers a reviewer compares between runs."""
    parts, rows = results["parts"], []
    if "naive" in parts:
        f = parts["naive"]["figures"]
        o, n = f["ordersync"], f["naive"]
        rows.append(
            (
                "chaos: trades / refunds lost (ordersync vs naive)",
                f"{o['trades_lost']} / {o['refunds_lost']} vs {n['trades_lost']} / "
                f"{n['refunds_lost']} (of {o['trades']}/{o['refunds']} and "
                f"{n['trades']}/{n['refunds']})",
            )
        )
        rows.append(
            (
                "chaos: API calls per changed trade / refund (ordersync vs naive)",
                f"{o['api_calls_per_changed_trade']} / {o.get('api_calls_per_changed_refund')} vs "
                f"{n['api_calls_per_changed_trade']} / {n.get('api_calls_per_changed_refund')}",
            )
        )
    if "double11" in parts:
        f = parts["double11"]["figures"]
        o, n = f["ordersync"], f["naive"]
        rows.append(
            (
                "Double 11 burst: trades / refunds lost (ordersync vs naive)",
                f"{o['trades_lost']} / {o['refunds_lost']} vs {n['trades_lost']} / "
                f"{n['refunds_lost']} (of {o['trades']:,}/{o['refunds']:,} and "
                f"{n['trades']:,}/{n['refunds']:,})",
            )
        )
    for size in parts.get("backfill", {}).get("figures", {}).get("sizes", []):
        rows.append(
            (
                f"backfill {size['trades']:,} trades",
                f"{size['trades_per_second']:,} trades/s, peak RSS {size['rss_mb_peak']} MB",
            )
        )
    if "scheduler" in parts:
        s = parts["scheduler"]["figures"]
        lag = s["cursor_lag_seconds"]
        db = s["database"]
        rows.append(
            (
                f"scheduler: {s['shops']:,} shops every {s['cadence_minutes']} min, one qcluster",
                f"cursor lag p50 {lag.get('p50')} s, p99 {lag.get('p99')} s (incl. "
                f"{s['sync_lag_seconds']} s lag); {s['api_calls_per_idle_shop_run']} API "
                f"calls per idle shop run; {db.get('xact_commit_per_second')} commits/s",
            )
        )
    if "api" in parts:
        a = parts["api"]["figures"]
        http = ", ".join(
            f"{_target(r['page'])}: {r['requests_per_second']:,.0f} req/s" for r in a["gunicorn"]
        )
        rows.append(
            (
                f"partner API on {a['trades']:,} trades",
                f"p50 {a['in_process']['p50_ms']} ms, p99 {a['in_process']['p99_ms']} ms "
                f"(limit={a['in_process']['page']}, in-process); {http or 'HTTP not measured'}",
            )
        )
    if "webhooks" in parts:
        w = parts["webhooks"]["figures"]
        rows.append(
            (
                "webhooks",
                f"{w['deliveries_per_second']} deliveries/s"
                if w.get("measured")
                else f"not measured ({w.get('reason', 'not available')})",
            )
        )
    return rows


def text(results: dict) -> str:
    rows = headline(results)
    width = max((len(name) for name, _ in rows), default=0)
    lines = ["ordersync benchmarks (this machine, one run)"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    m = results["machine"]
    lines.append(
        f"  machine: {m['cores']} cores, {m['ram_gb']} GB, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, load average {m['load_average']}"
    )
    return "\n".join(lines)


NOTES_START = "<!-- notes: written by hand; `manage.py bench` keeps them as they are -->"
NOTES_END = "<!-- end of notes -->"


def notes(path: Path) -> str:
    """The hand-written notes of the page at ``path`` (markers included), or ``""``."""
    text = path.read_text() if path.exists() else ""
    start, end = text.find(NOTES_START), text.find(NOTES_END)
    return text[start : end + len(NOTES_END)] if 0 <= start < end else ""


def write_markdown(path: Path, results: dict) -> None:
    """Render ``results`` to ``path``, keeping the notes the page already holds."""
    path.write_text(markdown(results, notes(path)))


def markdown(results: dict, kept_notes: str = "") -> str:
    m, parts = results["machine"], results["parts"]
    out = [
        "# Benchmarks",
        "",
        "Produced by `python manage.py bench` (see each part for the exact command and the load",
        "at the time). Figures from one run on one machine, not assertions: compare them between",
        "runs on the same machine. Regenerate with the command below; `docs/benchmarks.json`",
        "holds the same figures and more.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gb']} GB; {m['os']}",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}",
        f"- commit {m['git_commit']}",
        "",
        "## Headline",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in headline(results)],
        "",
        *aims.markdown(parts),
        *([kept_notes, ""] if kept_notes else []),
        "## What the figures mean",
        "",
        *MEANING,
        "",
    ]
    for name, render in RENDERERS.items():
        if name in parts:
            part = parts[name]
            out += [
                f"## {TITLES[name]}",
                "",
                f"Command: `{part['command']}` — measured {part['measured_at']}, load average "
                f"{part['load_average_before']} before, {part['load_average_after']} after "
                f"({m['cores']} cores).",
                "",
                *render(part["figures"]),
                "",
            ]
    return "\n".join(out)


def _naive(f: dict) -> list[str]:
    o, n = f["ordersync"], f["naive"]
    rows = [
        ("trades in the ground truth", "trades"),
        ("trades lost (missing + stale by content)", "trades_lost"),
        ("… missing", "trades_missing"),
        ("… stale (stored content is not the platform's)", "trades_stale"),
        ("refunds in the ground truth", "refunds"),
        ("refunds lost (missing + stale by content)", "refunds_lost"),
        ("most records late at one check during the run", "late_during_run"),
        ("API calls (trades + refunds)", "api_calls"),
        ("API calls per changed trade (trade APIs / trades)", "api_calls_per_changed_trade"),
        ("API calls per changed refund (refund APIs / refunds)", "api_calls_per_changed_refund"),
        ("API calls per changed record (all / trades + refunds)", "api_calls_per_changed_record"),
        ("wall time in sync calls (s)", "sync_seconds"),
    ]
    return [
        f"{f['scenario']}: {f['seconds']} s of market and faults, {f['rounds']} rounds (each "
        f"runs both schemes once), {f['errors_injected']} faults injected, then one last pass "
        f"after the visibility lag. ordersync runs with a {f['sync_lag_seconds']} s lag and "
        f"a {f.get('sync_overlap_seconds', '300')} s overlap; the sandbox's lag switches "
        f"between {f.get('sandbox_lag_seconds', '?')} s, part of the time above the configured "
        f"lag. After the market stops the faults stay on until every change is due; "
        f"{f.get('checks_during_run', 0)} checks while the faults were on compared every "
        f"record made more than its lag + {f.get('grace_seconds', '?')} s earlier by content "
        f"(the last one {f.get('due_at_last_check', 0)} records).",
        "",
        "| | ordersync | naive scheme |",
        "|---|---:|---:|",
        *[f"| {label} | {o.get(key, '—')} | {n.get(key, '—')} |" for label, key in rows],
        "",
        "Faults: " + ", ".join(f"{k}={v}" for k, v in f["faults"].items() if v),
    ]


def _backfill(f: dict) -> list[str]:
    return [
        "One child process per size (its own peak RSS); the sandbox runs in another process.",
        "Beside each size, on the same rows: the sandbox's raw page rate (the source limit:",
        "every page read, nothing written) and the stored rows loaded again with `COPY` into",
        "the same tables (the write limit: no upsert, no change feed). CPU: seconds of a core",
        "per 1,000 trades written, of the backfilling process, the PostgreSQL backends of its",
        "database and the sandbox, over the backfill; the three share the machine's cores.",
        "",
        "| trades | seconds | trades/s | source limit (trades/s) | COPY (trades/s) | API calls "
        "| RSS before (MB) | peak RSS (MB) | RSS by quarter (MB) "
        "| CPU s / 1,000 trades (ordersync / PostgreSQL / sandbox) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        *[
            f"| {s['trades']:,} | {s['seconds']} | {s['trades_per_second']:,} "
            f"| {_limit(s, 'source')} | {_limit(s, 'write')} | {s['api_calls']:,} "
            f"| {s['rss_mb_before']} | {s['rss_mb_peak']} | {s['rss_mb_by_quarter']} "
            f"| {_cpu(s)} |"
            for s in f["sizes"]
        ],
    ]


def _cpu(size: dict) -> str:
    cpu = size.get("cpu_per_1000_trades")
    if not cpu:
        return "—"
    return " / ".join(str(cpu.get(name, "—")) for name in ("ordersync", "postgresql", "sandbox"))


def _limit(size: dict, name: str) -> str:
    limit = size.get("limits", {}).get(name)
    return f"{limit['trades_per_second']:,}" if limit else "—"


def _feed(f: dict) -> list[str]:
    return [
        f"{f['changes']:,} changes of one tenant read by one client in pages of {f['page']:,} "
        "(Django's test client in-process: the API's own cost, no network).",
        "",
        "| reader | seconds | changes/s |",
        "|---|---:|---:|",
        f"| GET /api/v1/changes/ ({f['pages']:,} pages) | {f['seconds']} "
        f"| {f['changes_per_second']:,} |",
        f"| the same rows, same join and order, copied out by `psql` (the floor) "
        f"| {f['psql_seconds']} | {f['psql_changes_per_second']:,} |",
    ]


def _tmc(f: dict) -> list[str]:
    from tools.bench.tmc import lines

    return ["```", *lines(f), "```"]


def _scheduler(f: dict) -> list[str]:
    lag, run_ms, db = f["cursor_lag_seconds"], f["run_ms"], f["database"]
    gaps = f.get("seconds_between_runs", {})
    cpu = f.get("cpu_percent_of_one_core") or {"qcluster": f["cluster_cpu_percent"]}
    rows = [
        ("shops (with a live market)", f"{f['shops']:,} ({f['active_shops']})"),
        ("cadence, cycles", f"every {f['cadence_minutes']} min, {f['cycles']} cycles"),
        ("qcluster workers", f["workers"]),
        ("dispatch", f.get("dispatcher", "one django-q2 schedule per shop")),
        (
            "first cycle (every shop synced once)",
            f"{f['first_cycle_seconds']} s"
            + (
                f" ({f['shops_run_in_first_cycle']:,} of {f['shops']:,} shops ran)"
                if "shops_run_in_first_cycle" in f
                else ""
            ),
        ),
        (
            "syncs/s the cadence needs / the cluster ran",
            f"{f.get('syncs_per_second_needed', '—')} / {f.get('syncs_per_second_done', '—')}",
        ),
        (
            "cursor lag p50 / p99 / max (s)",
            f"{lag.get('p50')} / {lag.get('p99')} / {lag.get('max')} "
            f"(aim: p99 ≤ {f.get('lag_aim_seconds', '—')} s = cadence + "
            f"{f['sync_lag_seconds']} s lag + 60 s; {lag.get('samples')} samples)",
        ),
        (
            "seconds between a shop's runs p50 / p99 / max",
            f"{gaps.get('p50')} / {gaps.get('p99')} / {gaps.get('max')} "
            f"({f.get('gaps_over_cadence_plus_60s', '—')} over cadence + 60 s)",
        ),
        ("API calls per idle shop run (trades + refunds)", f["api_calls_per_idle_shop_run"]),
        ("sync runs by outcome", ", ".join(f"{k} {v}" for k, v in f["runs"].items() if v)),
        ("run duration p50 / p99 (ms)", f"{run_ms.get('p50')} / {run_ms.get('p99')}"),
        *[(f"CPU of {name} (% of one core)", value) for name, value in cpu.items()],
    ]
    if "queue_depth" in f:
        depth = f["queue_depth"]
        rows.append(
            (
                "broker queue depth p50 / p99 / max",
                f"{depth.get('p50')} / {depth.get('p99')} / {depth.get('max')}",
            )
        )
    rows += [
        (f"PostgreSQL {name.replace('_per_second', '')}/s", value)
        for name, value in db.items()
        if name.endswith("_per_second")
    ]
    return [
        f"Measured over the steady part ({f['steady_seconds']} s, after every shop ran once).",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in rows],
        *_timeline(f.get("timeline", [])),
    ]


def _timeline(rows: list[dict]) -> list[str]:
    """Every ~30 s: the broker's queue depth, CPU (% of one core) and commits/s."""
    if not rows:
        return []
    names = [k for k in rows[0] if k not in ("t", "queue")]
    return [
        "",
        "Over time (every ~30 s; CPU in % of one core):",
        "",
        "| s | queue depth | " + " | ".join(n.replace("_", " ") for n in names) + " |",
        "|---:|---:|" + "---:|" * len(names),
        *[
            f"| {r['t']} | {r['queue']} | " + " | ".join(str(r[n]) for n in names) + " |"
            for r in rows
        ],
    ]


def _api(f: dict) -> list[str]:
    p = f["in_process"]
    out = [
        f"{f['trades']:,} trades with {f['lines']} sub-orders each in one tenant.",
        "",
        "| measurement | p50 (ms) | p99 (ms) | requests/s |",
        "|---|---:|---:|---:|",
        f"| in-process GET /api/v1/trades/?limit={p['page']}, {p['requests']} requests "
        f"| {p['p50_ms']} | {p['p99_ms']} | |",
    ]
    if "psql" in f:
        q = f["psql"]
        out.append(
            f"| the same request's {q['queries']} queries in `psql` alone (the database floor, "
            f"mean of {q['repeat']}) | {q['ms_per_request']} | | |"
        )
    out += [
        f"| gunicorn -w {r['workers']}, {r['clients']} client threads, {r['seconds']:.0f} s, "
        f"{_target(r['page'])} ({r['errors']} errors) | {r['p50_ms']} | {r['p99_ms']} "
        f"| {r['requests_per_second']:,.0f} |"
        for r in f["gunicorn"]
    ]
    return out


def _target(page: int | str) -> str:
    return "a static 200 (the framework floor)" if page == "static" else f"limit={page}"


def _webhooks(f: dict) -> list[str]:
    if not f.get("measured"):
        return [f"webhooks: not measured ({f.get('reason', 'not available')})"]
    return [
        "| figure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in f.items() if k not in ("measured", "output")],
    ]


MEANING = [
    "- **Lost** trades or refunds: in the sandbox's ground truth at the end but missing from the",
    "  scheme's store, or stored with other content: the hash of the whole stored record (the",
    "  fields ordersync asks for) differs from the record as `trade.fullinfo.get` /",
    "  `taobao.refund.get` render it now. An older version, a list entry without sub-orders or",
    "  the wrong one of two same-second versions all count.",
    "- **Late during the run**: every few seconds while the faults are on, the records whose",
    "  current version was made more than (its visibility lag, at least the configured one) +",
    "  a grace of about one interval ago are compared by content too; the figure is the most",
    "  found missing or stale at one check. An engine that is idle during the faults and",
    "  catches up in a final quiet pass scores 0 lost at the end but fails here.",
    "- **API calls per changed trade**: calls to the trade list APIs (with retries, re-reads of",
    "  the overlap and `trade.fullinfo.get`) divided by the trades that exist at the end; the",
    "  platform quota, not CPU, is the real ceiling. The naive scheme spends fewer calls because",
    "  it never retries, never re-reads and never waits out a ban; that is how it loses orders.",
    "- **Wall time in sync calls**: seconds spent inside each scheme's sync calls. ordersync's",
    "  includes its backoff after faults and the injected hangs and slow answers it waits out.",
    "- **Backfill trades/s**: trades written to PostgreSQL per second of `backfill_shop` (its",
    "  time includes the refunds backfill that follows), pages fetched from the sandbox on",
    "  loopback, 30 days of history. **Peak RSS**: the high-water mark of a process that",
    "  did only that backfill; equal peaks for both sizes mean memory does not grow with size.",
    "- **Syncs/s needed / ran**: the shops divided by the cadence against the scheduled syncs",
    "  the cluster started per second once every shop had run (or two intervals had passed).",
    "- **Cursor lag**: platform now minus a shop's trades cursor, sampled every few seconds for",
    "  every shop. It includes the configured visibility lag (`SYNC_LAG_SECONDS`) and up to one",
    "  cadence interval by design: p50 ≈ lag + interval/2 means the cluster keeps up.",
    "- **API calls per idle shop run**: calls one scheduled sync of a shop without changes makes",
    "  (one per stream: the last page of an empty window).",
    "- **Database load**: `pg_stat_database` deltas per second of the whole database while the",
    "  cluster ran (commits, rows read, written).",
    "- **CPU (% of one core)**: user + system time of the qcluster (with its workers), of the",
    "  PostgreSQL backends serving the benchmark's database and of the sandbox, over the",
    "  steady part; on 2 cores shared with other work, 200 is everything.",
    "- **Partner API**: the trade list with sub-orders, 100 a page, on a tenant of that many",
    "  trades; latency in-process (no network), requests/s through gunicorn on loopback with the",
    "  load generator on the same 2 cores.",
]

RENDERERS = {
    "naive": _naive,
    "double11": _naive,
    "backfill": _backfill,
    "scheduler": _scheduler,
    "api": _api,
    "feed": _feed,
    "tmc": _tmc,
    "webhooks": _webhooks,
}
TITLES = {
    "naive": "1. ordersync vs the naive scheme (chaos scenario)",
    "double11": "1b. ordersync vs the naive scheme (a Double 11 burst)",
    "backfill": "2. Backfill",
    "scheduler": "3. Scheduler scale",
    "api": "4. Partner API",
    "feed": "4b. Change feed",
    "tmc": "4c. Freshness with TMC",
    "webhooks": "5. Webhooks",
}
