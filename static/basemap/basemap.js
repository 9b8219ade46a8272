/*
 * The offline basemap: Natural Earth land, borders, lakes and rivers, and place names, drawn
 * from the files scripts/build_basemap.py writes next to this one (its docstring describes them).
 * ui/maps.py adds one to every folium map: L.naturalEarthBasemap(options), a base layer.
 *
 * - Below the cells' minimum zoom (10m/index.json) the 1:50m world files are drawn. From it on,
 *   the 1:10m cells in view are fetched (each once) and take the place of the 1:50m land and
 *   borders as soon as they have arrived. 1:50m lakes are drawn at every zoom, rivers from
 *   options.riversMinZoom.
 * - Place names: after each move, the labels in view whose minimum zoom has been reached, best
 *   first (lower minimum zoom, then higher rank), each kept only if it overlaps none kept before.
 * - Nothing is interactive, so clicks reach the map (the point-of-interest picker) through it.
 * - A file that cannot be loaded is reported in the console; the rest still draws.
 *
 * Needs Leaflet 1.9 and topojson-client 3 (window.topojson).
 */
(function (L) {
  "use strict";

  var KINDS = { c: "city", p: "port", a: "airport", w: "waterway" };
  var LABEL_HEIGHT = 14; // px, the line height in basemap.css
  var LABEL_GAP = 3; // px kept free around each label
  var MAX_LABELS = 250; // a bound on the DOM, far above what fits without overlap
  var SAME_NAME_PX = 60; // px within which a second label of the same name is left out

  function fetchJson(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function unavailable(url, reason) {
    console.warn("basemap file unavailable", url, reason);
    return null;
  }

  // [lon, lat, name, kind, minZoom, rank] -> the order of preference between two labels.
  function byPreference(a, b) {
    return a[4] - b[4] || b[5] - a[5];
  }

  L.NaturalEarthBasemap = L.Layer.extend({
    options: {
      pane: "basemap",
      labelPane: "basemap-labels",
      riversMinZoom: 4, // the world view stays clear; rivers help find one's way from a continent on
      files: {}, // land50, borders50, water, labels, cells (a folder URL ending in "/")
      colours: {},
      attribution: "",
    },

    initialize: function (options) {
      L.setOptions(this, options);
      this._data = null; // promise of the world files, loaded once
      this._cells = {}; // cell name -> promise of {layer, labels} (or null when unavailable)
      this._shownCells = {}; // cell name -> layer on the map
      this._shownLabels = {}; // label key -> marker on the map
      this._view = 0; // bumped by every update, so a late answer for an old view is dropped
    },

    onAdd: function (map) {
      var o = this.options;
      map.getContainer().style.background = o.colours.ocean;
      var pane = map.getPane(o.pane) || map.createPane(o.pane);
      // Between tiles (200) and overlays (400): the fetches end after the page's own layers
      // were added, which would otherwise cover them.
      pane.style.zIndex = 250;
      // One SVG per kind, stacked land < water < borders whatever order the files arrive in.
      // The renderers outlive a removal (the layers built for them are kept for a re-add).
      var renderers = this._renderers || {};
      ["land", "water", "borders"].forEach(function (name, i) {
        var sub = o.pane + "-" + name;
        (map.getPane(sub) || map.createPane(sub, pane)).style.zIndex = String(i + 1);
        renderers[name] = renderers[name] || L.svg({ pane: sub });
      });
      this._renderers = renderers;
      // Names above the basemap, below the page's own overlays (400): a quicklook drawn on its
      // footprint hides them, a footprint's light fill and a track's line let them show.
      var labels = map.getPane(o.labelPane) || map.createPane(o.labelPane);
      labels.style.zIndex = 350;
      labels.style.pointerEvents = "none";

      this._groups = {
        world: L.layerGroup().addTo(map),
        cells: L.layerGroup().addTo(map),
        water: L.layerGroup().addTo(map),
        labels: L.layerGroup().addTo(map),
      };
      this._shownCells = {};
      this._shownLabels = {};
      if (!this._data) {
        this._data = this._loadWorld();
      }
      var self = this;
      this._data.then(function (data) {
        if (self._map !== map) {
          return;
        }
        if (data.lakes) {
          self._groups.water.addLayer(data.lakes);
        }
        self._update();
      });
    },

    onRemove: function (map) {
      this._view += 1;
      Object.keys(this._groups).forEach(function (name) {
        map.removeLayer(this._groups[name]);
      }, this);
      Object.keys(this._renderers).forEach(function (name) {
        map.removeLayer(this._renderers[name]);
      }, this);
      this._shownCells = {};
      this._shownLabels = {};
    },

    getEvents: function () {
      return { zoomend: this._update, moveend: this._update };
    },

    _style: function (kind) {
      var c = this.options.colours;
      var base = { interactive: false, renderer: this._renderers[kind === "lakes" || kind === "rivers" ? "water" : kind] };
      var styles = {
        land: { stroke: false, fillColor: c.land, fillOpacity: 1 },
        borders: { color: c.border, weight: 0.8, opacity: 1, fill: false },
        lakes: { stroke: false, fillColor: c.water, fillOpacity: 1 },
        rivers: { color: c.river, weight: 1, opacity: 1, fill: false },
      };
      return L.extend(base, { style: styles[kind] });
    },

    _geoJson: function (geojson, kind) {
      return L.geoJSON(geojson, this._style(kind));
    },

    _loadWorld: function () {
      var f = this.options.files;
      var urls = [f.land50, f.borders50, f.water, f.labels, f.cells + "index.json"];
      var self = this;
      return Promise.allSettled(urls.map(fetchJson)).then(function (results) {
        var got = results.map(function (result, i) {
          return result.status === "fulfilled" ? result.value : unavailable(urls[i], result.reason);
        });
        var world = [];
        if (got[0]) {
          world.push(self._geoJson(got[0], "land"));
        }
        if (got[1]) {
          world.push(self._geoJson(got[1], "borders"));
        }
        var t = got[2];
        // Merged, one SVG path each rather than one per lake and river.
        var lakes = t ? self._geoJson(topojson.merge(t, t.objects.lakes.geometries), "lakes") : null;
        var rivers = t ? self._geoJson(topojson.mesh(t, t.objects.rivers), "rivers") : null;
        var index = got[4];
        return {
          world: L.layerGroup(world),
          lakes: lakes,
          rivers: rivers,
          labels: got[3] ? got[3].labels : [],
          index: index ? { size: index.tileDegrees, minZoom: index.minZoom, names: new Set(index.tiles) } : null,
        };
      });
    },

    _loadCell: function (name) {
      if (!(name in this._cells)) {
        var url = this.options.files.cells + name + ".json";
        var self = this;
        this._cells[name] = fetchJson(url).then(function (cell) {
          var t = cell.topology;
          var layers = [];
          if (t.objects.land) {
            layers.push(self._geoJson(topojson.feature(t, t.objects.land), "land"));
          }
          if (t.objects.borders) {
            layers.push(self._geoJson(topojson.feature(t, t.objects.borders), "borders"));
          }
          return { layer: L.layerGroup(layers), labels: cell.labels };
        }, function (reason) {
          return unavailable(url, reason);
        });
      }
      return this._cells[name];
    },

    _cellsInView: function (index) {
      var bounds = this._map.getBounds().pad(0.1);
      var d = index.size;
      var west = Math.floor(Math.max(-180, bounds.getWest()) / d) * d;
      var east = Math.floor(Math.min(179.999, bounds.getEast()) / d) * d;
      var south = Math.floor(Math.max(-90, bounds.getSouth()) / d) * d;
      var north = Math.floor(Math.min(89.999, bounds.getNorth()) / d) * d;
      var names = [];
      for (var w = west; w <= east; w += d) {
        for (var s = south; s <= north; s += d) {
          if (index.names.has(w + "_" + s)) {
            names.push(w + "_" + s);
          }
        }
      }
      return names;
    },

    _update: function () {
      var map = this._map;
      if (!map || !this._data) {
        return;
      }
      var view = ++this._view;
      var self = this;
      this._data.then(function (data) {
        if (view !== self._view || self._map !== map) {
          return;
        }
        self._show(self._groups.water, data.rivers, map.getZoom() >= self.options.riversMinZoom);
        var detail = data.index && map.getZoom() >= data.index.minZoom;
        var names = detail ? self._cellsInView(data.index) : [];
        if (!detail) {
          self._showWorld(data, true);
          self._showCells({});
          self._placeLabels(data.labels, []);
          return;
        }
        self._placeLabels(data.labels, []); // the world's names at once, the cells' on arrival
        Promise.all(names.map(self._loadCell, self)).then(function (cells) {
          if (view !== self._view || self._map !== map) {
            return;
          }
          var shown = {};
          names.forEach(function (name, i) {
            if (cells[i]) {
              shown[name] = cells[i].layer;
            }
          });
          self._showCells(shown);
          // The 1:50m land would show through where 1:10m has sea: hide it once every cell
          // in view is drawn (keep it if one failed, rather than leave a hole).
          self._showWorld(data, cells.indexOf(null) >= 0);
          var labels = [];
          cells.forEach(function (cell) {
            if (cell) {
              labels = labels.concat(cell.labels);
            }
          });
          self._placeLabels(data.labels, labels);
        });
      });
    },

    _showWorld: function (data, show) {
      this._show(this._groups.world, data.world, show);
    },

    _show: function (group, layer, show) {
      if (!layer) {
        return;
      } else if (show && !group.hasLayer(layer)) {
        group.addLayer(layer);
      } else if (!show && group.hasLayer(layer)) {
        group.removeLayer(layer);
      }
    },

    _showCells: function (wanted) {
      var group = this._groups.cells;
      var shown = this._shownCells;
      Object.keys(shown).forEach(function (name) {
        if (!(name in wanted)) {
          group.removeLayer(shown[name]);
          delete shown[name];
        }
      });
      Object.keys(wanted).forEach(function (name) {
        if (!(name in shown)) {
          shown[name] = wanted[name];
          group.addLayer(wanted[name]);
        }
      });
    },

    _textWidth: function (text, major) {
      if (!this._canvas) {
        this._canvas = document.createElement("canvas").getContext("2d");
      }
      // The font of .ne-label (and .ne-major) in basemap.css.
      this._canvas.font = (major ? "bold 12px " : "11px ") + '"Helvetica Neue", Arial, Helvetica, sans-serif';
      return this._canvas.measureText(text).width;
    },

    _placeLabels: function (world, local) {
      var map = this._map;
      var zoom = map.getZoom();
      var size = map.getSize();
      var candidates = world.concat(local).filter(function (label) {
        return label[4] <= zoom;
      });
      candidates.sort(byPreference);
      var boxes = [];
      var keep = {};
      for (var i = 0; i < candidates.length && boxes.length < MAX_LABELS; i++) {
        var label = candidates[i];
        var p = map.latLngToContainerPoint([label[1], label[0]]);
        if (p.x < 0 || p.y < 0 || p.x > size.x || p.y > size.y) {
          continue;
        }
        var major = label[3] === "c" && label[4] <= 4;
        // The dot (10 px with its margins, centred 4 px in) on the point, the name after it.
        var box = [
          p.x - 4 - LABEL_GAP,
          p.y - LABEL_HEIGHT / 2 - LABEL_GAP,
          p.x + 6 + this._textWidth(label[2], major) + LABEL_GAP,
          p.y + LABEL_HEIGHT / 2 + LABEL_GAP,
        ];
        var clash = boxes.some(function (b) {
          return (
            (box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]) ||
            // The same name twice close by (a town and its port): once is enough.
            (b.name === label[2] && Math.abs(b.x - p.x) < SAME_NAME_PX && Math.abs(b.y - p.y) < SAME_NAME_PX)
          );
        });
        if (!clash) {
          box.name = label[2];
          box.x = p.x;
          box.y = p.y;
          boxes.push(box);
          keep[label.join("|")] = { label: label, major: major };
        }
      }
      var group = this._groups.labels;
      var shown = this._shownLabels;
      Object.keys(shown).forEach(function (key) {
        if (!(key in keep)) {
          group.removeLayer(shown[key]);
          delete shown[key];
        }
      });
      Object.keys(keep).forEach(function (key) {
        if (!(key in shown)) {
          shown[key] = this._marker(keep[key].label, keep[key].major);
          group.addLayer(shown[key]);
        }
      }, this);
    },

    _marker: function (label, major) {
      var html = document.createElement("span");
      html.appendChild(document.createElement("i"));
      html.appendChild(document.createTextNode(label[2])); // text, never markup
      var icon = L.divIcon({
        className: "ne-label ne-" + KINDS[label[3]] + (major ? " ne-major" : ""),
        html: html,
        iconSize: null, // sized by its text (basemap.css)
        iconAnchor: [4, LABEL_HEIGHT / 2], // the dot's centre on the point
      });
      return L.marker([label[1], label[0]], {
        icon: icon,
        interactive: false,
        keyboard: false,
        pane: this.options.labelPane,
      });
    },
  });

  L.naturalEarthBasemap = function (options) {
    return new L.NaturalEarthBasemap(options);
  };
})(window.L);
