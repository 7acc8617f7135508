// The SVG drawing of a placed graph. Every label goes in as text, never as
// markup, so dataset names cannot inject anything.

import { drawJob } from "./jobs.js";
import { typeIcon } from "./types.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, attrs, content) {
  const node = el("text", attrs, parent);
  node.textContent = content;
  return node;
}

export function shorten(value, max) {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

// Dataset names share long prefixes (RAW.ORDERS.ORDERS, RAW.ORDERS.ORDER_ITEMS):
// their ends tell them apart, so the middle goes.
export function shortenMiddle(value, max) {
  if (value.length <= max) return value;
  const head = Math.ceil((max - 1) * 0.4);
  return `${value.slice(0, head)}…${value.slice(value.length - (max - 1 - head))}`;
}

export function sideLabel(node) {
  return node.internal ? "internal" : "external";
}

function edgePath(a, b, g) {
  const x1 = a.x + g.nodeW;
  const y1 = a.y + g.nodeH / 2;
  const x2 = b.x;
  const y2 = b.y + g.nodeH / 2;
  // Forward edges bend gently; an edge going back (a cycle) loops around.
  const bend = x2 > x1 ? Math.max(20, (x2 - x1) / 2) : 120;
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}

function describeNode(node) {
  const where = node.distance === 0 ? "focus" :
    node.distance < 0 ? `${-node.distance} upstream` : `${node.distance} downstream`;
  return `${node.namespace}/${node.name}, ${node.type}, ${sideLabel(node)}, ${where}`;
}

// Draw `drawn` (from layout.cut) at `placed` (from layout.place) into `host`.
export function render(host, drawn, placed, selectedEdge) {
  const g = placed.geometry;
  const svg = el("svg", {
    width: placed.width,
    height: placed.height,
    viewBox: `0 0 ${placed.width} ${placed.height}`,
    role: "group",
    class: g.name,
    "aria-label": `Lineage: ${drawn.nodes.length} datasets, ${drawn.edges.length} edges`,
    "data-nodes": drawn.nodes.length,
    "data-edges": drawn.edges.length,
  });
  const defs = el("defs", {}, svg);
  const marker = el("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }, marker);
  // Labels are shortened by character count; wide letters could still run
  // past the box, so they are clipped to it (one clip, in each node's own frame).
  const clip = el("clipPath", { id: "node-clip", clipPathUnits: "userSpaceOnUse" }, defs);
  el("rect", { x: 0, y: 0, width: g.nodeW - 4, height: g.nodeH }, clip);
  // The name stops short of the type's outline, top right.
  const nameClip = el("clipPath", { id: "name-clip", clipPathUnits: "userSpaceOnUse" }, defs);
  el("rect", { x: 0, y: 0, width: g.nodeW - 26, height: g.nodeH }, nameClip);

  const edgeLayer = el("g", { class: "edges" }, svg);
  for (const edge of drawn.edges) {
    const a = placed.positions.get(edge.from);
    const b = placed.positions.get(edge.to);
    const group = el("g", {
      class: edge.key === selectedEdge ? "edge selected" : "edge",
      tabindex: 0,
      role: "button",
      "aria-label": `Edge ${edge.source.namespace}/${edge.source.name} to ` +
        `${edge.target.namespace}/${edge.target.name}` +
        (edge.link ? ` (job ${edge.job.namespace}/${edge.job.name})` : `, ${edge.events} events`),
      "data-key": edge.key,
      "data-source-namespace": edge.source.namespace,
      "data-source-name": edge.source.name,
      "data-target-namespace": edge.target.namespace,
      "data-target-name": edge.target.name,
    }, edgeLayer);
    const d = edgePath(a, b, g);
    el("path", { d, class: "edge-hit" }, group);
    el("path", { d, class: "edge-line", "marker-end": "url(#arrow)" }, group);
  }

  const nodeLayer = el("g", { class: "nodes" }, svg);
  for (const node of drawn.nodes) {
    const p = placed.positions.get(node.key);
    if (node.kind === "job") {
      drawJob(nodeLayer, node, p, g);
      continue;
    }
    const side = sideLabel(node);
    const group = el("g", {
      class: `node ${side}${node.distance === 0 ? " focus" : ""}`,
      transform: `translate(${p.x},${p.y})`,
      tabindex: 0,
      role: "button",
      "aria-label": describeNode(node),
      "data-key": node.key,
      "data-namespace": node.namespace,
      "data-name": node.name,
      "data-distance": node.distance,
      "data-internal": node.internal ? "true" : "false",
      "data-type": node.type,
    }, nodeLayer);
    el("title", {}, group).textContent = describeNode(node);
    el("rect", { class: "box", width: g.nodeW, height: g.nodeH, rx: node.internal ? 8 : 0 }, group);
    el("rect", { class: "badge", x: 6, y: 7, width: 30, height: 15, rx: node.internal ? 4 : 0 }, group);
    text(group, { class: "badge-text", x: 21, y: 18, "text-anchor": "middle" },
      node.internal ? "INT" : "EXT");
    text(group, { class: "name", x: 42, y: 19, "clip-path": "url(#name-clip)" }, shortenMiddle(node.name, Math.floor(g.nameChars * 0.75)));
    text(group, { class: "sub", x: 8, y: 37, "clip-path": "url(#node-clip)" }, shorten(`${node.type} · ${node.namespace}`, g.subChars));
    // The type's outline, top right, on a backing that hides a long name under it.
    el("rect", { class: "icon-back", x: g.nodeW - 24, y: 3, width: 21, height: 21, rx: 3 }, group);
    group.appendChild(typeIcon(node.type, g.nodeW - 22, 5, 17));
  }

  for (const mark of placed.cutMarks) {
    text(svg, { class: "cut-mark", x: mark.x + 6, y: mark.y + 22, "data-distance": mark.distance },
      `+${mark.count.toLocaleString("en")} not drawn`);
  }
  host.replaceChildren(svg);
  return svg;
}
