// The jobs between datasets drawn as their own nodes (the step DAG that
// SageMaker and Snowsight show): each job of an edge becomes one node, linked
// from every input and to every output it has among the drawn datasets, as in
// the Marquez lineage answer. Pure except for `drawJob`.

const SVG = "http://www.w3.org/2000/svg";

export function jobKey(job) {
  return `job\u0000${job.namespace}\u0000${job.name}`;
}

// `drawn` (layout.cut) with job nodes: datasets keep their column at twice
// their distance, a job sits in the odd column right after its nearest input
// (left of its outputs when they allow it), and every edge becomes links
// dataset -> job -> dataset. An edge without jobs stays a direct edge.
export function withJobs(drawn) {
  const nodes = drawn.nodes.map((n) => ({ ...n, column: 2 * n.distance }));
  const byKey = new Map(nodes.map((n) => [n.key, n]));
  const jobs = new Map();
  const links = new Map();
  const link = (from, to, job, edge) => {
    const key = `${from}\u0001${to}`;
    if (links.has(key)) return;
    const end = (k) => {
      const n = byKey.get(k) || jobs.get(k);
      return { namespace: n.namespace, name: n.name };
    };
    links.set(key, { key, from, to, link: true, job, edge, source: end(from), target: end(to) });
  };
  for (const edge of drawn.edges) {
    if (!edge.jobs.length) {
      links.set(edge.key, edge);
      continue;
    }
    for (const job of edge.jobs) {
      const key = jobKey(job);
      let node = jobs.get(key);
      if (!node) {
        node = {
          key, kind: "job", namespace: job.namespace, name: job.name,
          inputs: new Set(), outputs: new Set(),
        };
        jobs.set(key, node);
      }
      node.inputs.add(edge.from);
      node.outputs.add(edge.to);
      link(edge.from, key, job, edge);
      link(key, edge.to, job, edge);
    }
  }
  for (const job of jobs.values()) {
    const inputs = [...job.inputs].map((k) => byKey.get(k).distance);
    const outputs = [...job.outputs].map((k) => byKey.get(k).distance);
    let column = 2 * Math.max(...inputs) + 1;
    const before = 2 * Math.min(...outputs) - 1;
    if (before < column && before > 2 * Math.min(...inputs)) column = before;
    job.column = column;
    job.distance = column / 2; // between its inputs' and its outputs' distances
    nodes.push(job);
  }
  const cutPerColumn = new Map();
  for (const [d, count] of drawn.cutPerColumn) cutPerColumn.set(2 * d, count);
  return { ...drawn, nodes, edges: [...links.values()], cutPerColumn, jobs };
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  parent.appendChild(node);
  return node;
}

function clip(value, max) {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

// A job: a pill with a gear-like mark, its name and namespace.
export function drawJob(layer, job, p, g) {
  const label = `Job ${job.namespace}/${job.name}: ${job.inputs.size} inputs, ${job.outputs.size} outputs`;
  const group = el("g", {
    class: "node job",
    transform: `translate(${p.x},${p.y})`,
    tabindex: 0,
    role: "button",
    "aria-label": label,
    "data-key": job.key,
    "data-kind": "job",
    "data-namespace": job.namespace,
    "data-name": job.name,
  }, layer);
  el("title", {}, group).textContent = label;
  el("rect", { class: "box", width: g.nodeW, height: g.nodeH, rx: g.nodeH / 2 }, group);
  el("path", { class: "job-mark", d: "M14 14l10 9-10 9z" }, group);
  const name = el("text", { class: "name", x: 30, y: 20, "clip-path": "url(#node-clip)" }, group);
  name.textContent = clip(job.name, g.nameChars + 2);
  const sub = el("text", { class: "sub", x: 30, y: 36, "clip-path": "url(#node-clip)" }, group);
  sub.textContent = clip(`job · ${job.namespace}`, g.subChars - 3);
}
