"""Benchmark results: kept in one JSON file (parts merged across runs), shown as tables.

Each part keeps the command, time and load average of the run that measured it, so a part
re-measured alone (``--only backfill``) updates only its own rows. The tables are one page in
English and its translation beside it in ``zh/``, both rendered from the same figures by the
one renderer below: its labels are gettext, figures, commands and code stay as they are.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tools.bench import aims

PARTS = (
    "naive",
    "double11",
    "backfill",
    "scheduler",
    "api",
    "feed",
    "tmc",
    "steady",
    "webhooks",
)


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


def commits(results: dict) -> list[str]:
    """The commits the page's parts were measured at, the latest run's first: a part run
    alone (``--only``) leaves the others' figures of their own commit."""
    latest = results["machine"]["git_commit"]
    others = {part.get("git_commit", latest) for part in results["parts"].values()}
    return [latest, *sorted(others - {latest})]


def headline(results: dict) -> list[tuple[str, str]]:
    """(figure, value) rows: the few numbers a reviewer compares between runs."""
    parts, rows = results["parts"], []
    if "naive" in parts:
        f = parts["naive"]["figures"]
        o, n = f["ordersync"], f["naive"]
        rows.append((_("chaos: trades / refunds lost (ordersync vs naive)"), _lost(o, n, "{}")))
        rows.append(
            (
                _("chaos: API calls per changed trade / refund (ordersync vs naive)"),
                _versus(
                    f"{o['api_calls_per_changed_trade']} / {o.get('api_calls_per_changed_refund')}",
                    f"{n['api_calls_per_changed_trade']} / {n.get('api_calls_per_changed_refund')}",
                ),
            )
        )
        if "first_pass" in o:
            rows.append((_("chaos: ordersync after the market"), caught_up(o)))
    if "double11" in parts:
        f = parts["double11"]["figures"]
        o, n = f["ordersync"], f["naive"]
        rows.append(
            (_("Double 11 burst: trades / refunds lost (ordersync vs naive)"), _lost(o, n, "{:,}"))
        )
        if "first_pass" in o:
            rows.append((_("Double 11 burst: ordersync after the market"), caught_up(o)))
    for size in parts.get("backfill", {}).get("figures", {}).get("sizes", []):
        rows.append(
            (
                _("backfill %(trades)s trades") % {"trades": f"{size['trades']:,}"},
                _("%(rate)s trades/s, peak RSS %(peak)s MB")
                % {"rate": f"{size['trades_per_second']:,}", "peak": size["rss_mb_peak"]},
            )
        )
    if "scheduler" in parts:
        s = parts["scheduler"]["figures"]
        lag = s["cursor_lag_seconds"]
        db = s["database"]
        rows.append(
            (
                _("scheduler: %(shops)s shops every %(minutes)s min, one qcluster")
                % {"shops": f"{s['shops']:,}", "minutes": s["cadence_minutes"]},
                _(
                    "cursor lag p50 %(p50)s s, p99 %(p99)s s (incl. %(lag)s s lag); %(calls)s API "
                    "calls per idle shop run; %(commits)s commits/s"
                )
                % {
                    "p50": lag.get("p50"),
                    "p99": lag.get("p99"),
                    "lag": s["sync_lag_seconds"],
                    "calls": s["api_calls_per_idle_shop_run"],
                    "commits": db.get("xact_commit_per_second"),
                },
            )
        )
    if "api" in parts:
        a = parts["api"]["figures"]
        http = _(", ").join(
            _("%(target)s: %(rate)s req/s")
            % {"target": _target(r["page"]), "rate": f"{r['requests_per_second']:,.0f}"}
            for r in a["gunicorn"]
        )
        p = a["in_process"]
        rows.append(
            (
                _("partner API on %(trades)s trades") % {"trades": f"{a['trades']:,}"},
                _("p50 %(p50)s ms, p99 %(p99)s ms (limit=%(page)s, in-process); %(http)s")
                % {
                    "p50": p["p50_ms"],
                    "p99": p["p99_ms"],
                    "page": p["page"],
                    "http": http or _("HTTP not measured"),
                },
            )
        )
    if "steady" in parts:
        f = parts["steady"]["figures"]
        rows.append(
            (
                _("steady state: API calls / the minimum (default vs %(short)s s visible overlap)")
                % {"short": f["short"]["visible_overlap_seconds"]},
                _versus(
                    f"{f['default']['ratio_to_minimum']}×", f"{f['short']['ratio_to_minimum']}×"
                ),
            )
        )
    if "webhooks" in parts:
        w = parts["webhooks"]["figures"]
        rows.append(
            (
                _("webhooks"),
                _("%(rate)s deliveries/s") % {"rate": w["deliveries_per_second"]}
                if w.get("measured")
                else _not_measured(w),
            )
        )
    return rows


