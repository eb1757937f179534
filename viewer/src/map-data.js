// Pure helpers of the map island (map.js): reading a place from the server's list,
// the area to show, the tile layer's settings and a marker's accessible name. No DOM
// and no Leaflet here, so node's test runner covers them.

// Đắk Lắk province since 1 July 2025 (the outline's bounding box), shown until the
// outline has loaded, or when there is nothing else to frame.
export const PROVINCE_BOUNDS = [
  [12.15, 107.46],
  [13.7, 109.47],
];
const HTML_SPECIAL = /[&<>"']/g;
const HTML_ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function coordinate(raw, limit) {
  if (raw === undefined || raw === null || String(raw).trim() === "") return null;
  const value = Number(raw);
  return Number.isFinite(value) && Math.abs(value) <= limit ? value : null;
}

/**
 * A place from a list item's data-attributes ({ lat, lon, name, category,
 * categoryLabel }), or null when its coordinates are missing or out of range.
 */
export function readPlace(dataset) {
  const lat = coordinate(dataset.lat, 90);
  const lon = coordinate(dataset.lon, 180);
  if (lat === null || lon === null) return null;
  return {
    lat,
    lon,
    name: dataset.name ?? "",
    category: dataset.category || "place",
    categoryLabel: dataset.categoryLabel ?? "",
  };
}

/** Every [lon, lat] position in a GeoJSON object (Feature, FeatureCollection or geometry). */
export function positions(geojson) {
  if (!geojson || typeof geojson !== "object") return [];
  if (geojson.type === "FeatureCollection") return (geojson.features ?? []).flatMap(positions);
  if (geojson.type === "Feature") return positions(geojson.geometry);
  if (geojson.type === "GeometryCollection") return (geojson.geometries ?? []).flatMap(positions);
  const flatten = (value) =>
    Array.isArray(value) && typeof value[0] === "number" ? [value] : (value ?? []).flatMap(flatten);
  return Array.isArray(geojson.coordinates) ? flatten(geojson.coordinates) : [];
}

/**
 * The [[south, west], [north, east]] box around the places and the outline, or
 * null when there is neither. A lone place gets a little margin, so the map
 * does not zoom to the street.
 */
export function boundsOf(places, outline = null, margin = 0.05) {
  const points = [
    ...places.map((p) => [p.lat, p.lon]),
    ...positions(outline).map(([lon, lat]) => [lat, lon]),
  ];
  if (points.length === 0) return null;
  const lats = points.map(([lat]) => lat);
  const lons = points.map(([, lon]) => lon);
  const pad = points.length === 1 ? margin : 0;
  return [
    [Math.min(...lats) - pad, Math.min(...lons) - pad],
    [Math.max(...lats) + pad, Math.max(...lons) + pad],
  ];
}

/** Text made safe for Leaflet's attribution control, which writes HTML. */
export function escapeHtml(text) {
  return String(text ?? "").replace(HTML_SPECIAL, (c) => HTML_ENTITIES[c]);
}

/**
 * The tile layer the server configured (MUSEUM_MAP_TILE_URL), or null for none:
 * only http(s) templates with {z}, {x} and {y} are used.
 */
export function tileLayerOptions(url, attribution) {
  const template = String(url ?? "").trim();
  if (!/^https?:\/\//.test(template)) return null;
  if (!["{z}", "{x}", "{y}"].every((part) => template.includes(part))) return null;
  return { url: template, attribution: escapeHtml(attribution) };
}

/** A marker's accessible name: the place, then its category ("Buôn Ma Thuột — Relic site"). */
export function markerLabel(place) {
  return place.categoryLabel ? `${place.name} — ${place.categoryLabel}` : place.name;
}
