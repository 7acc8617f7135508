// Pure layout: the upstream and downstream answers merged around the focus,
// cut to what the page draws, placed in columns by signed distance (upstream
// negative, on the left) and ordered within each column to reduce crossings.

// The most datasets drawn at once: past a few hundred SVG groups a phone's
// layout and hit-testing get slow, and nobody reads a denser picture.
export const DRAW_CAP = 250;
export const EDGE_CAP = 1500;

// Box sizes and gaps; narrow windows (phones) get the compact set, so that
// the focus and one column on each side fit across the screen.
export const WIDE = { name: "wide", nodeW: 220, nodeH: 46, colGap: 90, rowH: 60, pad: 24, nameChars: 22, subChars: 31 };
export const COMPACT = { name: "compact", nodeW: 150, nodeH: 46, colGap: 34, rowH: 58, pad: 12, nameChars: 12, subChars: 21 };
const SWEEPS = 4;

export function geometryFor(width) {
  return width < 600 ? COMPACT : WIDE;
}

export function keyOf(ref) {
  return `${ref.namespace}\u0000${ref.name}`;
}

// Both answers as one graph: node key -> node with a signed `distance`.
// A dataset on both sides (a cycle) keeps its nearer side, downstream on a tie.
export function mergeLineage(up, down) {
  const nodes = new Map();
  const put = (node, sign) => {
    const key = keyOf(node);
    const distance = sign * node.distance;
    const seen = nodes.get(key);
    if (!seen || Math.abs(distance) < Math.abs(seen.distance) ||
        (Math.abs(distance) === Math.abs(seen.distance) && distance > seen.distance)) {
      nodes.set(key, { ...node, key, distance });
    }
  };
  for (const node of up.nodes) put(node, -1);
  for (const node of down.nodes) put(node, 1);
  const edges = new Map();
  for (const edge of [...up.edges, ...down.edges]) {
    const key = `${keyOf(edge.source)}\u0001${keyOf(edge.target)}`;
    edges.set(key, { ...edge, key, from: keyOf(edge.source), to: keyOf(edge.target) });
  }
  return {
    root: keyOf(up.root),
    nodes,
    edges,
    depth: down.depth,
    truncated: { upstream: Boolean(up.truncated), downstream: Boolean(down.truncated) },
  };
}

function byName(a, b) {
  return a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 :
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// The nearest `cap` datasets (focus first), the edges between them, and what was cut.
export function cut(graph, cap = DRAW_CAP, edgeCap = EDGE_CAP) {
  const all = [...graph.nodes.values()].sort(
    (a, b) => Math.abs(a.distance) - Math.abs(b.distance) || a.distance - b.distance || byName(a, b),
  );
  const kept = all.slice(0, cap);
  const keptKeys = new Set(kept.map((n) => n.key));
  const cutPerColumn = new Map();
  for (const node of all.slice(cap)) {
    cutPerColumn.set(node.distance, (cutPerColumn.get(node.distance) || 0) + 1);
  }
  const between = [...graph.edges.values()].filter((e) => keptKeys.has(e.from) && keptKeys.has(e.to));
  return {
    nodes: kept,
    edges: between.slice(0, edgeCap),
    nodesCut: all.length - kept.length,
    edgesCut: between.length > edgeCap ? between.length - edgeCap : 0,
    cutPerColumn,
  };
}

// A node's column: its distance, unless it says otherwise (jobs.js puts jobs
// between the datasets' columns).
const columnOf = (node) => (node.column === undefined ? node.distance : node.column);

// Columns by distance, each ordered by barycentre sweeps; returns positions.
export function place(drawn, geometry = WIDE) {
  const { nodeW: NODE_W, colGap: COL_GAP, rowH: ROW_H, pad: PAD } = geometry;
  const columns = new Map();
  for (const node of drawn.nodes) {
    const d = columnOf(node);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(node);
  }
  const order = [...columns.keys()].sort((a, b) => a - b);
  for (const d of order) columns.get(d).sort(byName);

  const neighbours = new Map(drawn.nodes.map((n) => [n.key, []]));
  for (const e of drawn.edges) {
    if (e.from === e.to) continue;
    neighbours.get(e.from).push(e.to);
    neighbours.get(e.to).push(e.from);
  }
  const distanceOf = new Map(drawn.nodes.map((n) => [n.key, columnOf(n)]));
  const rank = new Map();
  const renumber = (column) => {
    // Centred ranks, so that short columns line up with the middle of long ones.
    const mid = (column.length - 1) / 2;
    column.forEach((n, i) => rank.set(n.key, i - mid));
  };
  for (const d of order) renumber(columns.get(d));

  const sweep = (d, towards) => {
    const column = columns.get(d);
    const score = new Map();
    for (const node of column) {
      const near = neighbours.get(node.key).filter((k) => distanceOf.get(k) === d + towards);
      score.set(node.key, near.length
        ? near.reduce((sum, k) => sum + rank.get(k), 0) / near.length
        : rank.get(node.key));
    }
    // Stable sort: ties keep their previous (name) order.
    column.sort((a, b) => score.get(a.key) - score.get(b.key));
    renumber(column);
  };
  for (let i = 0; i < SWEEPS; i++) {
    for (const d of order.slice(1)) sweep(d, -1);
    for (const d of order.slice(0, -1).reverse()) sweep(d, 1);
  }

  const tallest = Math.max(1, ...order.map((d) => columns.get(d).length));
  // A column cut entirely still gets its place, for its "not drawn" mark.
  const spread = [...order, ...drawn.cutPerColumn.keys()];
  const minD = Math.min(0, ...spread);
  const maxD = Math.max(0, ...spread);
  const positions = new Map();
  for (const d of order) {
    const column = columns.get(d);
    const top = PAD + ((tallest - column.length) * ROW_H) / 2;
    column.forEach((node, i) => {
      positions.set(node.key, {
        x: PAD + (d - minD) * (NODE_W + COL_GAP),
        y: top + i * ROW_H,
      });
    });
  }
  const cutMarks = [];
  for (const [d, count] of drawn.cutPerColumn) {
    const column = columns.get(d) || [];
    const x = PAD + (d - minD) * (NODE_W + COL_GAP);
    const y = PAD + ((tallest - column.length) * ROW_H) / 2 + column.length * ROW_H;
    cutMarks.push({ distance: d, count, x, y });
  }
  const bottom = Math.max(
    PAD + tallest * ROW_H,
    ...cutMarks.map((m) => m.y + ROW_H / 2),
  );
  return {
    geometry,
    positions,
    cutMarks,
    width: PAD * 2 + (maxD - minD) * (NODE_W + COL_GAP) + NODE_W,
    height: bottom + PAD,
  };
}