def _versus(ours: str, naive: str) -> str:
    return _("%(ours)s vs %(naive)s") % {"ours": ours, "naive": naive}


def _lost(o: dict, n: dict, count: str) -> str:
    """Trades / refunds lost by each scheme, then their totals written with ``count``."""
    return _("%(versus)s (of %(ours)s and %(naive)s)") % {
        "versus": _versus(
            f"{o['trades_lost']} / {o['refunds_lost']}", f"{n['trades_lost']} / {n['refunds_lost']}"
        ),
        "ours": f"{count.format(o['trades'])}/{count.format(o['refunds'])}",
        "naive": f"{count.format(n['trades'])}/{count.format(n['refunds'])}",
    }


def caught_up(side: dict) -> str:
    """When a side's store equalled the ground truth after the market, and how far behind
    its first quiet pass found it."""
    first = side["first_pass"]
    behind = _(
        "%(trades)s / %(refunds)s trades / refunds missing or stale at the first quiet pass"
    ) % {
        "trades": f"{first['trades_lost']:,}",
        "refunds": f"{first['refunds_lost']:,}",
    }
    if side["caught_up"]:
        done = _("caught up %(seconds)s s after the market stopped, in %(passes)s quiet passes") % {
            "seconds": side["catch_up_seconds"],
            "passes": side["catch_up_passes"],
        }
    else:
        done = _("not caught up: %(passes)s quiet passes until %(seconds)s s after the market") % {
            "seconds": side["passes_ended_seconds"],
            "passes": side["catch_up_passes"],
        }
    return _("%(done)s; %(behind)s") % {"done": done, "behind": behind}


def _not_measured(f: dict) -> str:
    return _("not measured (%(reason)s)") % {"reason": f.get("reason", _("not available"))}


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


TRANSLATED = {"zh-hans": "zh"}  # language → folder of its page, beside the English one


def pages(path: Path) -> dict[str, Path]:
    """Each language's page: ``path`` in English, its translations in folders beside it."""
    return {"en": path} | {
        language: path.parent / folder / path.name for language, folder in TRANSLATED.items()
    }


def write_markdown(path: Path, results: dict) -> None:
    """Render ``results`` to ``path`` and its translations, keeping the notes each page holds."""
    for language, page in pages(path).items():
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(markdown(results, notes(page), language, english=path.name))


def markdown(
    results: dict, kept_notes: str = "", language: str = "en", english: str = "benchmarks.md"
) -> str:
    """The page in ``language``; a translation links back to the English page ``english``."""
    with translation.override(language):
        return _markdown(results, kept_notes, _languages(language, english))


def _languages(language: str, english: str) -> list[str]:
    """A translated page's first line: a link to the English page, then its own language."""
    if language == "en":
        return []
    names = {code: translation.get_language_info(code)["name_local"] for code in ("en", language)}
    return [f"[{names['en']}](../{english}) · {names[language]}", ""]


