// The map: one WMS image the size of the window, in EPSG:3857, redrawn after every move; the
// image on screen is stretched and shifted meanwhile. Pan (drag, arrows), zoom (wheel, +/-,
// buttons), a scale bar, the pointer's coordinates and an overlay for highlighted features.
import { parts, toLonLat } from "./geo.js";

const PIXEL = 0.00028; // the OGC standard pixel, in metres: scale = resolution / PIXEL
const MIN_RES = 0.05;
const MAX_RES = 156543.03;
const CLICK_TOLERANCE = 4;

export class MapView {
  constructor(element, { imageUrl, onChange, onClick }) {
    this.el = element;
    this.imageUrl = imageUrl;
    this.onChange = onChange;
    this.onClick = onClick;
    this.center = [0, 0];
    this.res = 20000;
    this.highlighted = [];
    this.shown = null;
    this.pointers = new Map(); // touches down, for pinch zoom
    this.build();
    this.listen();
  }

  build() {
    this.el.innerHTML = `<div class="frame"></div><canvas class="overlay"></canvas>
      <div class="controls"><button data-zoom="1" aria-label="Zoom in">+</button>
      <button data-zoom="-1" aria-label="Zoom out">&minus;</button>
      <button data-home aria-label="Whole map">&#8962;</button></div>
      <div class="scalebar"><div class="bar"></div><span></span></div>
      <div class="coords" aria-live="off"></div>`;
    this.frame = this.el.querySelector(".frame");
    this.canvas = this.el.querySelector(".overlay");
    this.scalebar = this.el.querySelector(".scalebar");
    this.coords = this.el.querySelector(".coords");
  }

  listen() {
    this.el.querySelectorAll("[data-zoom]").forEach((b) =>
      b.addEventListener("click", () => this.zoomBy(2 ** -Number(b.dataset.zoom))));
    this.el.querySelector("[data-home]").addEventListener("click", () => this.home && this.fit(this.home));
    this.el.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    this.el.addEventListener("pointerdown", (e) => this.down(e));
    this.el.addEventListener("pointermove", (e) => this.move(e));
    this.el.addEventListener("pointerup", (e) => this.up(e));
    this.el.addEventListener("pointercancel", (e) => { this.pointers.delete(e.pointerId); this.drag = null; });
    this.el.addEventListener("keydown", (e) => this.key(e));
    new ResizeObserver(() => this.changed()).observe(this.el);
  }

  get size() { return [this.el.clientWidth, this.el.clientHeight]; }

  get bbox() {
    const [w, h] = this.size;
    const [x, y] = this.center;
    return [x - (w / 2) * this.res, y - (h / 2) * this.res, x + (w / 2) * this.res, y + (h / 2) * this.res];
  }

  get scale() { return this.res / PIXEL; }

  toMap([px, py]) {
    const b = this.bbox;
    return [b[0] + px * this.res, b[3] - py * this.res];
  }

  toPixel([x, y]) {
    const b = this.bbox;
    return [(x - b[0]) / this.res, (b[3] - y) / this.res];
  }

  setView(center, res) {
    this.center = center;
    this.res = Math.max(MIN_RES, Math.min(MAX_RES, res));
    this.changed();
  }

  setScale(scale) { this.setView(this.center, scale * PIXEL); }

  zoomBy(factor, anchor) {
    const [w, h] = this.size;
    const at = anchor || [w / 2, h / 2];
    const fixed = this.toMap(at);
    const res = Math.max(MIN_RES, Math.min(MAX_RES, this.res * factor));
    const center = [fixed[0] - (at[0] - w / 2) * res, fixed[1] + (at[1] - h / 2) * res];
    this.setView(center, res);
  }

  // Fit a mercator box; `scale` (optional) is the view used when the box is smaller than it.
  fit(box, scale) {
    const [w, h] = this.size;
    const center = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
    let res = Math.max((box[2] - box[0]) / w, (box[3] - box[1]) / h) * 1.15;
    if (scale) res = Math.max(res, scale * PIXEL);
    this.setView(center, res || this.res);
  }

