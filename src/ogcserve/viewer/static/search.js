// Search panels: a form per panel declared in the project; the query is OGC API items with a
// CQL2 JSON filter built from the form. Values are JSON literals, never pasted into filter text:
// quotes, `%`, `OR 1=1` and the like are searched for as they are.

// A LIKE pattern matching `text` anywhere, its own wildcards escaped (CQL2's escape is `\`).
function contains(text) {
  return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

function literal(field, raw) {
  if (field.type !== "number") return raw;
  const n = Number(raw);
  if (raw.trim() === "" || Number.isNaN(n)) throw new Error(`${field.label}: not a number`);
  return n;
}

export function condition(field, raw) {
  const property = { property: field.name };
  if (field.op === "ILIKE") {
    return { op: "like", args: [{ op: "casei", args: [property] }, { op: "casei", args: [contains(raw)] }] };
  }
  if (field.op === "LIKE") return { op: "like", args: [property, contains(raw)] };
  return { op: field.op, args: [property, literal(field, raw)] };
}

export function buildFilter(fields, values) {
  const parts = fields.filter((f) => (values[f.name] ?? "") !== "").map((f) => condition(f, values[f.name]));
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : { op: "and", args: parts };
}

export class SearchPanels {
  constructor(element, { searches, ogcapi, onResults, onError }) {
    this.el = element;
    this.ogcapi = ogcapi;
    this.onResults = onResults;
    this.onError = onError;
    for (const search of searches) this.el.append(this.form(search));
  }

  form(search) {
    const form = document.createElement("form");
    form.className = "search";
    form.dataset.search = search.id;
    form.dataset.layer = search.layer;
    const title = document.createElement("h2");
    title.textContent = search.title;
    form.append(title);
    for (const field of search.fields) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.name = field.name;
      input.type = field.type === "number" ? "text" : "search";
      input.inputMode = field.type === "number" ? "decimal" : "text";
      label.append(`${field.label} (${field.op})`, input);
      form.append(label);
    }
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Search";
    form.append(button);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.run(search, form); });
    return form;
  }

  async run(search, form) {
    const values = Object.fromEntries(new FormData(form));
    let filter;
    try { filter = buildFilter(search.fields, values); } catch (error) {
      this.onError(search.title, error.message);
      return;
    }
    const params = new URLSearchParams({ f: "json", limit: String(search.limit) });
    if (filter) {
      params.set("filter-lang", "cql2-json");
      params.set("filter", JSON.stringify(filter));
    }
    const url = `${this.ogcapi}/collections/${encodeURIComponent(search.layer)}/items?${params}`;
    const response = await fetch(url, { headers: { Accept: "application/geo+json" } });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      this.onError(search.title, problem.description || `the search failed (${response.status})`);
      return;
    }
    const doc = await response.json();
    this.onResults(search, doc.features || []);
  }
}