def _markdown(results: dict, kept_notes: str, languages: list[str]) -> str:
    m, parts = results["machine"], results["parts"]
    out = [
        "# " + _("Benchmarks"),
        "",
        *languages,
        _(
            "Produced by `python manage.py bench` (see each part for the exact command and the "
            "load\n"
            "at the time). Figures from one run on one machine, not assertions: compare them "
            "between\n"
            "runs on the same machine. Regenerate with the command below; `docs/benchmarks.json`\n"
            "holds the same figures and more."
        ),
        "",
        "## " + _("Machine"),
        "",
        "- "
        + _("CPU: %(cpu)s, %(cores)s cores; RAM %(ram)s GB; %(os)s")
        % {"cpu": m["cpu"], "cores": m["cores"], "ram": m["ram_gb"], "os": m["os"]},
        "- "
        + _("Python %(python)s, PostgreSQL %(postgresql)s")
        % {"python": m["python"], "postgresql": m["postgresql"]},
        "- " + _("commit %(commit)s") % {"commit": ", ".join(commits(results))},
        "",
        "## " + _("Headline"),
        "",
        _("| figure | value |"),
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in headline(results)],
        "",
        *aims.markdown(parts),
        *([kept_notes, ""] if kept_notes else []),
        "## " + _("What the figures mean"),
        "",
        *map(str, MEANING),
        "",
    ]
    for name, render in RENDERERS.items():
        if name in parts:
            part = parts[name]
            out += [
                f"## {TITLES[name]}",
                "",
                _(
                    "Command: `%(command)s` at commit %(commit)s — measured %(at)s, load average "
                    "%(before)s before, %(after)s after (%(cores)s cores)."
                )
                % {
                    "command": part["command"],
                    "commit": part.get("git_commit", "?"),
                    "at": part["measured_at"],
                    "before": part["load_average_before"],
                    "after": part["load_average_after"],
                    "cores": m["cores"],
                },
                "",
                *render(part["figures"]),
                "",
            ]
    return "\n".join(out)


def _naive(f: dict) -> list[str]:
    o, n = f["ordersync"], f["naive"]
    rows = [
        (_("trades in the ground truth"), "trades"),
        (_("trades lost (missing + stale by content)"), "trades_lost"),
        (_("… missing"), "trades_missing"),
        (_("… stale (stored content is not the platform's)"), "trades_stale"),
        (_("refunds in the ground truth"), "refunds"),
        (_("refunds lost (missing + stale by content)"), "refunds_lost"),
        (_("most records late at one check during the run"), "late_during_run"),
        (_("API calls (trades + refunds)"), "api_calls"),
        (_("API calls per changed trade (trade APIs / trades)"), "api_calls_per_changed_trade"),
        (_("API calls per changed refund (refund APIs / refunds)"), "api_calls_per_changed_refund"),
        (
            _("API calls per changed record (all / trades + refunds)"),
            "api_calls_per_changed_record",
        ),
        (_("wall time in sync calls (s)"), "sync_seconds"),
    ]
    return [
        _intro(f),
        "",
        _("| | ordersync | naive scheme |"),
        "|---|---:|---:|",
        *[f"| {label} | {o.get(key, '—')} | {n.get(key, '—')} |" for label, key in rows],
        *[f"| {label} | {ours} | {naive} |" for label, ours, naive in _catch_up_rows(o, n)],
        "",
        _("Faults: ") + ", ".join(f"{k}={v}" for k, v in f["faults"].items() if v),
    ]


def _catch_up_rows(o: dict, n: dict) -> list[tuple[str, str, str]]:
    """The first quiet pass and the passes after it, for figures that have them."""
    if "first_pass" not in o:
        return []

    def first(side: dict) -> str:
        return f"{side['first_pass']['trades_lost']:,} / {side['first_pass']['refunds_lost']:,}"

    def seconds(side: dict) -> str:
        if side["caught_up"]:
            return str(side["catch_up_seconds"])
        return _("not caught up (passes ended at %(seconds)s s)") % {
            "seconds": side["passes_ended_seconds"]
        }

    return [
        (_("trades / refunds missing or stale at the first quiet pass"), first(o), first(n)),
        (
            _("caught up (store equal to the ground truth by content)"),
            _yes(o["caught_up"]),
            _yes(n["caught_up"]),
        ),
        (
            _("quiet passes after the market (the first one included)"),
            str(o["catch_up_passes"]),
            str(n["catch_up_passes"]),
        ),
        (_("seconds from the market's stop until caught up"), seconds(o), seconds(n)),
    ]


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


