// The page: search, the focus graph, details, impact and the operations strip.
// State lives in the URL hash (#/graph?namespace=…&name=…&depth=…), so the
// back button, reloads and shared links all work.

import { ApiError, askForToken, getJson } from "./api.js";
import { render, shorten, sideLabel } from "./graph.js";
import { showTypeFilter } from "./impact_types.js";
import { withJobs } from "./jobs.js";
import { DRAW_CAP, cut, geometryFor, keyOf, mergeLineage, place } from "./layout.js";
import { showColumns } from "./columns.js";
import { startOps } from "./ops.js";
import { showOverview } from "./overview.js";
import { typeBadge, typeLegend } from "./types.js";

const SEARCH_PAGE = 20;
const SEARCH_DELAY_MS = 180;
const IMPACT_DEPTH = 20; // "everything downstream": the API's depth cap
const IMPACT_LIMIT = 10000; // the API's node cap
const IMPACT_ROWS = 1000; // rows put in the table; the CSV has them all
const $ = (id) => document.getElementById(id);
const fmt = (n) => Number(n).toLocaleString("en");

const state = {
  view: "graph",
  focus: null, // {namespace, name}
  depth: 3,
  types: [], // the impact's type filter; [] = every type
  jobs: false, // draw the jobs between datasets as nodes
  graph: null, // merged answer
  drawn: null,
  selectedEdge: null,
  loadSeq: 0,
};

// ---------------------------------------------------------------- routing

function readHash() {
  const [path, query = ""] = window.location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const depth = Number.parseInt(params.get("depth") || "", 10);
  return {
    view: path === "/impact" ? "impact" : "graph",
    focus: params.get("namespace") !== null && params.get("name") !== null
      ? { namespace: params.get("namespace"), name: params.get("name") } : null,
    depth: depth >= 1 && depth <= 20 ? depth : state.depth,
    types: (params.get("types") || "").split(",").filter(Boolean),
    jobs: params.get("jobs") === "1",
  };
}

