// The dashboard: polls the daemon's JSON API and renders it; pause/resume/stop-entry with a token kept in
// sessionStorage (this tab only). Amounts are the API's exact coin texts; numbers are parsed only to draw charts.
"use strict";
const TOKEN_KEY = "allora-bot-api-token";
const REFRESH_MS = 2000;
const $ = id => document.getElementById(id);
let daemonMode = null;

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fillTable(id, rows, render, empty) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(tr, empty || "none");
    td.colSpan = $(id).querySelectorAll("th").length;
    body.appendChild(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    render(tr, row);
    body.appendChild(tr);
  }
}

const signCls = text => (String(text).startsWith("-") ? "num neg" : Number(text) > 0 ? "num pos" : "num");
const coinText = (text, coin) => (text === null || text === undefined ? "–" : `${text} ${coin || ""}`.trim());
const pct = v => (v === null || v === undefined ? "n/a" : `${(100 * v).toFixed(1)}%`);
const time = t => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "–");
function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}

function renderStatus(st) {
  daemonMode = st.mode;
  const badge = $("state");
  badge.textContent = st.state;
  badge.className = `badge ${st.state}`;
  badge.dataset.state = st.state;
  $("stop-entry").hidden = !st.stop_entry;
  $("mode").textContent = st.mode;
  $("account").textContent = st.account;
  $("uptime").textContent = duration(st.uptime_seconds);
  $("state-reason").textContent = st.reason ? `${st.reason} (by ${st.by || "?"}, ${time(st.changed_at)})` : "–";
  $("pause").disabled = st.state === "paused";
  $("resume").disabled = st.state === "running" && !st.stop_entry;
}

function renderHealth(h) {
  const el = $("health");
  el.textContent = h.ok ? "ok" : "degraded";
  el.className = h.ok ? "pos" : "neg";
  const dl = $("health-detail");
  dl.replaceChildren();
  const add = (k, v) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k; dd.textContent = v;
    dl.append(dt, dd);
  };
  add("daemon running", String(h.daemon_running));
  add("heartbeat age", h.heartbeat_age_seconds === null ? "–" : `${h.heartbeat_age_seconds.toFixed(0)} s`);
  add("errors", String(h.errors));
  if (h.last_error) add("last error", h.last_error);
  for (const rpc of h.rpc || []) add(`RPC ${rpc.url}`, rpc.healthy === false ? `unhealthy: ${rpc.last_error || ""}` : "healthy");
}

function renderPnl(p) {
  const equity = p.equity || [];
  const coin = equity.length ? equity[equity.length - 1].coin : (p.summary[0] || {}).coin || "coin";
  $("equity-coin").textContent = coin;
  lineChart($("equity-chart"), equity.map((e, i) => ({ x: e.at || i, y: Number(e.equity), label: `round ${e.epoch}: ${e.equity} ${e.coin}` })),
            { xLabel: time, empty: "no settled bet yet" });
  const last = equity.length ? equity[equity.length - 1] : null;
  $("equity-last").textContent = last ? coinText(last.equity, last.coin) : "–";
  fillTable("summary", p.summary, (tr, s) => {
    tr.dataset.mode = s.mode;
    cell(tr, s.mode); cell(tr, s.coin); cell(tr, s.bets, "num"); cell(tr, s.open, "num"); cell(tr, s.won, "num");
    cell(tr, s.lost, "num"); cell(tr, pct(s.hit_rate), "num"); cell(tr, s.staked, "num");
    cell(tr, s.net_pnl, signCls(s.net_pnl));
  }, "no bets yet");
  barChart($("pnl-chart"), p.rows.map(r => ({ label: `${r.day} ${r.market}`, value: Number(r.net_pnl), text: coinText(r.net_pnl, r.coin) })),
           { empty: "no settled day yet" });
  fillTable("pnl-rows", p.rows, (tr, r) => {
    cell(tr, r.day); cell(tr, r.market); cell(tr, r.bets, "num"); cell(tr, coinText(r.net_pnl, r.coin), signCls(r.net_pnl));
  }, "no settled day yet");
  return p;
}

function renderHitRates(pnl, accuracy) {
  const bars = [];
  for (const s of (pnl && pnl.summary) || []) {
    if (s.hit_rate !== null && s.hit_rate !== undefined) {
      bars.push({ label: `our ${s.mode} bets`, value: s.hit_rate, text: `${pct(s.hit_rate)} of ${s.won + s.lost}`, color: "#58a6ff" });
    }
  }
  for (const t of (accuracy && accuracy.topics) || []) {
    const o = t.overall || {};
    if (o.hit_rate !== null && o.hit_rate !== undefined) {
      bars.push({ label: `Allora ${t.topic}`, value: o.hit_rate, text: `${pct(o.hit_rate)} of ${o.n}`, color: "#a371f7" });
    }
    if (t.base_rate_up !== null && t.base_rate_up !== undefined) {
      bars.push({ label: "always up", value: t.base_rate_up, text: pct(t.base_rate_up), color: "#6e7681" });
      bars.push({ label: "always down", value: 1 - t.base_rate_up, text: pct(1 - t.base_rate_up), color: "#6e7681" });
    }
  }
  if (bars.length) bars.push({ label: "coin flip", value: 0.5, text: "50.0%", color: "#6e7681" });
  barChart($("hitrate-chart"), bars, { max: 1, empty: "no scored round yet" });
}