def _intro(f: dict) -> str:
    values = {
        "scenario": f["scenario"],
        "seconds": f["seconds"],
        "rounds": f["rounds"],
        "faults": f["errors_injected"],
        "lag": f["sync_lag_seconds"],
        "overlap": f.get("sync_overlap_seconds", "300"),
        "sandbox_lag": f.get("sandbox_lag_seconds", "?"),
        "checks": f.get("checks_during_run", 0),
        "grace": f.get("grace_seconds", "?"),
        "due": f.get("due_at_last_check", 0),
    }
    if "catch_up_cap_seconds" not in f:  # figures from before the passes after the market
        return _old_intro(values)
    return _(
        "%(scenario)s: %(seconds)s s of market and faults, %(rounds)s rounds (each runs both "
        "schemes once; %(after)s of them after the market stopped), %(faults)s faults "
        "injected. ordersync runs with a %(lag)s s lag and a %(overlap)s s overlap; the "
        "sandbox's lag switches between %(sandbox_lag)s s, part of the time above the "
        "configured lag. After the market stops the faults stay on until every change is due; "
        "%(checks)s checks while the faults were on compared every record made more than its "
        "lag + %(grace)s s earlier by content (the last one %(due)s records). Then a first "
        "quiet pass after the visibility lag, and each side's passes until its store equals "
        "the ground truth by content (at most %(cap)s min); the comparisons go on until every "
        "change could be listed (the sandbox's largest lag %(largest)s s, its heavy tail "
        "included). Lost: missing or stale at the end."
    ) % {
        **values,
        "after": f.get("rounds_after_market", "?"),
        "cap": f"{f['catch_up_cap_seconds'] / 60:g}",
        "largest": f.get("largest_lag_seconds", "?"),
    }


def _old_intro(values: dict) -> str:
    return (
        _(
            "%(scenario)s: %(seconds)s s of market and faults, %(rounds)s rounds (each runs both "
            "schemes once), %(faults)s faults injected, then one last pass after the visibility "
            "lag. ordersync runs with a %(lag)s s lag and a %(overlap)s s overlap; the sandbox's "
            "lag switches between %(sandbox_lag)s s, part of the time above the configured lag. "
            "After the market stops the faults stay on until every change is due; %(checks)s "
            "checks while the faults were on compared every record made more than its lag + "
            "%(grace)s s earlier by content (the last one %(due)s records)."
        )
        % values
    )