function go(view, focus, depth, types = state.types, jobs = state.jobs) {
  const params = new URLSearchParams();
  if (focus) {
    params.set("namespace", focus.namespace);
    params.set("name", focus.name);
  }
  params.set("depth", String(depth));
  if (types.length) params.set("types", types.join(","));
  if (jobs) params.set("jobs", "1");
  const hash = `#/${view}?${params}`;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function route() {
  const next = readHash();
  state.view = next.view;
  state.depth = next.depth;
  state.types = next.types;
  state.jobs = next.jobs;
  $("jobs-toggle").setAttribute("aria-pressed", String(state.jobs));
  $("depth").value = String(next.depth);
  const sameFocus = state.focus && next.focus && keyOf(state.focus) === keyOf(next.focus);
  state.focus = next.focus;
  if (!sameFocus) state.selectedEdge = null;
  $("view-graph").setAttribute("aria-pressed", String(state.view === "graph"));
  $("view-impact").setAttribute("aria-pressed", String(state.view === "impact"));
  $("graph").hidden = state.view !== "graph";
  $("impact").hidden = state.view !== "impact";
  $("notes").hidden = state.view !== "graph";
  if (!state.focus) {
    document.body.dataset.state = "idle";
    $("graph").hidden = false;
    $("impact").hidden = true;
    showOverview($("graph"), state.depth);
    return;
  }
  if (state.view === "graph") loadGraph();
  else loadImpact();
}

// ---------------------------------------------------------------- search

const search = {
  input: null,
  list: null,
  results: [],
  active: -1,
  timer: 0,
  seq: 0,
};

function closeResults() {
  search.list.hidden = true;
  search.input.setAttribute("aria-expanded", "false");
  search.input.removeAttribute("aria-activedescendant");
  search.active = -1;
}

function setActive(index) {
  const items = search.list.querySelectorAll("[role=option]");
  if (!items.length) return;
  search.active = (index + items.length) % items.length;
  items.forEach((item, i) => item.setAttribute("aria-selected", String(i === search.active)));
  const item = items[search.active];
  search.input.setAttribute("aria-activedescendant", item.id);
  item.scrollIntoView({ block: "nearest" });
}

function choose(index) {
  const dataset = search.results[index];
  if (!dataset) return;
  closeResults();
  search.input.value = dataset.name;
  go(state.view, { namespace: dataset.namespace, name: dataset.name }, state.depth);
}

async function runSearch() {
  const q = search.input.value.trim();
  const seq = ++search.seq;
  if (!q) {
    closeResults();
    return;
  }
  let page;
  try {
    page = await getJson("/api/v1/datasets", { q, limit: SEARCH_PAGE });
  } catch (error) {
    if (seq !== search.seq) return;
    showSearchMessage(`Search failed: ${error.message}`);
    return;
  }
  if (seq !== search.seq) return; // a newer search is under way
  search.results = page.datasets;
  const list = search.list;
  list.replaceChildren();
  page.datasets.forEach((dataset, i) => {
    const item = document.createElement("li");
    item.id = `search-option-${i}`;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", "false");
    item.dataset.namespace = dataset.namespace;
    item.dataset.name = dataset.name;
    const badge = document.createElement("span");
    badge.className = `badge ${sideLabel(dataset)}`;
    badge.textContent = dataset.internal ? "INT" : "EXT";
    const name = document.createElement("span");
    name.className = "option-name";
    name.textContent = dataset.name;
    const meta = document.createElement("span");
    meta.className = "option-meta";
    meta.textContent = `${dataset.type} · ${dataset.namespace}`;
    item.append(badge, name, meta);
    item.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus
    item.addEventListener("click", () => choose(i));
    list.appendChild(item);
  });
  const footer = document.createElement("li");
  footer.className = "search-footer";
  footer.setAttribute("role", "presentation");
  footer.textContent = page.total === 0 ? `No dataset matches “${q}”.`
    : page.total > page.datasets.length
      ? `${page.datasets.length} of ${fmt(page.total)} matches; type more to narrow.`
      : `${fmt(page.total)} ${page.total === 1 ? "match" : "matches"}`;
  list.appendChild(footer);
  list.hidden = false;
  search.input.setAttribute("aria-expanded", "true");
  search.active = -1;
  if (page.datasets.length) setActive(0);
}

function showSearchMessage(message) {
  const item = document.createElement("li");
  item.className = "search-footer";
  item.textContent = message;
  search.list.replaceChildren(item);
  search.results = [];
  search.list.hidden = false;
}

function setUpSearch() {
  search.input = $("search");
  search.list = $("search-results");
  search.input.addEventListener("input", () => {
    window.clearTimeout(search.timer);
    search.timer = window.setTimeout(runSearch, SEARCH_DELAY_MS);
  });
  search.input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (search.list.hidden) {
        runSearch();
        return;
      }
      setActive(search.active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter") {
      event.preventDefault();
      window.clearTimeout(search.timer);
      if (!search.list.hidden && search.active >= 0) choose(search.active);
      else runSearch();
    } else if (event.key === "Escape") {
      closeResults();
    }
  });
  search.input.addEventListener("blur", () => window.setTimeout(closeResults, 150));
}

// ---------------------------------------------------------------- graph

function note(parts) {
  const host = $("notes");
  host.replaceChildren();
  for (const part of parts) {
    const line = document.createElement("span");
    line.className = `note ${part.kind || ""}`;
    if (part.id) line.id = part.id;
    line.textContent = part.text;
    host.appendChild(line);
  }
}

function errorText(error) {
  if (error instanceof ApiError) {
    if (error.status === 404) return "No such dataset in the graph.";
    if (error.status === 503) return "The graph store is unavailable; try again shortly.";
    if (error.status === 401) return "The server needs a token (use the Token button).";
    return `The server answered ${error.status}: ${error.message}`;
  }
  return `Could not reach the server: ${error.message}`;
}

