// The impact view's type filter: "Models affected" (MODEL and MODEL_VERSION),
// every type, or any set of the graph's types. The filter goes to the API
// (types=...), which walks the whole downstream closure and lists only those
// types, each dataset at its own distance.

import { getJson } from "./api.js";
import { typeBadge } from "./types.js";

export const MODELS = ["MODEL", "MODEL_VERSION"];

// The graph's types, from the overview (cached by the server for a few seconds).
async function graphTypes() {
  try {
    const overview = await getJson("/api/v1/graph/overview", {}, { interactive: false });
    return overview.types.map((t) => t.type);
  } catch {
    return [];
  }
}

function chip(label, pressed, onClick, type) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "chip";
  button.setAttribute("aria-pressed", String(pressed));
  if (type) {
    button.dataset.type = type;
    button.appendChild(typeBadge(type, 14));
  }
  button.append(label);
  button.addEventListener("click", onClick);
  return button;
}

function same(a, b) {
  return a.length === b.length && a.every((t) => b.includes(t));
}

// Draw the filter into `host`; `current()` gives the selected types ([] =
// every type) at the moment of a click, so a chip drawn before the last change
// still toggles the right set; `apply(types)` is called with the new selection.
export async function showTypeFilter(host, current, apply) {
  const shown = current();
  const types = [...new Set([...(await graphTypes()), ...shown])].sort();
  const chips = [
    chip("All types", shown.length === 0, () => apply([])),
    chip("Models affected", same(shown, MODELS), () => apply(MODELS)),
  ];
  chips[0].id = "impact-all";
  chips[1].id = "impact-models";
  for (const type of types) {
    chips.push(chip(type, shown.includes(type), () => {
      const selected = current();
      apply(selected.includes(type) ? selected.filter((t) => t !== type) : [...selected, type].sort());
    }, type));
  }
  host.replaceChildren(...chips);
}