def _backfill(f: dict) -> list[str]:
    return [
        _(
            "One child process per size (its own peak RSS); the sandbox runs in another process.\n"
            "Beside each size, on the same rows: the sandbox's raw page rate (the source limit:\n"
            "every page read, nothing written) and the stored rows loaded again with `COPY` into\n"
            "the same tables (the write limit: no upsert, no change feed). CPU: seconds of a core\n"
            "per 1,000 trades written, of the backfilling process, the PostgreSQL backends of its\n"
            "database and the sandbox, over the backfill; the three share the machine's cores."
        ),
        "",
        _(
            "| trades | seconds | trades/s | source limit (trades/s) | COPY (trades/s) | API calls "
            "| RSS before (MB) | peak RSS (MB) | RSS by quarter (MB) "
            "| CPU s / 1,000 trades (ordersync / PostgreSQL / sandbox) |"
        ),
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


def _settled(f: dict) -> list[str]:
    """The wait for the machine to settle before a timed part, when it had one."""
    w = f.get("settle")
    if not w:
        return []
    values = {
        "threshold": w["threshold"],
        "max": f"{w['max_seconds']:.0f}",
        "waited": w["waited_seconds"],
        "before": w["load_average_before"],
        "after": w["load_average_after"],
    }
    if w["settled"]:
        line = _(
            "Before timing, waited %(waited)s s for the 1-minute load average to fall to "
            "%(threshold)s (at most %(max)s s): load %(before)s, then %(after)s."
        )
    else:
        line = _(
            "Before timing, waited %(waited)s s for the 1-minute load average to fall to "
            "%(threshold)s (at most %(max)s s); it did not: load %(before)s, then %(after)s, "
            "so this part measured a busy machine."
        )
    return [line % values, ""]


def _feed(f: dict) -> list[str]:
    return [
        *_settled(f),
        _(
            "%(changes)s changes of one tenant read by one client in pages of %(page)s "
            "(Django's test client in-process: the API's own cost, no network)."
        )
        % {"changes": f"{f['changes']:,}", "page": f"{f['page']:,}"},
        "",
        _("| reader | seconds | changes/s |"),
        "|---|---:|---:|",
        "| "
        + _("GET /api/v1/changes/ (%(pages)s pages)") % {"pages": f"{f['pages']:,}"}
        + f" | {f['seconds']} | {f['changes_per_second']:,} |",
        "| "
        + _("the same rows, same join and order, copied out by `psql` (the floor)")
        + f" | {f['psql_seconds']} | {f['psql_changes_per_second']:,} |",
    ]


def _tmc(f: dict) -> list[str]:
    from tools.bench.tmc import lines

    return ["```", *lines(f), "```"]


def _scheduler(f: dict) -> list[str]:
    lag, run_ms, db = f["cursor_lag_seconds"], f["run_ms"], f["database"]
    gaps = f.get("seconds_between_runs", {})
    cpu = f.get("cpu_percent_of_one_core") or {"qcluster": f["cluster_cpu_percent"]}
    rows = [
        (_("shops (with a live market)"), f"{f['shops']:,} ({f['active_shops']})"),
        (
            _("cadence, cycles"),
            _("every %(minutes)s min, %(cycles)s cycles")
            % {"minutes": f["cadence_minutes"], "cycles": f["cycles"]},
        ),
        (_("qcluster workers"), f["workers"]),
        (_("dispatch"), f.get("dispatcher", _("one django-q2 schedule per shop"))),
        (_("first cycle (every shop synced once)"), _first_cycle(f)),
        (
            _("syncs/s the cadence needs / the cluster ran"),
            f"{f.get('syncs_per_second_needed', '—')} / {f.get('syncs_per_second_done', '—')}",
        ),
        (
            _("cursor lag p50 / p99 / max (s)"),
            _(
                "%(p50)s / %(p99)s / %(max)s (aim: p99 ≤ %(aim)s s = cadence + %(lag)s s lag "
                "+ 60 s; %(samples)s samples)"
            )
            % {
                "p50": lag.get("p50"),
                "p99": lag.get("p99"),
                "max": lag.get("max"),
                "aim": f.get("lag_aim_seconds", "—"),
                "lag": f["sync_lag_seconds"],
                "samples": lag.get("samples"),
            },
        ),
        (
            _("seconds between a shop's runs p50 / p99 / max"),
            _("%(p50)s / %(p99)s / %(max)s (%(over)s over cadence + 60 s)")
            % {
                "p50": gaps.get("p50"),
                "p99": gaps.get("p99"),
                "max": gaps.get("max"),
                "over": f.get("gaps_over_cadence_plus_60s", "—"),
            },
        ),
        (_("API calls per idle shop run (trades + refunds)"), f["api_calls_per_idle_shop_run"]),
        (_("sync runs by outcome"), ", ".join(f"{k} {v}" for k, v in f["runs"].items() if v)),
        (_("run duration p50 / p99 (ms)"), f"{run_ms.get('p50')} / {run_ms.get('p99')}"),
        *[
            (_("CPU of %(name)s (%% of one core)") % {"name": aims.process(name)}, value)
            for name, value in cpu.items()
        ],
    ]
    if "queue_depth" in f:
        depth = f["queue_depth"]
        rows.append(
            (
                _("broker queue depth p50 / p99 / max"),
                f"{depth.get('p50')} / {depth.get('p99')} / {depth.get('max')}",
            )
        )
    rows += [
        (_("PostgreSQL %(name)s/s") % {"name": name.replace("_per_second", "")}, value)
        for name, value in db.items()
        if name.endswith("_per_second")
    ]
    return [
        _("Measured over the steady part (%(seconds)s s, after every shop ran once).")
        % {"seconds": f["steady_seconds"]},
        "",
        _("| figure | value |"),
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in rows],
        *_timeline(f.get("timeline", [])),
    ]


def _first_cycle(f: dict) -> str:
    if "shops_run_in_first_cycle" not in f:
        return _("%(seconds)s s") % {"seconds": f["first_cycle_seconds"]}
    return _("%(seconds)s s (%(ran)s of %(shops)s shops ran)") % {
        "seconds": f["first_cycle_seconds"],
        "ran": f"{f['shops_run_in_first_cycle']:,}",
        "shops": f"{f['shops']:,}",
    }


def _timeline(rows: list[dict]) -> list[str]:
    """Every ~30 s: the broker's queue depth, CPU (% of one core) and commits/s."""
    if not rows:
        return []
    names = [k for k in rows[0] if k not in ("t", "queue")]
    return [
        "",
        _("Over time (every ~30 s; CPU in %% of one core):") % {},
        "",
        _("| s | queue depth | ") + " | ".join(map(_column, names)) + " |",
        "|---:|---:|" + "---:|" * len(names),
        *[
            f"| {r['t']} | {r['queue']} | " + " | ".join(str(r[n]) for n in names) + " |"
            for r in rows
        ],
    ]


def _column(name: str) -> str:
    return str(COLUMNS.get(name, name.replace("_", " ")))


