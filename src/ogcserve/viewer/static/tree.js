// The layer tree: groups, visibility, order, legends and zoom to extent. It holds only what the
// server put in the page: the layers the caller may read. The project lists layers in drawing
// order (the first at the bottom); the tree shows them the other way round, the top one first.

function topFirst(nodes) {
  return nodes.map((n) => (n.children ? { ...n, children: topFirst(n.children) } : n)).reverse();
}

export class LayerTree {
  constructor(element, layers, { wms, visible, onChange, onZoom }) {
    this.el = element;
    this.wms = wms;
    this.nodes = topFirst(structuredClone(layers));
    this.onChange = onChange;
    this.onZoom = onZoom;
    this.hidden = new Set();
    const all = this.names(this.nodes);
    if (visible) {
      all.filter((n) => !visible.includes(n)).forEach((n) => this.hidden.add(n));
      this.sortBy(this.nodes, visible);
    }
    this.render();
  }

  names(nodes) {
    return nodes.flatMap((n) => [n.name, ...(n.children ? this.names(n.children) : [])]);
  }

  sortBy(nodes, order) {
    const rank = (n) => { const i = order.indexOf(n.name); return i < 0 ? order.length : i; };
    nodes.sort((a, b) => rank(a) - rank(b));
    nodes.forEach((n) => n.children && this.sortBy(n.children, order));
  }

  // Data layers drawn, top first (a hidden group hides its members).
  visibleLayers() {
    const out = [];
    const walk = (nodes) => nodes.forEach((n) => {
      if (this.hidden.has(n.name)) return;
      if (n.children) walk(n.children); else out.push(n);
    });
    walk(this.nodes);
    return out;
  }

  // Visible groups and layers in order, for the permalink.
  visibleNames() {
    return this.names(this.nodes).filter((n) => !this.hidden.has(n));
  }

  render() {
    this.el.replaceChildren(this.list(this.nodes));
  }

  list(nodes) {
    const ul = document.createElement("ul");
    nodes.forEach((node, i) => ul.append(this.item(node, nodes, i)));
    return ul;
  }

  item(node, siblings, index) {
    const li = document.createElement("li");
    li.dataset.layer = node.name;
    const row = document.createElement("div");
    row.className = "row";
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !this.hidden.has(node.name);
    box.addEventListener("change", () => this.toggle(node.name, box.checked));
    label.append(box, ` ${node.title}`);
    row.append(label, ...this.buttons(node, siblings, index));
    li.append(row);
    if (node.children) li.append(this.list(node.children));
    else if (!this.hidden.has(node.name)) li.append(this.legend(node));
    return li;
  }

  buttons(node, siblings, index) {
    const make = (text, title, action, disabled) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.title = title;
      b.className = title.split(" ")[0].toLowerCase();
      b.disabled = disabled;
      b.addEventListener("click", action);
      return b;
    };
    const out = [
      make("↑", "Up one place", () => this.swap(siblings, index, index - 1), index === 0),
      make("↓", "Down one place", () => this.swap(siblings, index, index + 1), index === siblings.length - 1),
    ];
    if (node.extent) out.push(make("⤢", "Zoom to the layer", () => this.onZoom(node.extent), false));
    return out;
  }

  legend(node) {
    const img = document.createElement("img");
    img.className = "legend";
    img.alt = `Legend of ${node.title}`;
    img.loading = "lazy";
    img.src = `${this.wms}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png`
      + `&SLD_VERSION=1.1.0&LAYER=${encodeURIComponent(node.name)}`;
    return img;
  }

  toggle(name, on) {
    if (on) this.hidden.delete(name); else this.hidden.add(name);
    this.render();
    this.onChange();
  }

  swap(siblings, a, b) {
    [siblings[a], siblings[b]] = [siblings[b], siblings[a]];
    this.render();
    this.onChange();
  }
}
