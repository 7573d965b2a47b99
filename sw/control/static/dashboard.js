// Nerve dashboard: live telemetry from /api/v1/stream (server-sent events), the kill switch
// and release. Plain JS, no build step. The token lives in sessionStorage (this tab only) and
// goes as a Bearer header on fetches; EventSource cannot send headers, so the stream alone
// takes it as ?token=. Every value the server sends as null is shown as "unknown".
"use strict";

const TOKEN_KEY = "nerve-token";
const $ = (id) => document.getElementById(id);
let source = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function isKnown(value) {
  return value !== null && value !== undefined;
}

function number(value, digits = 0) {
  return value.toLocaleString(undefined, {maximumFractionDigits: digits});
}

// Put `text` (or "unknown" for a null value) in element `id`; `tone` marks it bad or warn.
function show(id, value, format = (v) => String(v), tone = null) {
  const el = $(id);
  const known = isKnown(value);
  el.textContent = known ? format(value) : "unknown";
  el.className = known ? (tone || "") : "unknown";
}

function yesNo(value) {
  return value ? "yes" : "no";
}

function nanoseconds(ns) {
  return ns >= 1000 ? `${number(ns / 1000, 2)} µs` : `${number(ns, 1)} ns`;
}

function message(text) {
  $("message").textContent = text;
}

function setLink(text, ok) {
  $("link").textContent = text;
  $("link").dataset.ok = ok ? "true" : "false";
}

function renderState(halted, reasons) {
  const state = !isKnown(halted) ? "unknown" : halted ? "halted" : "trading";
  $("state").textContent = state.toUpperCase();
  $("state").dataset.state = state;
  document.body.dataset.state = state;
  $("reasons").textContent = halted && reasons && reasons.length ? reasons.join(", ") : "";
}

function cell(row, text, className = "") {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// "used / limit" with a bar; "unknown" when the server could not account for the use.
function useCell(row, use) {
  if (!isKnown(use.used)) {
    cell(row, `unknown / ${number(use.limit)}`, "unknown");
    return;
  }
  const td = cell(row, `${number(use.used)} / ${number(use.limit)}`);
  const fraction = use.limit > 0 ? Math.max(0, use.used) / use.limit : (use.used > 0 ? 1 : 0);
  const bar = document.createElement("span");
  bar.className = fraction >= 0.9 ? "use high" : "use";
  const fill = document.createElement("span");
  fill.style.width = `${Math.min(100, fraction * 100)}%`;
  bar.appendChild(fill);
  td.appendChild(bar);
}

function renderRows(tableId, rows, fill) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const item of rows) fill(body.insertRow(), item);
}

