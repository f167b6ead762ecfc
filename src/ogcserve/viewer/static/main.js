// The viewer application: the map, the layer tree, identify, search panels and the permalink.
import { Formatters } from "./format.js";
import { boxToMercator, extentOf, toLonLat, toMercator, union } from "./geo.js";
import { MapView } from "./map.js";
import { ResultsPanel } from "./results.js";
import { SearchPanels } from "./search.js";
import { LayerTree } from "./tree.js";

const config = JSON.parse(document.getElementById("config").textContent);
const state = { identifyMs: null, identifyCount: 0, searchCount: 0 };
window.viewer = state;

// Custom formatters: every function the project's modules export. A module that fails to load
// is reported on the console; its formatters then show raw values.
async function loadFunctions(urls) {
  const functions = {};
  for (const url of urls) {
    try { Object.assign(functions, await import(url)); } catch (error) {
      console.error(`viewer module ${url} did not load:`, error);
    }
  }
  return functions;
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const view = ["lon", "lat", "scale"].map((k) => Number(p.get(k)));
  return {
    view: p.has("scale") && view.every(Number.isFinite) ? view : null,
    layers: p.has("layers") ? p.get("layers").split(",").filter(Boolean) : null,
  };
}

function titles(nodes, out = {}) {
  for (const n of nodes) { out[n.name] = n.title; if (n.children) titles(n.children, out); }
  return out;
}

function mapImageUrl(tree) {
  return (box, w, h) => {
    const layers = tree.visibleLayers().map((l) => l.name).reverse(); // WMS draws the first lowest
    if (!layers.length) return null;
    const names = encodeURIComponent(layers.join(","));
    return `${config.wms}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=${names}&STYLES=`
      + `&CRS=EPSG:3857&BBOX=${box.map((v) => v.toFixed(2)).join(",")}&WIDTH=${w}&HEIGHT=${h}`
      + "&FORMAT=image/png&TRANSPARENT=TRUE";
  };
}

async function identify(map, tree, results, pixel) {
  const layers = tree.visibleLayers().filter((l) => l.queryable).map((l) => l.name); // top first
  if (!layers.length) return;
  const [w, h] = map.size;
  const names = encodeURIComponent(layers.join(","));
  const url = `${config.wms}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=${names}`
    + `&QUERY_LAYERS=${names}&STYLES=&CRS=EPSG:3857&BBOX=${map.bbox.map((v) => v.toFixed(2)).join(",")}`
    + `&WIDTH=${w}&HEIGHT=${h}&I=${pixel[0]}&J=${pixel[1]}&INFO_FORMAT=application/json`
    + "&FEATURE_COUNT=10&WITH_GEOMETRY=TRUE";
  const started = performance.now();
  const response = await fetch(url);
  const doc = response.ok ? await response.json() : { features: [] };
  state.identifyMs = performance.now() - started;
  state.identifyCount += 1;
  const features = doc.features || [];
  map.highlight(features.map((f) => f.geometry));
  if (features.length) results.features(features); else results.message("Identify", "Nothing here.");
}

async function start() {
  const saved = readHash();
  const functions = await loadFunctions(config.modules);
  const formatters = new Formatters(config.formatters, functions);
  let map = null;
  const writeHash = () => {
    if (!map) return;
    const [lon, lat] = toLonLat(map.center);
    const p = new URLSearchParams({ lon: lon.toFixed(5), lat: lat.toFixed(5), scale: String(Math.round(map.scale)) });
    p.set("layers", tree.visibleNames().join(","));
    history.replaceState(null, "", `#${p.toString().replaceAll("%2C", ",")}`);
  };
  const tree = new LayerTree(document.getElementById("tree"), config.layers, {
    wms: config.wms,
    visible: saved.layers,
    onChange: () => { map.refresh(); writeHash(); },
    onZoom: (extent) => map.fit(boxToMercator(extent)),
  });
  map = new MapView(document.getElementById("map"), {
    imageUrl: mapImageUrl(tree),
    onChange: writeHash,
    onClick: (pixel) => identify(map, tree, results, pixel),
  });
  const results = new ResultsPanel(document.getElementById("results"), {
    formatters,
    titles: titles(config.layers),
    onChoose: (feature, scale, zoom) => {
      map.highlight(feature ? [feature.geometry] : []);
      const box = feature && zoom ? extentOf(feature.geometry) : null;
      if (box) map.fit(box, scale);
    },
  });
  new SearchPanels(document.getElementById("searches"), {
    searches: config.searches,
    ogcapi: config.ogcapi,
    onResults: (search, features) => {
      state.searchCount += 1;
      map.highlight(features.map((f) => f.geometry));
      results.grid(search.title, search, features);
    },
    onError: (title, text) => results.message(title, text),
  });
  const layers = tree.visibleLayers();
  const extents = (layers.length ? layers : config.layers).map((l) => l.extent && boxToMercator(l.extent));
  map.home = union(extents) || [-2e7, -1.5e7, 2e7, 1.5e7];
  if (saved.view) map.setView(toMercator(saved.view.slice(0, 2)), saved.view[2] * 0.00028);
  else map.fit(map.home);
  document.getElementById("menu").addEventListener("click", () => document.body.classList.toggle("panel-open"));
  state.map = map;
  state.pixelOf = (lon, lat) => map.toPixel(toMercator([lon, lat])).map(Math.round);
  state.goTo = (lon, lat, scale) => map.setView(toMercator([lon, lat]), scale * 0.00028);
  state.tree = tree;
  state.ready = true;
  state.readyMs = performance.now();
  document.body.dataset.ready = "true";
}

start();
