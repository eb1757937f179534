// The map island: Leaflet (bundled, with its marker images) draws the outline of
// Đắk Lắk province, served by the museum itself, and one marker per place of the
// server's list. No tile layer unless the server names one (MUSEUM_MAP_TILE_URL),
// so by default nothing is fetched from another host. Markers are keyboard
// buttons (Tab, then Enter or Space) whose popup is the place's list entry; each
// list entry gets a "show on the map" button, and the list stays the text
// alternative of the whole map.
//
// Host markup (server/templates/_map.html):
//   <div data-island="heritage-map" data-module="…" data-places="#map-places"
//        data-outline="/map/province.geojson" data-outline-attribution="…"
//        data-label="…" data-keyboard="…" data-show="…" data-outline-error="…"
//        [data-compact] [data-tile-url="…" data-tile-attribution="…"]></div>
//   <ul id="map-places"><li data-lat data-lon data-name data-category
//        data-category-label>…</li></ul>

import { geoJSON, icon, map as leafletMap, marker, tileLayer } from "leaflet";
import iconRetinaUrl from "leaflet/dist/images/marker-icon-2x.png";
import iconUrl from "leaflet/dist/images/marker-icon.png";
import shadowUrl from "leaflet/dist/images/marker-shadow.png";
import { PROVINCE_BOUNDS, boundsOf, markerLabel, readPlace, tileLayerOptions } from "./map-data.js";

const OUTLINE_STYLE = { color: "#7a1712", weight: 2, fillColor: "#f5e6c8", fillOpacity: 0.6 };
const MAX_FIT_ZOOM = 10; // a lone place: the district around it, not the street
const FIT_PADDING = [16, 16];
// Leaflet's default marker, with the image files esbuild bundled (hashed names,
// which Leaflet's own image-path guess cannot find).
const MARKER_ICON = {
  iconUrl,
  iconRetinaUrl,
  shadowUrl,
  iconSize: [25, 41],
  iconAnchor: [12, 41],
  popupAnchor: [1, -34],
  shadowSize: [41, 41],
};

function reducedMotion(win) {
  return win.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
}

function createMap(host, canvas) {
  const animate = !reducedMotion(host.ownerDocument.defaultView);
  const view = leafletMap(canvas, {
    zoomSnap: 0.5,
    scrollWheelZoom: !host.dataset.compact, // a small map inside a page must not trap scrolling
    zoomAnimation: animate,
    fadeAnimation: animate,
    markerZoomAnimation: animate,
  });
  view.attributionControl.setPrefix("Leaflet");
  const tiles = tileLayerOptions(host.dataset.tileUrl, host.dataset.tileAttribution);
  if (tiles) tileLayer(tiles.url, { attribution: tiles.attribution, maxZoom: 18 }).addTo(view);
  view.fitBounds(PROVINCE_BOUNDS);
  return view;
}

function openPopupFocused(layer) {
  layer.openPopup();
  layer.getPopup()?.getElement()?.querySelector("a, button")?.focus();
}

function addMarker(view, item, place) {
  const label = markerLabel(place);
  const layer = marker([place.lat, place.lon], {
    icon: icon({ ...MARKER_ICON, className: `map-marker marker-${place.category}` }),
    alt: label,
    title: label,
    keyboard: true,
  }).addTo(view);
  const popup = item.cloneNode(true);
  popup.removeAttribute("id");
  popup.querySelector(".map-show")?.remove();
  layer.bindPopup(popup, { autoPanPadding: [24, 24] });
  const element = layer.getElement();
  element?.addEventListener("keydown", (event) => {
    // Leaflet opens the popup on Enter; a button also answers to Space.
    if (event.key === " ") {
      event.preventDefault();
      openPopupFocused(layer);
    } else if (event.key === "Enter") {
      setTimeout(() => layer.getPopup()?.getElement()?.querySelector("a")?.focus(), 0);
    }
  });
  popup.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    layer.closePopup();
    element?.focus(); // back where the visitor was
  });
  return layer;
}

function addShowButton(host, item, view, layer) {
  const doc = host.ownerDocument;
  const button = doc.createElement("button");
  button.type = "button";
  button.className = "map-show";
  button.textContent = host.dataset.show ?? "";
  button.addEventListener("click", () => {
    view.setView(layer.getLatLng(), Math.max(view.getZoom(), MAX_FIT_ZOOM - 2));
    openPopupFocused(layer);
  });
  item.append(button);
}

function fit(view, places, outline) {
  const bounds = boundsOf(places, outline);
  // Not animated: Leaflet drops a new view asked for while a zoom animation runs, and
  // the outline often arrives during the one the markers started.
  if (bounds) view.fitBounds(bounds, { padding: FIT_PADDING, maxZoom: MAX_FIT_ZOOM, animate: false });
}

async function addOutline(host, view, places) {
  const response = await fetch(host.dataset.outline, { headers: { accept: "application/geo+json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const outline = await response.json();
  geoJSON(outline, {
    style: OUTLINE_STYLE,
    interactive: false,
    attribution: host.dataset.outlineAttribution ?? "",
  }).addTo(view);
  // Frame the province around the record's places, or the whole province on the map page.
  fit(view, places, outline);
  host.dataset.outlineLoaded = "true";
}

function showNote(host, text) {
  const note = host.ownerDocument.createElement("p");
  note.className = "map-note";
  note.setAttribute("role", "status");
  note.textContent = text;
  host.append(note);
}

/** Mount the map on its host; the places come from the list the host names. */
export function mount(host) {
  if (host.dataset.mounted) return;
  host.dataset.mounted = "true";
  const doc = host.ownerDocument;
  const canvas = doc.createElement("div");
  canvas.className = "map-canvas";
  canvas.setAttribute("role", "region");
  canvas.setAttribute("aria-label", host.dataset.label ?? "");
  const help = doc.createElement("p");
  help.className = "map-help";
  help.textContent = host.dataset.keyboard ?? "";
  host.replaceChildren(canvas, help);
  const view = createMap(host, canvas);
  const items = [...doc.querySelectorAll(`${host.dataset.places} > li`)];
  const places = [];
  for (const item of items) {
    const place = readPlace(item.dataset);
    if (!place) continue;
    places.push(place);
    addShowButton(host, item, view, addMarker(view, item, place));
  }
  fit(view, places, null);
  host.dataset.markers = String(places.length);
  if (host.dataset.outline) {
    addOutline(host, view, places).catch(() => showNote(host, host.dataset.outlineError ?? ""));
  }
}
