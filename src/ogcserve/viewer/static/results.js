// The results panel: identify results (per layer and feature) or a search's grid.
import { escapeHtml } from "./format.js";

export class ResultsPanel {
  constructor(element, { formatters, titles, onChoose }) {
    this.el = element;
    this.formatters = formatters;
    this.titles = titles;
    this.onChoose = onChoose;
  }

  show(title, body) {
    this.el.innerHTML = `<header><h2>${escapeHtml(title)}</h2>
      <button type="button" class="close" aria-label="Close">&times;</button></header>`;
    this.el.querySelector(".close").addEventListener("click", () => this.hide());
    this.el.append(body);
    this.el.hidden = false;
  }

  hide() {
    this.el.hidden = true;
    this.onChoose(null);
  }

  message(title, text) {
    const p = document.createElement("p");
    p.textContent = text;
    this.show(title, p);
  }

  cell(feature, layer, field) {
    return this.formatters.format(feature.properties[field], field, layer, feature);
  }

  // Identify: a section per layer, a table of attributes per feature.
  features(features) {
    const body = document.createElement("div");
    body.className = "identify";
    const byLayer = new Map();
    for (const f of features) byLayer.set(f.layer, [...(byLayer.get(f.layer) || []), f]);
    for (const [layer, found] of byLayer) {
      const section = document.createElement("section");
      section.dataset.layer = layer;
      section.innerHTML = `<h3>${escapeHtml(this.titles[layer] || layer)}</h3>`;
      for (const feature of found) section.append(this.feature(feature, layer));
      body.append(section);
    }
    this.show("Identify", body);
  }

  feature(feature, layer) {
    const table = document.createElement("table");
    table.className = "feature";
    table.dataset.id = feature.id;
    for (const field of Object.keys(feature.properties)) {
      const row = table.insertRow();
      row.dataset.field = field;
      row.insertCell().textContent = field;
      row.insertCell().innerHTML = this.cell(feature, layer, field);
    }
    table.addEventListener("click", (e) => {
      if (!e.target.closest("a")) this.onChoose(feature, null);
    });
    return table;
  }

  // A search's grid: one row per feature, the panel's columns.
  grid(title, search, features) {
    const table = document.createElement("table");
    table.className = "grid";
    const head = table.createTHead().insertRow();
    for (const column of search.columns) {
      const th = document.createElement("th");
      th.textContent = column;
      head.append(th);
    }
    const body = table.createTBody();
    for (const feature of features) {
      const row = body.insertRow();
      row.dataset.id = feature.id;
      for (const column of search.columns) {
        row.insertCell().innerHTML = this.cell(feature, search.layer, column);
      }
      row.addEventListener("click", (e) => {
        if (e.target.closest("a")) return;
        body.querySelectorAll(".chosen").forEach((r) => r.classList.remove("chosen"));
        row.classList.add("chosen");
        this.onChoose(feature, search.zoomScale || null, true);
      });
    }
    const wrap = document.createElement("div");
    wrap.className = "search-results";
    const count = document.createElement("p");
    count.textContent = `${features.length} found`;
    wrap.append(count, table);
    this.show(title, wrap);
  }
}