  changed() {
    this.place();
    this.draw();
    this.drawScale();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 120);
    if (this.onChange) this.onChange();
  }

  refresh() { this.load(); }

  load() {
    const [w, h] = this.size;
    if (!w || !h) return;
    const box = this.bbox;
    const url = this.imageUrl(box, w, h);
    if (url && url === this.lastUrl) return;
    this.lastUrl = url;
    const token = (this.token = (this.token || 0) + 1);
    if (!url) { this.frame.replaceChildren(); this.shown = null; return; }
    const img = new Image();
    img.alt = "";
    img.onload = () => {
      if (token !== this.token) return;
      this.shown = { img, box, res: this.res };
      this.frame.replaceChildren(img);
      this.place();
      this.el.dataset.loaded = String(token);
    };
    img.src = url;
  }

  place() {
    if (!this.shown) return;
    const { img, box } = this.shown;
    const [left, top] = this.toPixel([box[0], box[3]]);
    img.style.transform = `translate(${left}px, ${top}px)`;
    img.style.width = `${(box[2] - box[0]) / this.res}px`;
    img.style.height = `${(box[3] - box[1]) / this.res}px`;
  }

  highlight(geometries) {
    this.highlighted = geometries.filter(Boolean).map(parts);
    this.draw();
  }

  draw() {
    const [w, h] = this.size;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = w * ratio;
    this.canvas.height = h * ratio;
    const c = this.canvas.getContext("2d");
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.strokeStyle = "#00e5ff";
    c.fillStyle = "rgba(0, 229, 255, 0.25)";
    c.lineWidth = 3;
    for (const p of this.highlighted) this.drawParts(c, p);
  }

  drawParts(c, p) {
    const path = (points, close) => {
      points.forEach((pt, i) => { const [x, y] = this.toPixel(pt); i ? c.lineTo(x, y) : c.moveTo(x, y); });
      if (close) c.closePath();
    };
    for (const polygon of p.polygons) {
      c.beginPath();
      polygon.forEach((ring) => path(ring, true));
      c.fill("evenodd");
      c.stroke();
    }
    for (const line of p.lines) { c.beginPath(); path(line, false); c.stroke(); }
    for (const pt of p.points) {
      const [x, y] = this.toPixel(pt);
      c.beginPath(); c.arc(x, y, 8, 0, 2 * Math.PI); c.fill(); c.stroke();
    }
  }

  drawScale() {
    const lat = toLonLat(this.center)[1];
    const metresPerPixel = this.res * Math.cos((lat * Math.PI) / 180);
    const target = metresPerPixel * 120;
    const power = 10 ** Math.floor(Math.log10(target));
    const nice = [5, 2, 1].map((f) => f * power).find((v) => v <= target) || power;
    const label = nice >= 1000 ? `${nice / 1000} km` : `${nice} m`;
    this.scalebar.querySelector(".bar").style.width = `${nice / metresPerPixel}px`;
    this.scalebar.querySelector("span").textContent =
      `${label} · 1:${Math.round(this.scale).toLocaleString("en")}`;
  }

  wheel(e) {
    e.preventDefault();
    const r = this.el.getBoundingClientRect();
    this.zoomBy(e.deltaY > 0 ? 1.25 : 0.8, [e.clientX - r.left, e.clientY - r.top]);
  }

  down(e) {
    if (e.target.closest(".controls") || e.button !== 0) return;
    this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    try { this.el.setPointerCapture(e.pointerId); } catch { /* a pointer already gone */ }
    if (this.pointers.size === 2) {
      this.pinch = { distance: this.spread(), res: this.res };
      this.drag = null;
      return;
    }
    this.drag = { x: e.clientX, y: e.clientY, center: this.center, moved: false };
  }

  spread() {
    const [a, b] = [...this.pointers.values()];
    return Math.hypot(a[0] - b[0], a[1] - b[1]) || 1;
  }

  pinched(e) {
    this.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    const [a, b] = [...this.pointers.values()];
    const r = this.el.getBoundingClientRect();
    const middle = [(a[0] + b[0]) / 2 - r.left, (a[1] + b[1]) / 2 - r.top];
    const wanted = (this.pinch.res * this.pinch.distance) / this.spread();
    this.zoomBy(wanted / this.res, middle);
  }

  move(e) {
    if (this.pinch && this.pointers.has(e.pointerId)) { this.pinched(e); return; }
    const r = this.el.getBoundingClientRect();
    const [lon, lat] = toLonLat(this.toMap([e.clientX - r.left, e.clientY - r.top]));
    this.coords.textContent = `${lon.toFixed(5)}, ${lat.toFixed(5)}`;
    if (!this.drag) return;
    const dx = e.clientX - this.drag.x;
    const dy = e.clientY - this.drag.y;
    if (Math.hypot(dx, dy) > CLICK_TOLERANCE) this.drag.moved = true;
    if (this.drag.moved) {
      this.setView([this.drag.center[0] - dx * this.res, this.drag.center[1] + dy * this.res], this.res);
    }
  }

  up(e) {
    this.pointers.delete(e.pointerId);
    if (this.pinch) { if (!this.pointers.size) this.pinch = null; return; }
    const drag = this.drag;
    this.drag = null;
    if (!drag || drag.moved || !this.onClick) return;
    const r = this.el.getBoundingClientRect();
    this.onClick([Math.round(e.clientX - r.left), Math.round(e.clientY - r.top)]);
  }

  key(e) {
    const [w, h] = this.size;
    const steps = {
      ArrowLeft: [-w / 4, 0], ArrowRight: [w / 4, 0], ArrowUp: [0, -h / 4], ArrowDown: [0, h / 4],
    };
    if (steps[e.key]) {
      const [dx, dy] = steps[e.key];
      this.setView([this.center[0] + dx * this.res, this.center[1] - dy * this.res], this.res);
    } else if (e.key === "+" || e.key === "=") this.zoomBy(0.5);
    else if (e.key === "-") this.zoomBy(2);
    else return;
    e.preventDefault();
  }
}
