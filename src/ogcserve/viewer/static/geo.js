// Web Mercator (EPSG:3857) and GeoJSON helpers: the map works in metres, data comes in lon/lat.
const R = 6378137;
const MAX_LAT = 85.0511287798;
const DEG = Math.PI / 180;

export function toMercator([lon, lat]) {
  const phi = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * DEG;
  return [R * lon * DEG, R * Math.log(Math.tan(Math.PI / 4 + phi / 2))];
}

export function toLonLat([x, y]) {
  return [x / R / DEG, (2 * Math.atan(Math.exp(y / R)) - Math.PI / 2) / DEG];
}

export function boxToMercator([minLon, minLat, maxLon, maxLat]) {
  const [x0, y0] = toMercator([minLon, minLat]);
  const [x1, y1] = toMercator([maxLon, maxLat]);
  return [x0, y0, x1, y1];
}

export function union(boxes) {
  const found = boxes.filter(Boolean);
  if (!found.length) return null;
  return [
    Math.min(...found.map((b) => b[0])), Math.min(...found.map((b) => b[1])),
    Math.max(...found.map((b) => b[2])), Math.max(...found.map((b) => b[3])),
  ];
}

// The parts of a geometry as lists of mercator points: {points, lines, polygons (rings)}.
export function parts(geometry) {
  const out = { points: [], lines: [], polygons: [] };
  collect(geometry, out);
  return out;
}

function collect(g, out) {
  if (!g) return;
  const m = (ring) => ring.map(toMercator);
  switch (g.type) {
    case "Point": out.points.push(toMercator(g.coordinates)); break;
    case "MultiPoint": g.coordinates.forEach((c) => out.points.push(toMercator(c))); break;
    case "LineString": out.lines.push(m(g.coordinates)); break;
    case "MultiLineString": g.coordinates.forEach((l) => out.lines.push(m(l))); break;
    case "Polygon": out.polygons.push(g.coordinates.map(m)); break;
    case "MultiPolygon": g.coordinates.forEach((p) => out.polygons.push(p.map(m))); break;
    case "GeometryCollection": g.geometries.forEach((c) => collect(c, out)); break;
    default: break;
  }
}

// The mercator extent of a geometry, or null.
export function extentOf(geometry) {
  const p = parts(geometry);
  const all = [...p.points, ...p.lines.flat(), ...p.polygons.flat(2)];
  if (!all.length) return null;
  const xs = all.map((c) => c[0]);
  const ys = all.map((c) => c[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