async function loadGraph() {
  const seq = ++state.loadSeq;
  const focus = state.focus;
  document.body.dataset.state = "loading";
  note([{ text: `Loading the lineage of ${focus.name}…` }]);
  const params = { namespace: focus.namespace, name: focus.name, depth: state.depth };
  let up;
  let down;
  try {
    [up, down] = await Promise.all([
      getJson("/api/v1/graph/upstream", params),
      getJson("/api/v1/graph/downstream", params),
    ]);
  } catch (error) {
    if (seq !== state.loadSeq) return;
    note([{ kind: "error", text: errorText(error) }]);
    $("graph").replaceChildren();
    document.body.dataset.state = "error";
    return;
  }
  if (seq !== state.loadSeq) return;
  state.graph = mergeLineage(up, down);
  drawGraph();
  showNode(state.graph.nodes.get(state.graph.root));
  document.body.dataset.state = "ready";
}

function drawGraph() {
  const graph = state.graph;
  const drawn = state.jobs ? withJobs(cut(graph, DRAW_CAP)) : cut(graph, DRAW_CAP);
  state.drawn = drawn;
  const host = $("graph");
  const placed = place(drawn, geometryFor(host.clientWidth || window.innerWidth));
  render(host, drawn, placed, state.selectedEdge);
  host.dataset.focus = graph.root;

  const datasets = drawn.nodes.filter((n) => n.kind !== "job").length;
  const jobs = drawn.jobs ? ` and ${fmt(drawn.jobs.size)} jobs` : "";
  const lines = drawn.jobs ? "links" : "edges";
  const parts = [{
    id: "drawn-count",
    text: `${fmt(datasets)} datasets${jobs} and ${fmt(drawn.edges.length)} ${lines} drawn.`,
  }];
  if (drawn.nodesCut) {
    parts.push({
      kind: "warn",
      id: "cut-count",
      text: `${fmt(drawn.nodesCut)} datasets not drawn: the page draws the ${DRAW_CAP} nearest.`,
    });
  }
  if (drawn.edgesCut) {
    parts.push({ kind: "warn", text: `${fmt(drawn.edgesCut)} edges between drawn datasets not drawn.` });
  }
  for (const side of ["upstream", "downstream"]) {
    if (graph.truncated[side]) {
      parts.push({
        kind: "warn",
        id: `server-cut-${side}`,
        text: `The server cut the ${side} answer at its node limit: there is more ${side}.`,
      });
    }
  }
  const distances = [...graph.nodes.values()].map((n) => n.distance);
  const reached = [];
  if (distances.some((d) => d === -state.depth)) reached.push("upstream");
  if (distances.some((d) => d === state.depth)) reached.push("downstream");
  if (reached.length) {
    parts.push({
      kind: "info",
      id: "depth-cut",
      text: `Cut at depth ${state.depth}: there may be more ${reached.join(" and ")} (raise the depth).`,
    });
  }
  note(parts);
  centreOnFocus(host, placed.positions.get(graph.root), placed.geometry);
}

function centreOnFocus(host, position, g) {
  if (!position) return;
  host.scrollLeft = Math.max(0, position.x + g.nodeW / 2 - host.clientWidth / 2);
  host.scrollTop = Math.max(0, position.y + g.nodeH / 2 - host.clientHeight / 2);
}

function onGraphActivate(event) {
  const target = event.target.closest(".node, .edge");
  if (!target) return;
  if (target.dataset.kind === "job") {
    showJob(state.drawn.jobs.get(target.dataset.key));
  } else if (target.classList.contains("node")) {
    const node = state.graph.nodes.get(target.dataset.key);
    if (node.distance === 0) {
      showNode(node);
      return;
    }
    go("graph", { namespace: node.namespace, name: node.name }, state.depth);
  } else {
    const link = state.drawn.edges.find((e) => e.key === target.dataset.key);
    const edge = link && link.link ? link.edge : state.graph.edges.get(target.dataset.key);
    state.selectedEdge = target.dataset.key;
    for (const g of $("graph").querySelectorAll(".edge.selected")) g.classList.remove("selected");
    target.classList.add("selected");
    showEdge(edge);
  }
}

// ---------------------------------------------------------------- details

