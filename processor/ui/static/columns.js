// Column lineage in the details panel: a dataset's columns with their upstream
// columns and transformation badges (INDIRECT listed apart from DIRECT,
// masking flagged); choosing a column shows its lineage across datasets,
// upstream and downstream, from /api/v1/graph/columns/*.

import { ApiError, getJson } from "./api.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const label = (c) => (c.field === null ? "(whole dataset)" : c.field);
const where = (c) => `${c.namespace}/${c.name}`;
const isIndirect = (edge) =>
  edge.transformations.length > 0 && edge.transformations.every((t) => t.type === "INDIRECT");

// One badge per transformation: DIRECT/INDIRECT tell the colour, masking is
// its own mark so that it is seen at a glance.
export function badges(edge) {
  const box = el("span", "tr-badges");
  if (edge.transformations.length === 0) box.appendChild(el("span", "tr tr-none", "unspecified"));
  for (const t of edge.transformations) {
    const kind = t.type === "DIRECT" ? "tr-direct" : t.type === "INDIRECT" ? "tr-indirect" : "tr-other";
    const badge = el("span", `tr ${kind}`, t.subtype ? `${t.type} ${t.subtype}` : t.type);
    badge.dataset.type = t.type;
    box.appendChild(badge);
    if (t.masking) {
      const mask = el("span", "tr tr-masked", "masked");
      mask.title = "this transformation masks the data";
      box.appendChild(mask);
    }
  }
  return box;
}

function inputItem(edge) {
  const li = el("li", "col-input");
  li.dataset.source = `${where(edge.source)}.${edge.source.field}`;
  li.append(el("span", "col-source", `${where(edge.source)}.${edge.source.field}`), " ", badges(edge));
  return li;
}

function inputLists(edges) {
  const box = el("div", "col-inputs");
  const direct = edges.filter((e) => !isIndirect(e));
  const indirect = edges.filter(isIndirect);
  for (const [title, list, cls] of [["from", direct, "direct"], ["indirect (joins, filters, grouping…)", indirect, "indirect"]]) {
    if (list.length === 0) continue;
    const ul = el("ul", `col-list col-${cls}`);
    ul.setAttribute("aria-label", title);
    for (const e of list) ul.appendChild(inputItem(e));
    box.append(el("span", "col-kind", title), ul);
  }
  return box;
}

// The columns of a dataset, each with its upstream columns; a click on a
// column shows its lineage across datasets.
export async function showColumns(host, node, depth) {
  const section = el("section", "columns");
  section.id = "columns";
  section.appendChild(el("h3", "", "Columns"));
  const status = el("p", "hint", "loading column lineage…");
  section.appendChild(status);
  host.appendChild(section);
  let answer;
  try {
    answer = await getJson("/api/v1/graph/columns/upstream", {
      namespace: node.namespace, name: node.name, depth: 1,
    });
  } catch (err) {
    if (!section.isConnected) return; // another dataset was chosen meanwhile
    status.textContent = err instanceof ApiError && err.status === 404
      ? "No column lineage for this dataset." : `Column lineage unavailable: ${err.message}`;
    return;
  }
  if (!section.isConnected) return;
  status.remove();
  // Keyed by field, the whole dataset (null) apart from any field name.
  const fieldKey = (c) => (c.field === null ? null : `f:${c.field}`);
  const into = new Map();
  for (const e of answer.edges) {
    const key = fieldKey(e.target);
    if (!into.has(key)) into.set(key, []);
    into.get(key).push(e);
  }
  const list = el("ul", "col-columns");
  for (const root of answer.roots) {
    const li = el("li", "col-column");
    li.dataset.field = root.field === null ? "" : root.field;
    const button = el("button", "col-pick linklike", label(root));
    button.type = "button";
    button.addEventListener("click", () => showColumnLineage(section, root, depth));
    li.append(button, inputLists(into.get(fieldKey(root)) || []));
    list.appendChild(li);
  }
  section.appendChild(list);
}

function walkList(answer, arrow) {
  const ul = el("ul", "col-walk");
  for (const c of answer.columns) {
    if (c.distance === 0) continue;
    const li = el("li", "col-walk-item");
    li.dataset.column = `${where(c)}.${label(c)}`;
    li.dataset.distance = String(c.distance);
    const edges = answer.edges.filter((e) =>
      arrow === "←" ? e.source.namespace === c.namespace && e.source.name === c.name && e.source.field === c.field
        : e.target.namespace === c.namespace && e.target.name === c.name && e.target.field === c.field);
    li.append(el("span", "col-distance", `${arrow}${c.distance}`), " ",
      el("span", "col-source", `${where(c)}.${label(c)}`));
    for (const e of edges) li.append(" ", badges(e));
    ul.appendChild(li);
  }
  if (!ul.children.length) ul.appendChild(el("li", "hint", "none"));
  return ul;
}

// A column's lineage across datasets: upstream and downstream by distance.
export async function showColumnLineage(section, column, depth) {
  let view = section.querySelector("#column-lineage");
  if (!view) {
    view = el("div", "column-lineage");
    view.id = "column-lineage";
    section.appendChild(view);
  }
  view.replaceChildren(el("h4", "", `Lineage of ${label(column)}`), el("p", "hint", "loading…"));
  const params = { namespace: column.namespace, name: column.name, depth };
  if (column.field !== null) params.field = column.field;
  try {
    const [up, down] = await Promise.all([
      getJson("/api/v1/graph/columns/upstream", params),
      column.field === null ? Promise.resolve({ columns: [], edges: [] })
        : getJson("/api/v1/graph/columns/downstream", params),
    ]);
    const upBox = el("div", "col-up");
    upBox.append(el("span", "col-kind", "upstream"), walkList(up, "←"));
    const downBox = el("div", "col-down");
    downBox.append(el("span", "col-kind", "downstream"), walkList(down, "→"));
    view.replaceChildren(el("h4", "", `Lineage of ${label(column)}`), upBox, downBox);
  } catch (err) {
    view.replaceChildren(el("p", "hint", `Column lineage unavailable: ${err.message}`));
  }
}
