"""The run's report: one HTML page with plots, from the run's own outputs.

Where it sits: the last step of `nerve run` (and so of `make demo`). It reads the event store
(events.duckdb, read-only), tca.json and summary.json, and writes `report.html` with its plots
as PNG files beside it (matplotlib, no network): P&L and inventory over feed time, markouts by
horizon, the tick-to-trade histogram, the feedback policy's parameter changes on a timeline, and
per-venue TCA. It also checks the book against the store and says so on the page:

- each symbol's position equals the sum of its fills in the event store;
- realised + unrealised P&L (the OMS's last position reports) equals the cash flows of the fills
  plus the inventory marked at the mid the OMS used (`unrealised = mark x qty - cost`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")           # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from spec.itch import PRICE_SCALE  # noqa: E402
from sw.control.store import Store  # noqa: E402
from sw.control.telemetry import AUTOMATIC, automatic_action  # noqa: E402

NS = 1e9


def write_report(out: Path) -> Path:
    """Write `out/report.html` (and its images); returns its path."""
    summary = json.loads((out / "summary.json").read_text())
    tca = json.loads((out / "tca.json").read_text())
    con = duckdb.connect(str(out / "events.duckdb"), read_only=True)
    try:
        checks = book_checks(con)
        figures = [_pnl_and_inventory(con, out), _markouts(tca, out), _tick_to_trade(tca, out),
                   _parameter_changes(con, out), _venues(tca, out)]
    finally:
        con.close()
    store = Store(out / "control.db")
    try:
        actions = [(e.at, e.who, e.action, automatic_action(e))
                   for e in reversed(store.audit(10_000)) if e.who in AUTOMATIC]
    finally:
        store.close()
    page = out / "report.html"
    page.write_text(_page(summary, tca, checks, figures, actions))
    return page


def book_checks(con) -> dict:
    """The book against the store (see the module doc): per symbol, the fills' net shares and
    cash, the last reported position and P&L; `ok` when both identities hold."""
    fills = {symbol: (qty, cash) for symbol, qty, cash in con.execute(
        "SELECT Symbol, sum(CASE WHEN Side = '1' THEN LastQty ELSE -LastQty END), "
        "sum(CASE WHEN Side = '1' THEN -LastQty * LastPx ELSE LastQty * LastPx END) "
        "FROM execution_report WHERE ExecType = 'F' GROUP BY Symbol").fetchall()}
    last = {row[0]: row[1:] for row in con.execute(
        "SELECT Symbol, NetQty, CostBasis, RealisedPnl, UnrealisedPnl FROM position_report "
        "QUALIFY row_number() OVER (PARTITION BY Symbol ORDER BY TransactTime DESC) = 1"
    ).fetchall()}
    rows, ok = [], True
    for symbol in sorted(set(fills) | set(last)):
        qty, cash = fills.get(symbol, (0, 0))
        net, cost, realised, unrealised = last.get(symbol, (0, 0, 0, 0))
        position_ok = qty == net
        # cash + marked inventory = realised + unrealised, with mark x qty = unrealised + cost
        pnl_ok = cash + (unrealised + cost) == realised + unrealised
        ok = ok and position_ok and pnl_ok
        rows.append({"symbol": symbol, "fills_qty": int(qty), "position": int(net),
                     "cash": cash / PRICE_SCALE, "pnl": (realised + unrealised) / PRICE_SCALE,
                     "position_ok": position_ok, "pnl_ok": pnl_ok})
    return {"ok": ok, "rows": rows}


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def _pnl_and_inventory(con, out: Path) -> tuple[str, str]:
    rows = con.execute("SELECT TransactTime, Symbol, NetQty, RealisedPnl + UnrealisedPnl "
                       "FROM position_report ORDER BY TransactTime").fetchall()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    if rows:
        start = rows[0][0]
        latest: dict[str, tuple[int, int]] = {}
        times, totals = [], []
        series: dict[str, tuple[list, list]] = {}
        for at, symbol, qty, pnl in rows:
            latest[symbol] = (qty, pnl)
            t = (at - start) / NS
            times.append(t)
            totals.append(sum(p for _, p in latest.values()) / PRICE_SCALE)
            xs, ys = series.setdefault(symbol, ([], []))
            xs.append(t)
            ys.append(qty)
        top.plot(times, totals, color="tab:green")
        for symbol, (xs, ys) in sorted(series.items()):
            bottom.step(xs, ys, where="post", label=symbol)
        bottom.legend(fontsize="small", ncol=4)
    top.set_ylabel("P&L, $ (before fees)")
    bottom.set_ylabel("inventory, shares")
    bottom.set_xlabel("feed time, s")
    return _save(fig, out, "pnl_inventory.png"), "P&L and inventory over feed time"


def _markouts(tca: dict, out: Path) -> tuple[str, str]:
    fig, ax = plt.subplots(figsize=(9, 3.5))
    groups = {"all": tca.get("all", {}), **{f"{k} fills": v
                                            for k, v in tca.get("liquidity", {}).items()}}
    for name, row in groups.items():
        marks = [(int(h) / NS, v) for h, v in row.get("markout_bps", {}).items()
                 if v is not None]
        if marks:
            ax.plot(*zip(*marks, strict=True), marker="o", label=name)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("horizon, s (feed time)")
    ax.set_ylabel("markout, bps")
    if ax.get_legend_handles_labels()[0]:        # no markout known yet: no legend
        ax.legend(fontsize="small")
    return _save(fig, out, "markouts.png"), "Markouts by horizon (negative: adverse selection)"


def _tick_to_trade(tca: dict, out: Path) -> tuple[str, str]:
    fig, ax = plt.subplots(figsize=(9, 3))
    latency = (tca.get("latency") or {}).get("tick_to_trade_cycles") or {}
    histogram = latency.get("histogram") or {}
    if histogram:
        ax.bar([int(k) for k in histogram], list(histogram.values()), width=0.9)
    ax.set_xlabel("tick-to-trade, cycles (6.4 ns each) from the card's own stamps")
    ax.set_ylabel("orders")
    title = "Tick-to-trade histogram"
    if latency and latency.get("max") == 0:
        title += " (the model backend has no pipeline: 0 cycles; run --backend rtl for the RTL's)"
    return _save(fig, out, "tick_to_trade.png"), title


def _parameter_changes(con, out: Path) -> tuple[str, str]:
    rows = con.execute("SELECT TransactTime, Symbol, Parameter, Value FROM parameter_update "
                       "ORDER BY TransactTime").fetchall()
    first = con.execute("SELECT min(TransactTime) FROM quote").fetchone()[0] or 0
    fig, ax = plt.subplots(figsize=(9, 3))
    labels = sorted({f"{s} {p}" for _, s, p, _ in rows})
    for at, symbol, parameter, value in rows:
        y = labels.index(f"{symbol} {parameter}")
        ax.scatter((at - first) / NS, y, color="tab:orange")
        ax.annotate(str(value), ((at - first) / NS, y), textcoords="offset points",
                    xytext=(4, 4), fontsize="small")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("feed time, s")
    return (_save(fig, out, "parameter_changes.png"),
            f"The feedback policy's parameter changes ({len(rows)}), new value at each point")


def _venues(tca: dict, out: Path) -> tuple[str, str]:
    venues = tca.get("venue", {})
    names = sorted(venues)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    left.bar(names, [venues[n].get("fills", 0) for n in names], color="tab:blue")
    left.set_ylabel("fills")
    width = 0.4
    for k, (key, label) in enumerate((("slippage_bps", "arrival slippage"),
                                      ("markout_1s", "markout 1 s"))):
        values = [(venues[n].get(key) if key != "markout_1s"
                   else venues[n].get("markout_bps", {}).get(str(10**9))) or 0 for n in names]
        right.bar([i + k * width for i in range(len(names))], values, width, label=label)
    right.set_xticks([i + width / 2 for i in range(len(names))], names)
    right.set_ylabel("bps")
    right.legend(fontsize="small")
    return _save(fig, out, "venues.png"), "Per-venue TCA"


def _page(summary: dict, tca: dict, checks: dict, figures: list[tuple[str, str]],
          actions: list[tuple[str, str, str, str]]) -> str:
    totals = summary.get("totals", {})

    def money(value) -> str:
        return "unknown" if value is None else f"${value:,.2f}"

    facts = [("packets", f"{summary['frames']:,}"),
             ("feed time", f"{summary['feed_seconds']:.2f} s"),
             ("orders sent", f"{summary['orders_sent']:,}"),
             ("refused by the gate", f"{summary['gate_rejects']:,}"),
             ("fills", f"{summary['fills']:,}"),
             ("realised P&L", money(totals.get("realised_pnl"))),
             ("unrealised P&L", money(totals.get("unrealised_pnl"))),
             ("fees", money(totals.get("fees"))),
             ("net P&L", money(totals.get("net_pnl"))),
             ("feedback changes", str(summary["parameter_changes"])),
             ("risk decisions", str(summary["risk_decisions"])),
             ("open orders (OMS / card)",
              f"{summary['open_orders_oms']} / {summary['open_chains_card']}")]
    check_rows = "".join(
        f"<tr><td>{html.escape(r['symbol'])}</td><td>{r['fills_qty']:,}</td>"
        f"<td>{r['position']:,}</td><td>{'ok' if r['position_ok'] else 'MISMATCH'}</td>"
        f"<td>${r['cash']:,.2f}</td><td>${r['pnl']:,.2f}</td>"
        f"<td>{'ok' if r['pnl_ok'] else 'MISMATCH'}</td></tr>" for r in checks["rows"])
    action_rows = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(v))}</td>" for v in row)
        + "</tr>" for row in actions)
    images = "".join(f"<h2>{html.escape(title)}</h2><img src='{name}' alt='{html.escape(title)}'>"
                     for name, title in figures)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nerve run report</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;
text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>Nerve run report</h1>
<table>{"".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)}</table>
<h2>The book against the event store: {"consistent" if checks["ok"] else "INCONSISTENT"}</h2>
<p>Each symbol's position against the sum of its fills in the store, and its P&amp;L against the
fills' cash flows plus the inventory marked at the OMS's mid (fees apart).</p>
<table><tr><th>symbol</th><th>fills, net shares</th><th>position</th><th></th>
<th>fills' cash</th><th>P&amp;L</th><th></th></tr>{check_rows}</table>
{images}
<h2>Automatic actions: portfolio risk and routing ({len(actions)})</h2>
<table><tr><th>at</th><th>who</th><th>action</th><th>what</th></tr>{action_rows}</table>
</body></html>
"""
