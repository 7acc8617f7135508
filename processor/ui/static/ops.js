// The operations strip: /api/v1/status every few seconds; rates are counter
// deltas between two polls (the server keeps no rates itself).

import { getJson } from "./api.js";

const POLL_MS = 2000;
const OUTCOMES = ["accepted", "duplicate", "ignored", "rejected"];
const fmt = (n) => Number(n).toLocaleString("en");

function rate(now, before, outcome) {
  if (!before) return null;
  const seconds = now.time - before.time;
  if (seconds <= 0) return null;
  // A worker restart resets its counters: no negative rates.
  return Math.max(0, now.events[outcome] - before.events[outcome]) / seconds;
}

function item(metric, label, value, title, kind = "") {
  const span = document.createElement("span");
  span.className = `ops-item ${kind}`;
  span.dataset.metric = metric;
  if (title) span.title = title;
  const name = document.createElement("span");
  name.className = "ops-label";
  name.textContent = label;
  const val = document.createElement("span");
  val.className = "ops-value";
  val.textContent = value;
  span.append(name, " ", val);
  return span;
}

export function renderOps(host, now, before) {
  const items = [];
  for (const outcome of OUTCOMES) {
    const r = rate(now, before, outcome);
    items.push(item(
      outcome,
      outcome,
      r === null ? "–/s" : `${r < 10 ? r.toFixed(1) : fmt(Math.round(r))}/s`,
      `${fmt(now.events[outcome])} ${outcome} since this worker started`,
      outcome === "rejected" && r ? "warn" : "",
    ));
  }
  const reasons = Object.entries(now.deadLetters).filter(([, count]) => count > 0);
  items.push(item(
    "dlq",
    "DLQ",
    reasons.length ? reasons.map(([reason, count]) => `${reason} ${fmt(count)}`).join(", ") : "none",
    "Dead letters written by this worker since it started, by reason",
    reasons.length ? "warn" : "",
  ));
  items.push(item("lag", "lag", fmt(now.lag.messages),
    now.lag.partitions.map((p) => `${p.topic}/${p.partition}: ${fmt(p.messages)}`).join("\n") ||
      "no partitions assigned",
    now.lag.messages > 0 ? "warn" : ""));
  items.push(item("generation", "generation", String(now.generation),
    "The graph generation reads and writes use"));
  const rb = now.rebuild;
  items.push(item(
    "rebuild",
    "rebuild",
    rb.running
      ? `g${rb.generation}: ${fmt(rb.remainingMessages)} left at ${fmt(Math.round(rb.messagesPerSecond))}/s`
      : "idle",
    "A rebuild of the graph from the log, when one runs",
    rb.running ? "info" : "",
  ));
  items.push(item("graph", "graph", `${fmt(now.graph.nodes)} datasets, ${fmt(now.graph.edges)} edges`));
  if (now.dependenciesDown.length) {
    items.push(item("down", "down", now.dependenciesDown.join(", "),
      "The worker is retrying while these are unavailable", "error"));
  }
  host.replaceChildren(...items);
  host.dataset.updated = String(now.time);
}

export function startOps(host) {
  let before = null;
  const poll = async () => {
    try {
      const now = await getJson("/api/v1/status", {}, { interactive: false });
      renderOps(host, now, before);
      before = now;
    } catch (error) {
      const span = document.createElement("span");
      span.className = "ops-item error";
      span.dataset.metric = "error";
      span.textContent = error.status === 401 ? "status needs a token" : `status unavailable: ${error.message}`;
      host.replaceChildren(span);
    } finally {
      window.setTimeout(poll, POLL_MS);
    }
  };
  poll();
}