def _api(f: dict) -> list[str]:
    p = f["in_process"]
    out = [
        *_settled(f),
        _("%(trades)s trades with %(lines)s sub-orders each in one tenant.")
        % {"trades": f"{f['trades']:,}", "lines": f["lines"]},
        "",
        _("| measurement | p50 (ms) | p99 (ms) | requests/s |"),
        "|---|---:|---:|---:|",
        "| "
        + _("in-process GET /api/v1/trades/?limit=%(page)s, %(requests)s requests")
        % {"page": p["page"], "requests": p["requests"]}
        + f" | {p['p50_ms']} | {p['p99_ms']} | |",
    ]
    if "psql" in f:
        q = f["psql"]
        out.append(
            "| "
            + _(
                "the same request's %(queries)s queries in `psql` alone (the database floor, "
                "mean of %(repeat)s)"
            )
            % {"queries": q["queries"], "repeat": q["repeat"]}
            + f" | {q['ms_per_request']} | | |"
        )
    out += [
        "| "
        + _(
            "gunicorn -w %(workers)s, %(clients)s client threads, %(seconds)s s, %(target)s "
            "(%(errors)s errors)"
        )
        % {
            # the flags as given to gunicorn: threads (gthread workers) when there were some
            "workers": _workers(r),
            "clients": r["clients"],
            "seconds": f"{r['seconds']:.0f}",
            "target": _target(r["page"]),
            "errors": r["errors"],
        }
        + f" | {r['p50_ms']} | {r['p99_ms']} | {r['requests_per_second']:,.0f} |"
        for r in f["gunicorn"]
    ]
    return out


def _workers(r: dict) -> str:
    threads = r.get("threads", 1)
    return f"{r['workers']} --threads {threads}" if threads > 1 else str(r["workers"])


def _target(page: int | str) -> str:
    return _("a static 200 (the framework floor)") if page == "static" else f"limit={page}"


def _steady(f: dict) -> list[str]:
    sides = (f["default"], f["short"])
    rows = [
        (_("visible overlap (s)"), "visible_overlap_seconds"),
        (_("overlap on `modified` (s)"), "overlap_seconds"),
        (_("sync runs"), "runs"),
        (_("changed trades (written)"), "changed_trades"),
        (_("rows listed"), "rows_read"),
        (_("API calls"), "api_calls"),
        (_("the minimum: one call per page of 100 changed rows"), "minimum_calls"),
        (_("API calls / the minimum (aim ≤ 1.1)"), "ratio_to_minimum"),
        (_("API calls per changed trade"), "api_calls_per_changed_trade"),
    ]
    by_run = zip(*(side["by_run"] for side in sides), strict=True)
    return [
        _(
            "Two fresh shops on one sandbox with the same market (%(rate)s changes/min, a third "
            "new trades), synced alternately after the lag: one at the configured "
            "`SYNC_VISIBLE_OVERLAP_SECONDS`, one at %(short)s s."
        )
        % {"rate": f["changes_per_minute"], "short": f["short"]["visible_overlap_seconds"]},
        "",
        _("| | default overlap | short overlap |"),
        "|---|---:|---:|",
        *[f"| {label} | {sides[0][key]} | {sides[1][key]} |" for label, key in rows],
        "",
        _("Load average over the runs: %(before)s before, %(after)s after.")
        % dict(zip(("before", "after"), sides[0]["load_average"], strict=True)),
        "",
        _("Each run: API calls, rows listed, trades written (default overlap | short overlap)."),
        "",
        _("| run | calls | rows | written | calls | rows | written |"),
        "|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {n} | " + " | ".join(str(v) for v in [*ours, *short]) + " |"
            for n, (ours, short) in enumerate(by_run, 1)
        ],
    ]


def _webhooks(f: dict) -> list[str]:
    if not f.get("measured"):
        return [_("webhooks: %(result)s") % {"result": _not_measured(f)}]
    return [
        _("| figure | value |"),
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in f.items() if k not in ("measured", "output")],
    ]