function render(s) {
  renderState(s.halted, s.halt_reasons);
  show("backend", s.card.backend);
  show("reachable", s.card.reachable, (v) => (v ? "yes" : `no: ${s.card.error}`),
       s.card.reachable ? null : "bad");
  show("limits_loaded", s.limits_loaded, yesNo, s.limits_loaded ? null : "bad");
  show("strategy_loaded", s.strategy_loaded, yesNo, s.strategy_loaded ? null : "bad");
  $("load_error").textContent = s.load_error || "none";
  $("load_error").className = s.load_error ? "bad" : "";
  show("open_chains", s.counters.open_chains, number);
  show("events_lost", s.counters.events_lost, number, s.counters.events_lost ? "bad" : null);
  show("updated", s.at, (t) => new Date(t * 1000).toLocaleTimeString());

  for (const key of ["messages_per_s", "orders_per_s", "rejects_per_s"]) {
    show(key, s.rates[key], (v) => number(v, 1));
  }
  for (const key of ["messages", "orders", "rejects"]) show(key, s.counters[key], number);

  const t2t = s.tick_to_trade;
  show("t2t_count", t2t.count, number);
  show("t2t_p50", t2t.p50_ns, (ns) => `${nanoseconds(ns)} (${t2t.p50_cycles} cycles)`);
  show("t2t_p99", t2t.p99_ns, (ns) => `${nanoseconds(ns)} (${t2t.p99_cycles} cycles)`);
  show("t2t_max", t2t.max_ns, (ns) => `${nanoseconds(ns)} (${t2t.max_cycles} cycles)`);
  const most = Math.max(1, ...t2t.buckets.map((b) => b.count));
  renderRows("t2t_buckets", t2t.buckets, (row, b) => {
    cell(row, isKnown(b.le_ns) ? `≤ ${nanoseconds(b.le_ns)}` : "more");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(b.count / most) * 8}rem`;
    cell(row, "").appendChild(bar);
    cell(row, number(b.count));
  });

  const feed = s.feed;
  show("feed_stale", feed.stale, yesNo, feed.stale ? "bad" : null);
  show("feed_gaps", feed.gaps, number, feed.gaps ? "warn" : null);
  show("feed_missing", feed.missing_messages, number, feed.missing_messages ? "warn" : null);
  show("feed_malformed", feed.malformed_messages, number);
  show("feed_unreliable", feed.unreliable_books, (list) => (list.length ? list.join(", ") : "none"),
       feed.unreliable_books && feed.unreliable_books.length ? "bad" : null);

  renderRows("rejects_by_reason", Object.entries(s.rejects_by_reason), (row, [reason, n]) => {
    cell(row, reason);
    cell(row, isKnown(n) ? number(n) : "unknown", isKnown(n) ? "" : "unknown");
  });

  renderTrading(s.trading);

  $("symbols_error").textContent = s.store_error || "";
  renderRows("symbols", s.symbols || [], (row, sym) => {
    cell(row, sym.symbol);
    cell(row, sym.slot === null ? "unbound" : String(sym.slot));
    const state = !sym.enabled ? "disabled" : sym.reduce_only ? "reduce-only" : "enabled";
    cell(row, state, sym.enabled && !sym.reduce_only ? "" : "warn");
    cell(row, number(sym.position));
    useCell(row, sym.open_orders);
    useCell(row, sym.long);
    useCell(row, sym.short);
    const book = !isKnown(sym.unreliable) ? "unknown" : sym.unreliable ? "UNRELIABLE" : "ok";
    cell(row, book, !isKnown(sym.unreliable) ? "unknown" : sym.unreliable ? "bad" : "");
  });
}

function dollars(value) {
  return isKnown(value) ? `$${number(value, 2)}` : "unknown";
}

function bps(value) {
  return isKnown(value) ? `${value >= 0 ? "+" : ""}${number(value, 2)} bps` : "unknown";
}

function renderTrading(t) {
  $("trading_none").hidden = Boolean(t);
  const totals = t ? t.totals : {};
  const tca = t ? t.tca : {};
  show("pnl_realised", totals.realised_pnl, dollars);
  show("pnl_unrealised", totals.unrealised_pnl, dollars);
  show("pnl_fees", totals.fees, dollars);
  show("pnl_net", totals.net_pnl, dollars,
       isKnown(totals.net_pnl) && totals.net_pnl < 0 ? "warn" : null);
  show("tca_fills", tca.fills, number);
  show("tca_slippage", tca.slippage_bps, bps);
  show("tca_markout", tca.markout_1s_bps, bps);
  show("tca_adverse", tca.adverse_1s_bps, bps,
       isKnown(tca.adverse_1s_bps) && tca.adverse_1s_bps < 0 ? "warn" : null);
  renderRows("trading_positions", Object.entries((t && t.positions) || {}), (row, [sym, p]) => {
    cell(row, sym);
    cell(row, number(p.qty));
    cell(row, dollars(p.avg_px));
    cell(row, dollars(p.realised_pnl));
    cell(row, dollars(p.unrealised_pnl), isKnown(p.unrealised_pnl) ? "" : "unknown");
    cell(row, dollars(p.fees));
  });
  renderRows("trading_modes", Object.entries((t && t.modes) || {}), (row, [mode, m]) => {
    cell(row, mode);
    cell(row, number(m.fills));
    cell(row, number(m.shares));
    cell(row, dollars(m.pnl), isKnown(m.pnl) ? "" : "unknown");
    cell(row, dollars(m.risk_charge), isKnown(m.risk_charge) ? "" : "unknown");
    cell(row, dollars(m.risk_adjusted_pnl), isKnown(m.risk_adjusted_pnl) ? "" : "unknown");
  });
  renderRows("trading_fills", (t && t.fills) || [], (row, f) => {
    cell(row, f.clordid);
    cell(row, f.venue);
    cell(row, f.symbol);
    cell(row, f.side);
    cell(row, number(f.qty));
    cell(row, dollars(f.price));
    cell(row, dollars(f.fee));
  });
  renderRows("trading_changes", (t && t.changes) || [], (row, c) => {
    cell(row, c.at);
    cell(row, Object.entries(c.change).map(([k, v]) => `${k}: ${v.old} → ${v.new}`).join("; "));
    cell(row, Object.values(c.change).map((v) => v.why).join("; "));
  });
  renderRows("trading_actions", (t && t.actions) || [], (row, a) => {
    cell(row, a.at);
    cell(row, a.who);
    cell(row, a.action);
    cell(row, a.what);
  });
}

async function call(method, path) {
  const response = await fetch(path, {method, headers: {Authorization: `Bearer ${token()}`}});
  let body = {};
  try {
    body = await response.json();
  } catch (_) { /* not JSON: keep the status line */ }
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : response.statusText;
    throw new Error(`${method} ${path}: ${response.status} ${detail}`);
  }
  return body;
}

async function connect() {
  const typed = $("token").value.trim();
  if (typed) sessionStorage.setItem(TOKEN_KEY, typed);
  if (source) source.close();
  if (!token()) {
    setLink("enter a token", false);
    return;
  }
  try {
    // Check the token first: a refused EventSource only says "error".
    const status = await call("GET", "/api/v1/status");
    renderState(status.halted, status.halt_reasons);
  } catch (err) {
    setLink("not connected", false);
    message(err.message);
    return;
  }
  message("");
  source = new EventSource(`/api/v1/stream?token=${encodeURIComponent(token())}`);
  source.addEventListener("telemetry", (event) => render(JSON.parse(event.data)));
  source.onopen = () => setLink("live", true);
  source.onerror = () => setLink(source.readyState === EventSource.CLOSED ? "closed" :
                                 "reconnecting", false);
}

async function command(path, done) {
  try {
    const status = await call("POST", path);
    renderState(status.halted, status.halt_reasons);
    message(done);
  } catch (err) {
    message(err.message);
  }
}

$("connect").addEventListener("click", connect);
$("token").addEventListener("keydown", (event) => { if (event.key === "Enter") connect(); });
$("halt").addEventListener("click", () => command("/api/v1/halt", "kill switch engaged"));
$("release").addEventListener("click", () => command("/api/v1/release", "released"));
if (token()) connect();