function renderMarkets(m) {
  fillTable("rounds", m.markets, (tr, r) => {
    const d = r.decision && r.decision.epoch === r.epoch ? r.decision : null;
    tr.dataset.market = r.name;
    cell(tr, r.name); cell(tr, r.epoch, "num");
    cell(tr, r.error ? `error: ${r.error}` : r.bettable ? duration(r.seconds_to_lock) : "locked");
    cell(tr, coinText(r.bull_pool, r.coin), "num"); cell(tr, coinText(r.bear_pool, r.coin), "num");
    cell(tr, coinText(r.total_pool, r.coin), "num");
    cell(tr, d ? (d.action === "bet" ? d.side.toUpperCase() : "skip") : "not decided yet", d && d.side ? d.side : "");
    cell(tr, d && d.action === "bet" ? coinText(d.amount, r.coin) : "–", "num");
    cell(tr, d ? d.reason : "");
  }, "no market");
}

function renderOpenBets(b) {
  fillTable("open-bets", b.bets, (tr, x) => {
    tr.dataset.epoch = x.epoch;
    cell(tr, x.market); cell(tr, x.epoch, "num"); cell(tr, (x.side || "").toUpperCase(), x.side);
    cell(tr, coinText(x.amount, x.coin), "num"); cell(tr, x.state); cell(tr, x.p_up === null ? "–" : x.p_up.toFixed(3), "num");
    cell(tr, time(x.placed_at));
  }, "no open bet");
}

function renderOutcomes(b) {
  fillTable("outcomes", b.bets, (tr, x) => {
    tr.dataset.epoch = x.epoch;
    const call = x.p_up === null || x.p_up === undefined ? "–" : x.p_up > 0.5 ? "UP" : x.p_up < 0.5 ? "DOWN" : "FLAT";
    cell(tr, x.market); cell(tr, x.epoch, "num"); cell(tr, x.p_up === null ? "–" : x.p_up.toFixed(3), "num");
    cell(tr, call); cell(tr, (x.side || "").toUpperCase(), x.side); cell(tr, x.outcome, x.outcome === "won" ? "pos" : x.outcome === "lost" ? "neg" : "");
    cell(tr, coinText(x.net_pnl, x.coin), signCls(x.net_pnl));
  }, "no settled bet yet");
}

function renderInferences(inf) {
  fillTable("inferences", inf.inferences, (tr, i) => {
    cell(tr, time(i.timestamp || i.fetched_at)); cell(tr, `${i.topic_name || ""} #${i.topic_id}`); cell(tr, i.value, "num");
    cell(tr, i.verdict, i.accepted ? "pos" : "neg");
  }, "no inference yet");
}

function renderLogs(l) {
  $("logs").textContent = l.lines.map(x => `${time(x.at)} ${x.level} ${x.logger}: ${x.message}`).join("\n");
}

async function refresh() {
  const mode = daemonMode ? `?mode=${daemonMode}` : "";
  const sep = mode ? "&" : "?";
  const calls = {
    status: getJSON("api/status"), markets: getJSON("api/markets"), pnl: getJSON(`api/pnl${mode}`),
    open: getJSON(`api/bets${mode}${sep}settled=false&limit=20`),
    settled: getJSON(`api/settlements${mode}${sep}limit=15`), inferences: getJSON("api/inferences?limit=10"),
    accuracy: getJSON("api/accuracy"), health: getJSON("api/health"), logs: getJSON("api/logs?limit=40"),
  };
  const names = Object.keys(calls);
  const results = await Promise.allSettled(Object.values(calls));
  const got = {};
  results.forEach((r, i) => { if (r.status === "fulfilled") got[names[i]] = r.value; else console.warn(r.reason); });
  const render = [
    ["status", renderStatus], ["health", renderHealth], ["pnl", renderPnl], ["markets", renderMarkets],
    ["open", renderOpenBets], ["settled", b => renderOutcomes({ bets: b.settlements })],
    ["inferences", renderInferences], ["logs", renderLogs],
  ];
  for (const [key, fn] of render) {
    if (got[key]) {
      try { fn(got[key]); } catch (e) { console.error(key, e); }
    }
  }
  renderHitRates(got.pnl, got.accuracy);
  const failed = names.filter(n => !got[n]);
  $("updated").textContent = failed.length ? `unreachable: ${failed.join(", ")}` : `updated ${new Date().toLocaleTimeString()}`;
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

async function control(action, body) {
  const msg = $("control-msg");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    msg.textContent = "enter the API token first";
    msg.className = "error";
    return;
  }
  msg.textContent = `${action}…`;
  msg.className = "";
  try {
    const r = await fetch(`api/${action}`, {
      method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.detail || `HTTP ${r.status}`);
    msg.textContent = `${action}: now ${data.state}${data.stop_entry ? " (stop-entry)" : ""}`;
    msg.dataset.result = data.state;
  } catch (e) {
    msg.textContent = `${action} refused: ${e.message}`;
    msg.className = "error";
  }
  await refresh();
}

function init() {
  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("token-form").addEventListener("submit", e => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    $("control-msg").textContent = value ? "token kept for this tab" : "token cleared";
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    $("control-msg").textContent = "token cleared";
  });
  $("pause").addEventListener("click", () => control("pause", { reason: "paused from the dashboard" }));
  $("resume").addEventListener("click", () => control("resume"));
  $("stopentry").addEventListener("click", () => control("stop-entry"));
  refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", init);