MEANING = [
    gettext_lazy(
        "- **Lost** trades or refunds: in the sandbox's ground truth at the end but missing from "
        "the\n"
        "  scheme's store, or stored with other content: the hash of the whole stored record (the\n"
        "  fields ordersync asks for) differs from the record as `trade.fullinfo.get` /\n"
        "  `taobao.refund.get` render it now. An older version, a list entry without sub-orders "
        "or\n"
        "  the wrong one of two same-second versions all count."
    ),
    gettext_lazy(
        "- **Late during the run**: every few seconds while the faults are on, the records whose\n"
        "  current version was made more than (its visibility lag, at least the configured one) +\n"
        "  a grace of about one interval ago are compared by content too; the figure is the most\n"
        "  found missing or stale at one check. An engine that is idle during the faults and\n"
        "  catches up in a final quiet pass scores 0 lost at the end but fails here."
    ),
    gettext_lazy(
        "- **API calls per changed trade**: calls to the trade list APIs (with retries, re-reads "
        "of\n"
        "  the overlap and `trade.fullinfo.get`) divided by the trades that exist at the end; the\n"
        "  platform quota, not CPU, is the real ceiling. The naive scheme spends fewer calls "
        "because\n"
        "  it never retries, never re-reads and never waits out a ban; that is how it loses orders."
    ),
    gettext_lazy(
        "- **Wall time in sync calls**: seconds spent inside each scheme's sync calls. "
        "ordersync's\n"
        "  includes its backoff after faults and the injected hangs and slow answers it waits out."
    ),
    gettext_lazy(
        "- **Backfill trades/s**: trades written to PostgreSQL per second of `backfill_shop` (its\n"
        "  time includes the refunds backfill that follows), pages fetched from the sandbox on\n"
        "  loopback, 30 days of history. **Peak RSS**: the high-water mark of a process that\n"
        "  did only that backfill; equal peaks for both sizes mean memory does not grow with size."
    ),
    gettext_lazy(
        "- **Syncs/s needed / ran**: the shops divided by the cadence against the scheduled syncs\n"
        "  the cluster started per second once every shop had run (or two intervals had passed)."
    ),
    gettext_lazy(
        "- **Cursor lag**: platform now minus a shop's trades cursor, sampled every few seconds "
        "for\n"
        "  every shop. It includes the configured visibility lag (`SYNC_LAG_SECONDS`) and up to "
        "one\n"
        "  cadence interval by design: p50 ≈ lag + interval/2 means the cluster keeps up."
    ),
    gettext_lazy(
        "- **API calls per idle shop run**: calls one scheduled sync of a shop without changes "
        "makes\n"
        "  (one per stream: the last page of an empty window)."
    ),
    gettext_lazy(
        "- **Database load**: `pg_stat_database` deltas per second of the whole database while "
        "the\n"
        "  cluster ran (commits, rows read, written)."
    ),
    gettext_lazy(
        # xgettext:no-python-format
        "- **CPU (% of one core)**: user + system time of the qcluster (with its workers), of the\n"
        "  PostgreSQL backends serving the benchmark's database and of the sandbox, over the\n"
        "  steady part; on 2 cores shared with other work, 200 is everything."
    ),
    gettext_lazy(
        "- **Partner API**: the trade list with sub-orders, 100 a page, on a tenant of that many\n"
        "  trades; latency in-process (no network), requests/s through gunicorn on loopback with "
        "the\n"
        "  load generator on the same 2 cores."
    ),
]

RENDERERS = {
    "naive": _naive,
    "double11": _naive,
    "backfill": _backfill,
    "scheduler": _scheduler,
    "api": _api,
    "feed": _feed,
    "tmc": _tmc,
    "steady": _steady,
    "webhooks": _webhooks,
}
TITLES = {
    "naive": gettext_lazy("1. ordersync vs the naive scheme (chaos scenario)"),
    "double11": gettext_lazy("1b. ordersync vs the naive scheme (a Double 11 burst)"),
    "backfill": gettext_lazy("2. Backfill"),
    "scheduler": gettext_lazy("3. Scheduler scale"),
    "api": gettext_lazy("4. Partner API"),
    "feed": gettext_lazy("4b. Change feed"),
    "tmc": gettext_lazy("4c. Freshness with TMC"),
    "steady": gettext_lazy("4d. API calls in steady state"),
    "webhooks": gettext_lazy("5. Webhooks"),
}
# the timeline's columns by their key in the figures; other keys are shown as they are
COLUMNS = {
    "qcluster_cpu": gettext_lazy("qcluster cpu"),
    "postgresql_cpu": gettext_lazy("postgresql cpu"),
    "sandbox_cpu": gettext_lazy("sandbox cpu"),
    "commits_per_second": gettext_lazy("commits per second"),
}
