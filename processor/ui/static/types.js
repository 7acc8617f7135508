// Dataset types drawn so that they are told apart without colour: each common
// type has its own outline (a grid for a table, a hexagon for a model, a flask
// for an experiment...) and a short tag; any other type gets a dashed circle
// and is shown by its name. Colour only doubles the outline.

const SVG = "http://www.w3.org/2000/svg";

// type -> [shape, tag]; the shapes are drawn in a 16×16 box.
export const TYPE_SHAPES = {
  TABLE: ["table", "TBL"],
  VIEW: ["view", "VIEW"],
  FILE: ["file", "FILE"],
  TOPIC: ["topic", "TOPIC"],
  DATASET: ["dataset", "DS"],
  FEATURE_VIEW: ["feature", "FV"],
  MODEL: ["model", "MODEL"],
  MODEL_VERSION: ["version", "MV"],
  EXPERIMENT: ["experiment", "EXP"],
  SERVICE: ["service", "SVC"],
  REPORT: ["report", "RPT"],
};

// The outlines: [element, attributes] in a 16×16 box.
const OUTLINES = {
  table: [["path", { d: "M1.5 2.5h13v11h-13z M1.5 6.5h13 M6 6.5v7 M10.5 6.5v7" }]],
  view: [["path", { d: "M1 8Q8 1.5 15 8Q8 14.5 1 8z" }], ["circle", { cx: 8, cy: 8, r: 2.2, class: "solid" }]],
  file: [["path", { d: "M3 1.5h6.5l3.5 3.5v9.5H3z M9.5 1.5V5H13" }]],
  topic: [["path", { d: "M1.5 4h10 M1.5 8h13 M1.5 12h10 M11.5 2l2.5 2-2.5 2 M11.5 10l2.5 2-2.5 2" }]],
  dataset: [["path", { d: "M1.5 5h10v9h-10z M4.5 2h10v9" }]],
  feature: [["path", { d: "M8 1l7 7-7 7-7-7z M8 5v6 M5 8h6" }]],
  model: [["path", { d: "M8 1l6.2 3.5v7L8 15l-6.2-3.5v-7z" }], ["circle", { cx: 8, cy: 8, r: 2, class: "solid" }]],
  version: [["path", { d: "M8 1l6.2 3.5v7L8 15l-6.2-3.5v-7z M5.2 5.5L8 11l2.8-5.5" }]],
  experiment: [["path", { d: "M5.5 1.5h5 M6.5 1.5v5L2 14.5h12L9.5 6.5v-5 M4.2 10.5h7.6" }]],
  service: [["circle", { cx: 8, cy: 8, r: 6.5 }], ["circle", { cx: 8, cy: 8, r: 2.6, class: "solid" }]],
  report: [["path", { d: "M1.5 14.5h13 M4 14.5V9 M8 14.5V3 M12 14.5V7", class: "thick" }]],
  other: [["circle", { cx: 8, cy: 8, r: 6.5, class: "dashed" }], ["path", { d: "M6 6.2a2 2 0 1 1 2 2v1.6 M8 11.6v1.2" }]],
};

export function shapeOf(type) {
  return TYPE_SHAPES[type] ? TYPE_SHAPES[type][0] : "other";
}

export function tagOf(type) {
  return TYPE_SHAPES[type] ? TYPE_SHAPES[type][1] : type;
}

// The outline of `type` as an SVG group at (x, y), `size` pixels wide.
export function typeIcon(type, x, y, size = 16) {
  const shape = shapeOf(type);
  const group = document.createElementNS(SVG, "g");
  group.setAttribute("class", `type-icon type-${shape}`);
  group.setAttribute("data-shape", shape);
  group.setAttribute("transform", `translate(${x},${y}) scale(${size / 16})`);
  for (const [name, attrs] of OUTLINES[shape]) {
    const part = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) part.setAttribute(key, String(value));
    group.appendChild(part);
  }
  return group;
}

// A standalone inline icon (lists, legend, chips).
export function typeBadge(type, size = 16) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "type-svg");
  svg.appendChild(typeIcon(type, 0, 0, 16));
  return svg;
}

// The legend of the common types, appended to `host`.
export function typeLegend(host) {
  const list = document.createElement("ul");
  list.className = "type-legend";
  for (const type of Object.keys(TYPE_SHAPES)) {
    const item = document.createElement("li");
    item.dataset.type = type;
    const label = document.createElement("span");
    label.textContent = type;
    item.append(typeBadge(type), label);
    list.appendChild(item);
  }
  const other = document.createElement("li");
  other.dataset.type = "";
  const label = document.createElement("span");
  label.textContent = "any other type (named in the box)";
  other.append(typeBadge("?"), label);
  list.appendChild(other);
  host.appendChild(list);
}