function detailsList(rows) {
  const list = document.createElement("dl");
  for (const [label, field, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.field = field;
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = value === null || value === undefined ? "—" : String(value);
    list.append(dt, dd);
  }
  return list;
}

function heading(text, kind) {
  const h = document.createElement("h2");
  h.textContent = text;
  h.dataset.kind = kind;
  return h;
}

function showNode(node) {
  const host = $("details");
  const side = document.createElement("span");
  side.className = `badge ${sideLabel(node)}`;
  side.textContent = `${node.internal ? "INT" : "EXT"} ${sideLabel(node)}`;
  const where = node.distance === 0 ? "the focus" : node.distance < 0
    ? `${-node.distance} upstream of the focus` : `${node.distance} downstream of the focus`;
  const inGraph = [...state.graph.nodes.values()];
  const rows = [
    ["Name", "name", node.name],
    ["Namespace", "namespace", node.namespace],
    ["Type", "type", node.type],
    ["Side", "side", side],
    ["Position", "distance", where],
  ];
  if (node.distance === 0) {
    const count = (n) => `${fmt(n)} ${n === 1 ? "dataset" : "datasets"} within depth ${state.depth}`;
    rows.push(["Upstream", "upstream", count(inGraph.filter((n) => n.distance < 0).length)]);
    rows.push(["Downstream", "downstream", count(inGraph.filter((n) => n.distance > 0).length)]);
  }
  const impact = document.createElement("button");
  impact.type = "button";
  impact.id = "details-impact";
  impact.textContent = "Impact: everything downstream";
  impact.addEventListener("click", () => go("impact", node, state.depth));
  host.replaceChildren(heading("Dataset", "node"), detailsList(rows), impact);
  showColumns(host, node, state.depth);
}

function showEdge(edge) {
  const host = $("details");
  const jobs = document.createElement("ul");
  jobs.className = "jobs";
  for (const job of edge.jobs) {
    const li = document.createElement("li");
    li.textContent = `${job.namespace}/${job.name}`;
    jobs.appendChild(li);
  }
  host.replaceChildren(heading("Edge", "edge"), detailsList([
    ["From", "source", `${edge.source.namespace}/${edge.source.name}`],
    ["To", "target", `${edge.target.namespace}/${edge.target.name}`],
    ["Jobs", "jobs", jobs],
    ["First seen", "firstSeen", edge.firstSeen],
    ["Last seen", "lastSeen", edge.lastSeen],
    ["Last run id", "lastRunId", edge.lastRunId],
    ["Events", "events", fmt(edge.events)],
  ]));
}

function showJob(job) {
  const ends = (keys) => {
    const list = document.createElement("ul");
    list.className = "jobs";
    for (const key of [...keys].sort()) {
      const node = state.graph.nodes.get(key);
      const li = document.createElement("li");
      li.textContent = `${node.namespace}/${node.name} (${node.type})`;
      list.appendChild(li);
    }
    return list;
  };
  $("details").replaceChildren(heading("Job", "job"), detailsList([
    ["Name", "name", job.name],
    ["Namespace", "namespace", job.namespace],
    ["Inputs", "inputs", ends(job.inputs)],
    ["Outputs", "outputs", ends(job.outputs)],
  ]));
}

// ---------------------------------------------------------------- impact

export function csvCell(value) {
  let text = String(value);
  // A leading = + - @ would make a spreadsheet run the cell as a formula.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function impactCsv(nodes) {
  const lines = ["distance,namespace,name,type,internal"];
  for (const n of nodes) {
    lines.push([n.distance, n.namespace, n.name, n.type, n.internal].map(csvCell).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

let csvUrl = null;

async function loadImpact() {
  const seq = ++state.loadSeq;
  const focus = state.focus;
  document.body.dataset.state = "loading";
  const only = state.types.length ? ` (only ${state.types.join(", ")})` : "";
  $("impact-title").textContent = `Impact of ${focus.namespace}/${focus.name}${only}`;
  showTypeFilter($("impact-types"), () => state.types, (types) => go("impact", focus, state.depth, types));
  const notes = $("impact-notes");
  notes.textContent = "Loading…";
  const body = $("impact-table").tBodies[0];
  body.replaceChildren();
  const link = $("impact-csv");
  link.hidden = true;
  let answer;
  try {
    answer = await getJson("/api/v1/graph/impact", {
      namespace: focus.namespace, name: focus.name, depth: IMPACT_DEPTH, limit: IMPACT_LIMIT,
      types: state.types.join(","),
    });
  } catch (error) {
    if (seq !== state.loadSeq) return;
    notes.textContent = errorText(error);
    document.body.dataset.state = "error";
    return;
  }
  if (seq !== state.loadSeq) return;
  const nodes = [...answer.nodes].sort(
    (a, b) => a.distance - b.distance || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name),
  );
  for (const n of nodes.slice(0, IMPACT_ROWS)) {
    const row = body.insertRow();
    row.dataset.namespace = n.namespace;
    row.dataset.name = n.name;
    row.dataset.distance = String(n.distance);
    row.insertCell().textContent = String(n.distance);
    const cell = row.insertCell();
    const open = document.createElement("a");
    open.href = `#/graph?${new URLSearchParams({ namespace: n.namespace, name: n.name, depth: String(state.depth) })}`;
    open.textContent = n.name;
    const ns = document.createElement("span");
    ns.className = "ns";
    ns.textContent = n.namespace;
    cell.append(open, ns);
    const type = row.insertCell();
    type.append(typeBadge(n.type, 14), ` ${n.type}`);
    const side = row.insertCell();
    const badge = document.createElement("span");
    badge.className = `badge ${sideLabel(n)}`;
    badge.textContent = n.internal ? "INT internal" : "EXT external";
    side.appendChild(badge);
  }
  const kinds = state.types.length ? ` of type ${state.types.join(" or ")}` : "";
  const parts = [`${fmt(nodes.length)} datasets${kinds} downstream (depth up to ${answer.depth}).`];
  if (nodes.length > IMPACT_ROWS) parts.push(`The table shows the nearest ${fmt(IMPACT_ROWS)}; the CSV has all ${fmt(nodes.length)}.`);
  if (answer.truncated) parts.push(`The server cut the answer at ${fmt(IMPACT_LIMIT)} datasets: there is more.`);
  notes.textContent = parts.join(" ");
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = URL.createObjectURL(new Blob([impactCsv(nodes)], { type: "text/csv" }));
  link.href = csvUrl;
  link.download = `impact-${shorten(focus.name, 60).replace(/[^A-Za-z0-9._-]+/g, "_")}.csv`;
  link.hidden = false;
  document.body.dataset.state = "ready";
}

// ---------------------------------------------------------------- start

function start() {
  setUpSearch();
  const graph = $("graph");
  graph.addEventListener("click", onGraphActivate);
  graph.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      if (event.target.closest(".node, .edge")) {
        event.preventDefault();
        onGraphActivate(event);
      }
    }
  });
  const applyDepth = () => {
    const raw = Number.parseInt($("depth").value, 10);
    if (!(raw >= 1)) return; // half-typed or empty: wait for a number
    const depth = Math.min(20, raw);
    if (depth !== state.depth) go(state.view, state.focus, depth);
  };
  $("depth").addEventListener("change", applyDepth);
  $("depth").addEventListener("keydown", (event) => {
    if (event.key === "Enter") applyDepth();
  });
  $("view-graph").addEventListener("click", () => go("graph", state.focus, state.depth));
  $("view-impact").addEventListener("click", () => go("impact", state.focus, state.depth));
  $("jobs-toggle").addEventListener("click", () => {
    go(state.view, state.focus, state.depth, state.types, !state.jobs);
  });
  typeLegend($("type-legend"));
  $("token-button").addEventListener("click", () => {
    askForToken("Enter the API token for this tab (kept in sessionStorage).")
      .then(() => route(), () => {});
  });
  window.addEventListener("hashchange", route);
  route();
  startOps($("ops"));
}

start();
