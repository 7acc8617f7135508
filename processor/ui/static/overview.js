// The first screen, before any dataset is in focus: the graph's datasets by
// type (a type lists its datasets), the most connected datasets and the edges
// seen last, each dataset a click away from its lineage (GET /api/v1/graph/overview, /api/v1/datasets?types=).

import { getJson } from "./api.js";
import { typeBadge } from "./types.js";

const TYPE_PAGE = 25;
const fmt = (n) => Number(n).toLocaleString("en");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function lineageLink(dataset, depth) {
  const link = element("a", "dataset-link");
  link.href = `#/graph?${new URLSearchParams({ namespace: dataset.namespace, name: dataset.name, depth: String(depth) })}`;
  link.dataset.namespace = dataset.namespace;
  link.dataset.name = dataset.name;
  link.append(typeBadge(dataset.type), element("span", "link-name", dataset.name));
  link.title = `${dataset.namespace}/${dataset.name} (${dataset.type})`;
  return link;
}

async function listType(host, type, depth) {
  host.replaceChildren(element("p", "hint", `Loading the ${type} datasets…`));
  let page;
  try {
    page = await getJson("/api/v1/datasets", { types: type, limit: TYPE_PAGE });
  } catch (error) {
    host.replaceChildren(element("p", "hint", `Could not list them: ${error.message}`));
    return;
  }
  const title = element("h3", "", `${type}: ${fmt(page.total)} ${page.total === 1 ? "dataset" : "datasets"}`);
  const list = element("ul", "dataset-list");
  list.id = "type-datasets";
  list.dataset.type = type;
  for (const dataset of page.datasets) {
    const item = element("li");
    item.append(lineageLink(dataset, depth), element("span", "ns", dataset.namespace));
    list.appendChild(item);
  }
  host.replaceChildren(title, list);
  if (page.total > page.datasets.length) {
    host.appendChild(element("p", "hint", `The first ${page.datasets.length}; search by name for the others.`));
  }
}

// A box of the overview: a section with its heading and its list, both returned
// (the list is filled after).
function box(label, heading, listTag, listClass, listId) {
  const section = element("section", "overview-box");
  section.setAttribute("aria-label", label);
  const list = element(listTag, listClass);
  list.id = listId;
  section.append(element("h2", "", heading), list);
  return [section, list];
}

// Fill `host` with the overview; `depth` for the links it makes.
export async function showOverview(host, depth) {
  const intro = element("p", "empty", "Search for a dataset to see its lineage: upstream on the left, downstream on the right. Or start from the graph at a glance:");
  host.replaceChildren(intro);
  let overview;
  try {
    overview = await getJson("/api/v1/graph/overview", {}, { interactive: false });
  } catch {
    return; // the search still works; the strip says why the API is down
  }
  const wrap = element("div", "overview");
  wrap.id = "overview";

  const [types, typeList] = box("Datasets by type", `Datasets by type (${fmt(overview.datasets)}${overview.complete ? "" : "+"})`,
    "ul", "type-counts", "type-counts");
  const listed = element("div", "type-datasets");
  for (const { type, datasets } of overview.types) {
    const item = element("li");
    const button = element("button", "type-count");
    button.type = "button";
    button.dataset.type = type;
    button.append(typeBadge(type), element("span", "type-name", type), element("span", "count", fmt(datasets)));
    button.addEventListener("click", () => {
      for (const b of typeList.querySelectorAll("button")) b.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-pressed", "true");
      listType(listed, type, depth);
    });
    item.appendChild(button);
    typeList.appendChild(item);
  }
  if (!overview.types.length) typeList.appendChild(element("li", "hint", "The graph is empty so far."));
  types.appendChild(listed);

  const [connected, top] = box("Most connected datasets", "Most connected", "ol", "dataset-list", "most-connected");
  for (const dataset of overview.mostConnected) {
    const item = element("li");
    item.append(lineageLink(dataset, depth), element("span", "ns", `${dataset.namespace} · ${fmt(dataset.edges)} ${dataset.edges === 1 ? "edge" : "edges"}`));
    top.appendChild(item);
  }

  const [recent, edges] = box("Edges seen last", "Edges seen last", "ol", "dataset-list", "recent-edges");
  for (const edge of overview.recentEdges) {
    const item = element("li");
    item.dataset.lastSeen = edge.lastSeen;
    item.append(lineageLink(edge.source, depth), element("span", "arrow", " → "), lineageLink(edge.target, depth),
      element("span", "ns", `last seen ${edge.lastSeen}`));
    edges.appendChild(item);
  }
  if (!overview.recentEdges.length) edges.appendChild(element("li", "hint", "No edge yet."));
  wrap.append(types, connected, recent);
  host.appendChild(wrap);
}
