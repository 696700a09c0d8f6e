/* What is funded in my patch? The public page over /api/v1 (no build step, no framework).
 *
 * Every figure shown is fetched from the API; nothing here is hard-coded data. Text from the
 * API is only ever inserted as text nodes (never innerHTML). Leaflet (window.L) draws the
 * map from the API's own GeoJSON; base-map tiles are off unless the reader asks for them. */
(function () {
  "use strict";

  var API = "/api/v1";
  var TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  var money = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP", maximumFractionDigits: 0 });
  var number = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });
  var whole = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
  var dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  var monthFmt = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });

  var state = { token: 0, map: null, layers: [], tiles: null, tileLayer: null, patchKey: null,
                shownArea: null,
                partnersToken: 0, partnersKey: null, themes: {}, themesReady: null,
                programmeToken: 0, programmeKey: null, programmes: {}, programmesReady: null, fairness: null };

  function $(id) { return document.getElementById(id); }
  var START_TITLE = document.title;

  /* el("p", {class: "x"}, "text", child, …): build DOM; strings become text nodes. */
  function el(tag, attrs) {
    var node = tag.indexOf("svg:") === 0
      ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
      : document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") node.textContent = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  /* append(node, child, …): children may be nodes, strings, numbers, arrays or null. */
  function append(node) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); continue; }
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  /* ---------- fetching ---------- */

  function ApiProblem(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && (body.detail || body.title)) || ("The server answered " + status + ".");
  }

  function getJSON(path) {
    return fetch(API + path, { headers: { Accept: "application/json" } }).then(function (res) {
      var type = res.headers.get("Content-Type") || "";
      var body = type.indexOf("json") >= 0 ? res.json() : Promise.resolve(null);
      return body.then(function (data) {
        if (!res.ok) throw new ApiProblem(res.status, data);
        return data;
      });
    }, function () {
      throw new ApiProblem(0, { title: "No connection", detail: "The directory could not be reached. Check your connection and try again." });
    });
  }

  /* An endpoint that may not exist yet (or may fail): null instead of an error. */
  function getOptional(path) {
    return getJSON(path).catch(function (problem) { return { unavailable: true, problem: problem }; });
  }

  function qs(params) {
    return Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }

  /* ---------- formatting ---------- */

  function fmtDate(text) {
    if (!text) return "not recorded";
    var d = new Date(text + "T00:00:00Z");
    return isNaN(d) ? text : dateFmt.format(d);
  }
  /* "1 Apr 2024 to 31 Mar 2025"; "Dates not recorded" rather than "not recorded to not
     recorded"; one end alone as "from …" or "until …". */
  function fmtSpan(start, end) {
    if (!start && !end) return "Dates not recorded";
    if (!end) return "From " + fmtDate(start);
    if (!start) return "Until " + fmtDate(end);
    return fmtDate(start) + " to " + fmtDate(end);
  }
  /* "2002-07" as "July 2002". */
  function fmtMonth(text) {
    var d = new Date(text + "-01T00:00:00Z");
    return isNaN(d) ? text : monthFmt.format(d);
  }
  function fmtMoney(x) { return x === null || x === undefined ? "not recorded" : money.format(x); }
  function fmtMonths(m) { return m === null || m === undefined ? "unknown" : number.format(m) + (m === 1 ? " month" : " months"); }
  function fmtDistance(m) { return m >= 1000 ? number.format(m / 1000) + " km" : whole.format(m) + " m"; }
  function plural(n, one, many) { return whole.format(n) + " " + (n === 1 ? one : many); }
  function humanise(key) { return String(key).replace(/_/g, " "); }
  // how much of a programme's allocation formula is public (its formula_status)
  function formulaWords(status) {
    return { "known": " (formula published)", "partly known": " (formula partly published)",
      "not published": " (formula not published)" }[status] || "";
  }
  function areaName(a) { return a ? a.name : null; }
  /* "Kingston upon Thames", "South West BCU", "Canbury ward": an area as a reader names it. */
  function areaLabel(a) {
    if (!a) return null;
    return a.type === "bcu" ? a.name + " BCU" : a.type === "ward" ? a.name + " ward" : a.name;
  }
  /* The visible "Demo" label of a record the API marks demo: true (text, not colour alone). */
  function demoTag() {
    for (var i = 0; i < arguments.length; i++) {
      if (arguments[i] && arguments[i].demo === true) {
        return el("span", { class: "demo-tag", title: "Demo record: illustrative, not real data", text: "Demo" });
      }
    }
    return null;
  }
  function isDemo(record) { return !!(record && record.demo === true); }
  /* Ways to reach someone, as links: e-mail (mailto:), phone (tel:), website (http(s) only). */
  function contactLinks(c) {
    var ways = [];
    if (!c) return ways;
    if (c.email) ways.push(el("span", { class: "way" }, "E-mail: ", el("a", { class: "email", href: "mailto:" + c.email, text: c.email })));
    var dial = c.phone ? String(c.phone).replace(/[^\d+]/g, "") : "";
    if (c.phone) ways.push(el("span", { class: "way" }, "Phone: ", dial ? el("a", { class: "phone", href: "tel:" + dial, text: c.phone }) : c.phone));
    if (c.website) {
      ways.push(el("span", { class: "way" }, "Website: ", /^https?:\/\//i.test(c.website)
        ? el("a", { class: "website", href: c.website, rel: "noopener", text: c.website }) : c.website));
    }
    return ways;
  }
  /* A postcode as people type it ("  sw2   1rw ", "sw21rw") as the API writes it ("SW2 1RW"):
   * one space, and one before the inward code (a digit and two letters) when none was typed. */
  function tidyPostcode(text) {
    // as the API reads one: punctuation at either end of one copied out of a sentence, and a
    // hyphen for the space, let go ("SW2 1RW," was shown "near SW2 1RW," in the headings)
    var tidy = String(text || "").replace(/\s+/g, " ").trim().toUpperCase()
      .replace(/^[.,;:!?"'()\[\]<>\u201c\u201d\u2018\u2019\s]+|[.,;:!?"'()\[\]<>\u201c\u201d\u2018\u2019\s]+$/g, "");
    var hyphened = /^([A-Z0-9]{2,4}) ?- ?(\d[A-Z]{2})$/.exec(tidy);
    if (hyphened) tidy = hyphened[1] + hyphened[2];
    return /^[A-Z0-9]{2,4} ?\d[A-Z]{2}$/.test(tidy) ? tidy.replace(" ", "").slice(0, -3) + " " + tidy.slice(-3) : tidy;
  }

  /* ---------- status and problems ---------- */

  function say(text) { $("status").textContent = text; }
  function showProblem(problem) {
    fillProblem($("problem"), problem);
    say("");
  }
  /* A problem in plain words in an alert box: its title, its detail (a withdrawn postcode
   * with a link to its area's patch) and the boroughs an unknown postcode's district touches. */
  function fillProblem(box, problem) {
    var body = problem.body || {};
    clear(box);
    append(box, el("p", { class: "problem-title", text: body.title || "Something went wrong" }));
    if (body.code === "postcode-terminated" && body.postcode) append(box, withdrawn(body));
    else if (body.code === "invalid-postcode" && body.outcode) {
      // a district alone ("KT1"): said in the page's words, with the boroughs it is in to
      // choose from (the API's detail ends with the path of its answer, not for readers)
      append(box, el("p", { class: "problem-detail", text: "\u201c" + body.outcode + "\u201d is a postcode district, " +
        "not a whole postcode: type the whole postcode (like \u201cSW1A 1AA\u201d), or choose a borough it is in." }));
      var choices = el("p", { class: "district-areas" });
      append(box, choices);
      getOptional("/outcodes/" + encodeURIComponent(body.outcode)).then(function (district) {
        if (district && district.boroughs && district.boroughs.length) append(choices, areaLinks(district.boroughs));
      });
    } else append(box, el("p", { class: "problem-detail", text: problem.message }));
    // the boroughs a postcode not found is near (the API's detail names them already): to go to
    if (body.outcode_boroughs && body.outcode_boroughs.length) append(box, el("p", null, areaLinks(body.outcode_boroughs)));
    box.hidden = false;
  }
  /* "Show the patch of: Islington, Westminster", each a link to that borough's patch. */
  function areaLinks(areas) {
    var out = [document.createTextNode("Show the patch of: ")];
    areas.forEach(function (a, i) {
      if (i) out.push(document.createTextNode(", "));
      out.push(el("a", { class: "area-link", href: "/?" + qs({ area: a.code }), text: areaLabel(a) }));
    });
    return out;
  }
  /* A withdrawn postcode in plain words ("SM1 1AB was withdrawn in July 2002; it was in
   * Sutton Central ward, Sutton."), with a link to the patch of that ward (or borough). */
  function withdrawn(body) {
    var last = body.last_known || {};
    var ward = last.borough ? last.ward : null, borough = last.borough;
    var text = body.postcode + (body.terminated ? " was withdrawn in " + fmtMonth(body.terminated) : " has been withdrawn");
    if (ward) text += "; it was in " + ward.name + " ward, " + borough.name;
    else if (borough) text += "; it was in " + borough.name;
    var area = ward || borough;
    return [el("p", { class: "withdrawn", text: text + "." }),
      area ? el("p", null, el("a", { class: "area-link", href: "/?" + qs({ area: area.code }),
        text: "Show the patch of " + (ward ? ward.name + " ward, " + borough.name : borough.name) })) : null];
  }
  /* Hide an alert box (the page's own, "problem", unless another is named). */
  function hideProblem(id) { var box = $(id || "problem"); box.hidden = true; clear(box); }

  /* A field left empty: say what it wants (in ``show``'s alert box) and go back to it. */
  function askFor(show, id, title, detail) {
    show(new ApiProblem(0, { title: title, detail: detail }));
    $(id).focus();
  }

  /* ---------- a section's state kept in the address's fragment ---------- */

  /* The fragment if it starts with ``prefix`` (#partners?, #programme?), else "". */
  function hashWith(prefix) { return location.hash.indexOf(prefix) === 0 ? location.hash : ""; }
  /* The fragment's parameters after ``prefix``, or null when it is another's. */
  function hashParams(prefix) {
    var hash = hashWith(prefix);
    return hash ? new URLSearchParams(hash.slice(prefix.length)) : null;
  }
  /* A select filled afresh: a first, empty option saying ``prompt``, then one per item
   * (its id as the value, its name as the text). */
  function fillSelect(select, prompt, items) {
    clear(select);
    append(select, el("option", { value: "", text: prompt }));
    items.forEach(function (item) { append(select, el("option", { value: item.id, text: item.name })); });
  }

  /* ---------- boroughs ---------- */

  function loadBoroughs() {
    var select = $("borough");
    return getJSON("/areas?" + qs({ type: "borough", per_page: 100 })).then(function (page) {
      clear(select);
      append(select, el("option", { value: "", text: "Choose a borough" }));
      page.contents.slice().sort(function (a, b) { return a.name.localeCompare(b.name); })
        .forEach(function (area) { append(select, el("option", { value: area.code, text: area.name })); });
      // the borough shown, once its patch came (a link may name it: "?area=Lambeth"); else
      // the address's code, while its patch is on its way (the list can come after the patch)
      var wanted = state.shownArea !== null ? state.shownArea : new URLSearchParams(location.search).get("area");
      if (wanted) select.value = wanted;
    }).catch(function (problem) {
      clear(select);
      append(select, el("option", { value: "", text: "Boroughs unavailable" }));
      showProblem(problem);
    });
  }

  /* ---------- the map ---------- */

  function ensureMap() {
    if (!window.L) return null;
    if (!state.map) {
      state.map = window.L.map("map", { scrollWheelZoom: false, attributionControl: true });
      state.map.attributionControl.setPrefix("");
      state.map.attributionControl.addAttribution("Boundaries: ONS, GLA (OGL)");
      state.map.setView([51.5074, -0.1278], 10);
    } else {
      state.map.invalidateSize();
    }
    return state.map;
  }

  function clearMap() {
    state.layers.forEach(function (layer) { layer.remove(); });
    state.layers = [];
  }

  function setTiles(on) {
    var map = ensureMap();
    if (!map) return;
    if (on && !state.tileLayer) {
      state.tileLayer = window.L.tileLayer(TILE_URL, {
        maxZoom: 19,
        attribution: "© OpenStreetMap contributors",
      }).addTo(map);
    } else if (!on && state.tileLayer) {
      state.tileLayer.remove();
      state.tileLayer = null;
    }
  }

  function drawBoundary(feature, kind) {
    var map = ensureMap();
    if (!map || !feature) return null;
    var layer = window.L.geoJSON(feature, {
      style: kind === "main"
        ? { color: "#1a3d7c", weight: 3, opacity: 1, fillColor: "#1a3d7c", fillOpacity: 0.08 }
        : { color: "#444", weight: 2, opacity: 0.9, dashArray: "6 6", fill: false },
      interactive: false,
    }).addTo(map);
    state.layers.push(layer);
    return layer;
  }

  function drawPoints(you, sites) {
    var map = ensureMap();
    if (!map) return [];
    var points = [];
    if (you) {
      var youMarker = window.L.marker([you.lat, you.lon], {
        icon: window.L.divIcon({ className: "pin-you", html: "", iconSize: [18, 18] }),
        title: "Your postcode " + you.label, alt: "Your postcode " + you.label, keyboard: true,
      }).addTo(map).bindPopup(el("p", { text: "Your postcode " + you.label }));
      state.layers.push(youMarker);
      points.push([you.lat, you.lon]);
    }
    sites.forEach(function (site, i) {
      var label = String(i + 1);
      var text = label + ": " + site.site.name + " (" + site.service + ")" + (site.demo ? " – Demo" : "");
      var html = el("span", { text: label });
      var marker = window.L.marker([site.site.lat, site.site.lon], {
        icon: window.L.divIcon({ className: "pin-site" + (site.demo ? " pin-demo" : ""), html: html, iconSize: [26, 26] }),
        title: text, alt: text, keyboard: true,
      }).addTo(map).bindPopup(el("div", { class: "popup" },
        el("strong", { text: site.service }), site.demo ? [" ", demoTag(site)] : null, el("br"),
        site.site.name, site.site.postcode ? ", " + site.site.postcode : ""));
      // named as its title says: a div icon's name was its text alone ("1", "2"), not its title
      if (marker.getElement) marker.getElement().setAttribute("aria-label", text);
      state.layers.push(marker);
      if (site.near) points.push([site.site.lat, site.site.lon]);
    });
    return points;
  }

  function fitMap(layers, points) {
    var map = ensureMap();
    if (!map) return;
    var bounds = null;
    layers.forEach(function (layer) {
      if (!layer) return;
      var b = layer.getBounds();
      if (b.isValid()) bounds = bounds ? bounds.extend(b) : window.L.latLngBounds(b.getSouthWest(), b.getNorthEast());
    });
    points.forEach(function (p) { bounds = bounds ? bounds.extend(p) : window.L.latLngBounds([p, p]); });
    if (bounds) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 15 });
  }

  /* ---------- the patch ---------- */

  function relationText(rel) {
    switch (rel.relation) {
      case "site_nearby": return "has a delivery site " + fmtDistance(rel.distance_m) + " away";
      case "site_in_area": return "has a delivery site in the area";
      case "serves_ward": return "serves the ward" + (rel.area ? " (" + rel.area.name + ")" : "");
      case "serves_part": return "serves part of the area" + (rel.area ? " (" + rel.area.name + ")" : "");
      case "serves_borough": return "serves the borough" + (rel.area ? " (" + rel.area.name + ")" : "");
      case "serves_bcu": return "serves the police BCU" + (rel.area ? " (" + rel.area.name + ")" : "");
      case "serves_london": return "serves all of London";
      default: return humanise(rel.relation);
    }
  }

  function grantLine(g) {
    var parts = [fmtMoney(g.amount)];
    if (g.funder) parts.push("from " + (g.funder.name || g.funder));
    if (g.programme) parts.push("(" + g.programme.name + ")");
    parts.push(fmtSpan(g.start, g.end));
    if (g.duration_months !== undefined && g.duration_months !== null) parts.push("– " + fmtMonths(g.duration_months) + " in all");
    if (g.months_left !== undefined && g.months_left !== null) parts.push(", " + fmtMonths(g.months_left) + " left");
    if (g.ending_soon) parts.push("– ending soon");
    return parts.join(" ");
  }

  function renderFacts(patch, mode) {
    var dl = clear($("patch-facts"));
    function row(term, value) { append(dl, el("div", null, el("dt", { text: term }), el("dd", { text: value }))); }
    if (mode === "postcode") row("Postcode", patch.postcode);
    if (patch.area && mode === "area" && patch.area.type !== "borough") row("Area", patch.area.name + " (" + patch.area.type + ")");
    if (patch.ward) row("Ward", patch.ward.name);
    if (patch.borough) row("Borough", patch.borough.name);
    var note = patch.bcu_note || (patch.police_force && patch.police_force.note);
    if (patch.bcu) row("Police BCU", patch.bcu.name + " (Metropolitan Police)");
    else if (note) row("Police", note);
    var counts = patch.counts || {};
    row("Services", plural(counts.services || 0, "service serves", "services serve") + " this patch");
  }

  function renderLinks(code, name) {
    var links = clear($("patch-links"));
    var atom = API + "/changes.atom?" + qs({ area: code });
    $("feed-link").setAttribute("href", atom);
    $("feed-link").textContent = "Change feed for " + name + " (Atom)";
    append(links, "What changed in " + name + ": ",
      el("a", { href: atom, text: "change feed (Atom)" }), " · ",
      el("a", { href: API + "/changes?" + qs({ area: code }), text: "changes as JSON" }), " · ",
      el("a", { href: API + "/docs", text: "API documentation" }));
  }

  function collectSites(services) {
    var sites = [];
    services.forEach(function (svc) {
      var near = {};
      (svc.relations || []).forEach(function (rel) {
        if (rel.site && (rel.relation === "site_nearby" || rel.relation === "site_in_area")) near[rel.site.ref] = rel;
      });
      (svc.sites || []).forEach(function (site) {
        if (typeof site.lat !== "number" || typeof site.lon !== "number") return;
        sites.push({ site: site, service: svc.name, near: !!near[site.ref], relation: near[site.ref], demo: isDemo(svc) || isDemo(site) });
      });
    });
    return sites;
  }

  function renderSiteList(sites) {
    var list = clear($("sites"));
    if (!sites.length) {
      append(list, el("li", { class: "none", text: "No delivery sites with a map position are recorded for these services." }));
      return;
    }
    sites.forEach(function (s) {
      var where = [s.site.name, s.site.postcode, s.site.ward && s.site.ward.name, s.site.borough && s.site.borough.name].filter(Boolean).join(", ");
      var distance = s.relation && s.relation.distance_m !== undefined ? " – " + fmtDistance(s.relation.distance_m) + " away" : "";
      append(list, el("li", { "data-demo": s.demo ? "yes" : "no" }, el("strong", { text: s.service }), s.demo ? [" ", demoTag(s)] : null, ": " + where + distance));
    });
  }

  /* "Who to talk to": the patch's contacts (borough SPOC, SNB chair, BCU lead) from /patch. */
  function renderContacts(patch) {
    var list = clear($("contact-list"));
    var contacts = patch.contacts || [];
    if (!contacts.length) {
      append(list, el("li", { class: "none", text: "No contact is recorded for this patch." }));
      return;
    }
    contacts.forEach(function (c) {
      var ways = contactLinks({ email: c.email, phone: c.phone });
      append(list, el("li", { class: "contact-card", "data-demo": isDemo(c) ? "yes" : "no" },
        el("div", { class: "contact-head" }, el("h3", { class: "role", text: c.role || "Contact" }), demoTag(c)),
        c.name ? el("p", { class: "name", text: c.name }) : null,
        c.area ? el("p", { class: "area", text: "For " + areaLabel(c.area) }) : null,
        ways.length ? el("ul", { class: "ways" }, ways.map(function (w) { return el("li", null, w); }))
          : el("p", { class: "none", text: "No e-mail or phone recorded." })));
    });
  }

  /* "Funding opportunities open now": the patch's open bidding rounds with the time left,
     and links to subscribe to the borough's (Atom, iCalendar). All text as textContent. */
  var SCOPES = { ward: "this ward", inside: "an area inside it", borough: "the borough", bcu: "the BCU", london: "all of London" };
  function awardRange(o) {
    if (o.amount_max === null || o.amount_max === undefined) return null;
    return o.amount_min !== null && o.amount_min !== undefined && o.amount_min !== o.amount_max
      ? "£" + whole.format(o.amount_min) + " to £" + whole.format(o.amount_max)
      : "Up to £" + whole.format(o.amount_max);
  }
  function renderOpportunities(patch) {
    var list = clear($("opportunity-list"));
    var found = patch.opportunities || { total: 0, contents: [] };
    $("opportunities-heading").textContent = "Funding opportunities open now (" + whole.format(found.total) + ")";
    if (!found.contents.length) {
      append(list, el("li", { class: "none", text: "No funding opportunity is open for this patch now." }));
    }
    found.contents.forEach(function (o) {
      var apply = /^https?:\/\//.test(o.how_to_apply_url || "") ? o.how_to_apply_url : null;
      append(list, el("li", { class: "opportunity", "data-ref": o.ref, "data-status": o.status, "data-demo": isDemo(o) ? "yes" : "no" },
        el("div", { class: "opportunity-head" }, el("h3", { text: o.title }), demoTag(o)),
        el("p", { class: "time-left" + (o.status === "closing_soon" ? " soon" : ""), text: o.time_left.charAt(0).toUpperCase() + o.time_left.slice(1) }),
        el("p", { class: "funder" }, "From ", el("strong", { text: o.funder }), ", for " + (SCOPES[o.scope] || o.scope)),
        awardRange(o) ? el("p", { class: "amount", text: awardRange(o) }) : null,
        o.small_org_friendly ? el("p", { class: "small-org", text: "Suits small organisations" }) : null,
        el("p", { class: "apply" }, apply ? el("a", { href: apply, rel: "noopener", text: "How to apply" }) : null,
          apply ? " · " : null, el("a", { href: o.url, text: "Details (JSON)" }))));
    });
    var links = clear($("opportunity-links"));
    var area = patch.borough || patch.area;
    if (!area) return;
    var q = "?area=" + encodeURIComponent(area.code);
    append(links, "Subscribe to " + area.name + "'s funding opportunities: ",
      el("a", { id: "opportunities-atom", href: API + "/opportunities.atom" + q, text: "Atom feed" }), " · ",
      el("a", { id: "opportunities-ics", href: API + "/opportunities.ics" + q, text: "Calendar of deadlines (.ics)" }), " · ",
      el("a", { id: "opportunities-all", href: API + "/opportunities" + q, text: "All of them (JSON)" }));
  }

  function renderServices(patch) {
    var list = clear($("service-list"));
    var services = patch.services.contents;
    $("services-heading").textContent = "Services (" + whole.format(patch.services.total_items) + ")";
    if (!services.length) {
      append(list, el("li", { class: "none", text: "No funded service is recorded for this patch." }));
      return;
    }
    services.forEach(function (svc) {
      var detailId = "service-" + svc.id + "-detail";
      var button = el("button", { type: "button", class: "expand", "aria-expanded": "false", "aria-controls": detailId, "data-service": svc.id },
        el("span", { class: "when-closed", text: "Show funding history and outcomes" }),
        el("span", { class: "when-open", text: "Hide funding history and outcomes" }),
        el("span", { class: "visually-hidden", text: " for " + svc.name }));
      var detail = el("div", { id: detailId, class: "detail", hidden: true });
      var grants = svc.live_grants || [];
      var themes = (svc.themes || []).map(function (t) { return el("li", { text: t.name || t }); });
      var ways = contactLinks(svc.contact);
      append(list, el("li", { class: "service", "data-service": svc.id, "data-demo": isDemo(svc) ? "yes" : "no" },
        el("div", { class: "service-head" }, el("h3", { text: svc.name }), demoTag(svc)),
        svc.organisation ? el("p", { class: "org" }, "Run by ", el("strong", { text: svc.organisation.name }), svc.organisation.demo ? [" ", demoTag(svc.organisation)] : null) : null,
        ways.length
          ? el("p", { class: "contact" }, "Contact: ", ways.map(function (w, i) { return i ? [" · ", w] : w; }))
          : el("p", { class: "contact none", text: "No public contact recorded." }),
        el("p", { class: "why" }, "Why it is listed: " + (svc.relations || []).map(relationText).join("; ") + "."),
        themes.length ? el("div", { class: "themes" }, el("span", { text: "Themes: " }), el("ul", { class: "tags" }, themes)) : null,
        grants.length
          ? el("div", { class: "grants" }, el("p", { text: "Live funding:" }), el("ul", null, grants.map(function (g) { return el("li", { class: "grant" }, grantLine(g), g.demo ? [" ", demoTag(g)] : null); })))
          : el("p", { class: "grants none", text: "No live grant recorded today (see the funding history)." }),
        svc.stale ? el("p", { class: "note", text: "Not verified recently: check before referring." }) : null,
        button, detail));
      button.addEventListener("click", function () { toggleService(button, detail, svc); });
    });
  }

  function toggleService(button, detail, svc) {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    detail.hidden = !open;
    if (!open || detail.getAttribute("data-loaded")) return;
    detail.setAttribute("data-loaded", "loading");
    append(clear(detail), el("p", { text: "Loading…" }));
    getJSON("/services/" + encodeURIComponent(svc.id)).then(function (full) {
      var outcomes = full.outcomes
        ? Promise.resolve(full.outcomes)
        : getJSON("/services/" + encodeURIComponent(svc.id) + "/outcomes").then(function (o) { return o.contents || o.outcomes || o; });
      return outcomes.then(function (list) { renderServiceDetail(detail, full, list || []); });
    }).catch(function (problem) {
      detail.removeAttribute("data-loaded");
      append(clear(detail), el("p", { class: "problem", text: "Could not load the details: " + problem.message }));
    });
  }

  /* When an outcome was measured, and how long after the service's funding ended:
     "30 Sep 2024, 6 months after funding ended", "31 Mar 2024 (period end)". */
  function measuredText(o) {
    var m = o.measured || {};
    if (!m.on) return "not recorded";
    var text = fmtDate(m.on) + (m.basis === "period_end" ? " (period end)" : "");
    if (o.after_funding_months !== null && o.after_funding_months !== undefined) {
      text += ", " + fmtMonths(o.after_funding_months) + " after funding ended";
    }
    return text;
  }

  function renderServiceDetail(detail, full, outcomes) {
    clear(detail);
    detail.setAttribute("data-loaded", "yes");
    if (full.description) append(detail, el("p", { class: "description", text: full.description }));
    var grants = full.grants || [];
    append(detail, el("h4", { text: "Funding" }));
    if (!grants.length) append(detail, el("p", { text: "No grant recorded." }));
    else {
      append(detail, scrollTable(["Funder", "Programme", "Amount", "Dates", "Length", "Status"],
        grants.map(function (g) {
          var funder = g.funder ? g.funder.name : "not recorded";
          return [g.demo ? [funder, " ", demoTag(g)] : funder, g.programme ? g.programme.name : "—",
            { text: fmtMoney(g.amount), value: g.amount, numeric: true },
            fmtSpan(g.start, g.end),
            { text: fmtMonths(g.duration_months) + (g.meets_3yr_target ? " (3 years or more)" : g.short_term ? " (short term)" : ""), value: g.duration_months, numeric: true },
            humanise(g.status || "")];
        }), "Grants to " + full.name));
    }
    append(detail, el("h4", { text: "Outcomes" }));
    if (!outcomes.length) append(detail, el("p", { class: "outcomes none", text: "No outcome recorded." }));
    else {
      append(detail, scrollTable(["Measure", "Period", "Measured", "Achieved", "Target", "Target met?"],
        outcomes.map(function (o) {
          var unit = o.unit ? " " + o.unit : "";
          return [o.demo ? [o.metric, " ", demoTag(o)] : o.metric, fmtDate(o.period_start) + " to " + fmtDate(o.period_end),
            measuredText(o),
            { text: o.value === null || o.value === undefined ? "—" : number.format(o.value) + unit, value: o.value, numeric: true },
            { text: o.target === null || o.target === undefined ? "—" : number.format(o.target) + unit, value: o.target, numeric: true },
            o.met_target === true ? "Yes" : o.met_target === false ? "No" : "—"];
        }), "Outcomes of " + full.name, "outcomes"));
      if (full.funding_ended) append(detail, el("p", { class: "note follow-up-rule", text: "Funding ended " + fmtDate(full.funding_ended) +
        " (the latest end of its community-safety awards). An outcome with no measurement date counts as measured at its period's end." }));
      outcomes.forEach(function (o) {
        if (o.report && o.report.url && /^https?:\/\//i.test(o.report.url)) append(detail, el("p", null, el("a", { href: o.report.url, rel: "noopener", text: "Evaluation report: " + o.metric })));
      });
    }
    if (full.demo) append(detail, el("p", { class: "note", text: "Demo record: some details are illustrative." }));
    var notes = full.practice_notes || [];
    if (notes.length) {
      append(detail, el("h4", { text: "What worked here" }));
      append(detail, practiceList(notes, "service-practice"));
    }
    append(detail, feedbackForm(full));
  }

  /* A short list of practice notes (id, title, published_at, url), each a link to the note. */
  function practiceList(notes, className) {
    return el("ul", { class: "practice " + className }, notes.map(function (n) {
      return el("li", { "data-note": n.id },
        el("a", { href: API + "/practice/" + encodeURIComponent(n.id), text: n.title }),
        n.published_at ? el("span", { class: "note", text: " (" + fmtDate(String(n.published_at).slice(0, 10)) + ")" }) : null);
    }));
  }

  /* "Tell us": public feedback about a service (POST /services/{id}/feedback), kept for
     moderation and never published. The "website" field is a honeypot people never see. */
  var FEEDBACK_CATEGORIES = [["out_of_date", "Something here is out of date"], ["closed", "This service has closed"],
    ["correction", "A correction"], ["question", "A question"], ["other", "Something else"]];

  function feedbackForm(service) {
    var id = "feedback-" + service.id;
    var category = el("select", { id: id + "-category", name: "category", required: true },
      FEEDBACK_CATEGORIES.map(function (c) { return el("option", { value: c[0], text: c[1] }); }));
    var text = el("textarea", { id: id + "-text", name: "text", rows: 4, maxlength: 4000, required: true });
    var email = el("input", { id: id + "-email", name: "email", type: "email", maxlength: 320, autocomplete: "email" });
    var trap = el("input", { id: id + "-website", name: "website", type: "text", tabindex: "-1", autocomplete: "off" });
    var result = el("div", { class: "feedback-result", role: "status", "aria-live": "polite" });
    var button = el("button", { type: "submit", text: "Send" });
    var form = el("form", { class: "feedback", "data-service": service.id, novalidate: true },
      el("p", { class: "note", text: "Tell the people who keep this listing something: it is out of date, the service has closed, or a question. " +
        "What you send is read by them and never published." }),
      el("label", { for: id + "-category", text: "What is it about?" }), category,
      el("label", { for: id + "-text", text: "Your message (up to 4,000 characters)" }), text,
      el("label", { for: id + "-email", text: "Your e-mail, if you would like a reply (optional; never published)" }), email,
      el("div", { class: "trap", "aria-hidden": "true" }, el("label", { for: id + "-website", text: "Leave this empty" }), trap),
      button, result);
    /* The fields a refusal's `errors` may name, with the names the form shows for them. */
    var fields = { category: [category, "What it is about"], text: [text, "Your message"], email: [email, "Your e-mail"] };
    var sending = false;

    function unmark() {
      Object.keys(fields).forEach(function (name) {
        var control = fields[name][0];
        control.removeAttribute("aria-invalid");
        control.removeAttribute("aria-describedby");
        var note = document.getElementById(control.id + "-error");
        if (note) note.parentNode.removeChild(note);
      });
    }

    /* Each field the refusal names: marked invalid, its message beside it (by the form's own
       name for it) and tied to it; focus to the first, so a keyboard or screen-reader user is
       taken to what to correct. What names no field is listed in the result. */
    function markFields(errors) {
      var first = null, others = [];
      Object.keys(errors).forEach(function (name) {
        var said = [].concat(errors[name]).join(" ");
        var field = fields[name];
        if (!field) { others.push(name + ": " + said); return; }
        var control = field[0];
        var note = el("p", { id: control.id + "-error", class: "field-error", text: field[1] + ": " + said });
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", note.id);
        control.parentNode.insertBefore(note, control.nextSibling);
        if (!first) first = control;
      });
      return { first: first, others: others };
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (sending) return;  // (not `disabled`: a disabled button loses the focus to the page)
      sending = true;
      button.setAttribute("aria-disabled", "true");
      clear(result);
      unmark();
      var body = { category: category.value, text: text.value, email: email.value || null, website: trap.value || null };
      fetch(API + "/services/" + encodeURIComponent(service.id) + "/feedback", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (data) {
          if (res.status === 429) {
            var wait = parseInt(res.headers.get("Retry-After") || "", 10);
            throw new ApiProblem(429, { detail: "Too many messages have been sent from here in the last minute. " +
              (wait > 0 ? "Try again in " + wait + " second" + (wait === 1 ? "" : "s") + "." : "Try again in a minute.") });
          }
          if (!res.ok) throw new ApiProblem(res.status, data);
          return data;
        });
      }, function () {
        throw new ApiProblem(0, { title: "No connection", detail: "The directory could not be reached. Check your connection and try again." });
      }).then(function (receipt) {
        result.setAttribute("data-state", "sent");
        append(result, el("p", { class: "sent", text: receipt.message }));
        text.value = "";
      }).catch(function (problem) {
        result.setAttribute("data-state", "problem");
        var errors = problem.body && problem.body.errors;
        var marked = errors ? markFields(errors) : { first: null, others: [] };
        var said = marked.first ? "Not sent: correct what is marked below." : "Not sent: " + problem.message;
        append(result, el("p", { class: "problem", role: "alert", text: said }));
        if (marked.others.length) append(result, el("ul", null, marked.others.map(function (line) {
          return el("li", { text: line });
        })));
        if (marked.first) marked.first.focus();
      }).then(function () {
        sending = false;
        button.removeAttribute("aria-disabled");
      });
    });
    return el("details", { class: "tell-us" }, el("summary", { text: "Tell us about this service" }), form);
  }

  /* ---------- tables and charts ---------- */

  function cell(tag, content) {
    if (Array.isArray(content) || (content && content.nodeType)) return el(tag, null, content);
    if (content && typeof content === "object" && !content.nodeType) {
      return el(tag, { class: content.numeric ? "num" : null, "data-value": content.value === undefined || content.value === null ? null : content.value, text: content.text });
    }
    return el(tag, { text: content });
  }

  /* A table too wide for the screen scrolls sideways in its .table-wrap; a keyboard user can
   * scroll it only if the wrap takes the focus (WCAG 2.1.1), so while it overflows it is a
   * tab stop, a region named by the table's caption. Not before: a tab stop that does
   * nothing on a wide screen is only in the way. */
  var wrapWatch = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) { scrollable(entry.target); });
  }) : null;
  function scrollable(wrap) {
    var caption = wrap.querySelector("caption");
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (caption ? caption.textContent : "Table") + " (scrolls sideways)");
    } else ["tabindex", "role", "aria-label"].forEach(function (name) { wrap.removeAttribute(name); });
  }
  function scrollTable(headers, rows, caption, cls) {
    var wrap = tableWrap(headers, rows, caption, cls);
    if (wrapWatch) wrapWatch.observe(wrap);
    return wrap;
  }
  function tableWrap(headers, rows, caption, cls) {
    return el("div", { class: "table-wrap" }, el("table", { class: cls || null },
      caption ? el("caption", { text: caption }) : null,
      el("thead", null, el("tr", null, headers.map(function (h) { return el("th", { scope: "col", text: h }); }))),
      el("tbody", null, rows.map(function (r) {
        return el("tr", null, r.map(function (c, i) { return cell(i === 0 ? "th" : "td", c); }).map(function (node, i) {
          if (i === 0) node.setAttribute("scope", "row");
          return node;
        }));
      }))));
  }

  var chartCount = 0;

  function shorten(text, max) {
    text = String(text);
    return text.length <= max ? text : text.slice(0, Math.max(1, max - 1)).trimEnd() + "…";
  }

  /* A horizontal bar chart in inline SVG, each bar labelled in text (name above, value at
   * its end), so it reads without colour; rows may carry pattern: "hatch" to tell a
   * comparison bar apart. Followed by the same figures as a table. */
  function barChart(opts) {
    var rows = opts.rows;
    var id = "chart-" + (++chartCount);
    var width = Math.max(260, Math.min(560, (opts.width || 320)));
    var rowH = 42, top = 4;
    var height = top + rows.length * rowH + 4;
    var max = rows.reduce(function (m, r) { return Math.max(m, r.value || 0); }, 0) || 1;
    var valueRoom = 110;
    var svg = el("svg:svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-labelledby": id + "-t", class: "chart" },
      el("svg:title", { id: id + "-t", text: opts.title + ": " + rows.map(function (r) { return r.label + " " + r.display; }).join("; ") }),
      el("svg:defs", null, el("svg:pattern", { id: id + "-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        el("svg:rect", { width: 6, height: 6, fill: "#fff" }),
        el("svg:line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#1a3d7c", "stroke-width": 3 }))));
    rows.forEach(function (r, i) {
      var y = top + i * rowH;
      var w = Math.max(2, ((r.value || 0) / max) * (width - valueRoom));
      append(svg, el("svg:g", { class: "bar" },
        el("svg:text", { x: 0, y: y + 13, class: "bar-label" },
          el("svg:title", { text: r.label }), shorten(r.label, Math.floor(width / 7.4))),
        el("svg:rect", { x: 0, y: y + 18, width: w, height: 16, fill: r.pattern === "hatch" ? "url(#" + id + "-hatch)" : "#1a3d7c", stroke: "#1a3d7c" }),
        el("svg:text", { x: w + 6, y: y + 31, class: "bar-value", text: r.display })));
    });
    var table = scrollTable(opts.headers, rows.map(function (r) {
      return [r.label, { text: r.display, value: r.value, numeric: true }].concat(r.extra || []);
    }), opts.title, "data " + (opts.tableClass || ""));
    return el("figure", { class: "figure", "data-chart": opts.key || null }, svg, table);
  }

  function panel(name) { return $("panel-" + name).querySelector(".body"); }
  function unavailable(body, text, problem) {
    append(clear(body), el("p", { class: "unavailable", text: text || "Funding figures unavailable." }));
    if (problem && problem.status && problem.status !== 404) append(body, el("p", { class: "note", text: problem.message }));
  }
  function panelWidth(body) { return Math.floor(body.clientWidth || 320); }

  function groupLabel(g) {
    var k = g.key;
    if (g.programme && g.programme.name) return g.programme.name;
    if (g.financial_year) return g.financial_year;
    if (g.area && g.area.name) return g.area.name;
    if (g.organisation && g.organisation.name) return g.organisation.name;
    if (k && typeof k === "object") return k.name || k.id || k.code || "not recorded";
    if (g.name) return g.name;
    return k === null || k === undefined || k === "" ? "not recorded" : String(k);
  }

  /* Each "How these figures are made" named by its section's heading as well (for a screen
     reader's list of controls, where six read alike), in text only it reads. */
  function nameDisclosures(root) {
    Array.prototype.forEach.call(root.querySelectorAll("details.how > summary"), function (summary) {
      if (summary.querySelector(".visually-hidden")) return;
      var section = summary.closest("section");
      var heading = section && section.querySelector("h2, h3");
      if (heading && heading.textContent) append(summary, el("span", { class: "visually-hidden", text: ": " + heading.textContent }));
    });
  }

  /* The API's own words on how a figure was made (rule, apportionment, notes). */
  function notesFrom(data) {
    if (!data) return null;
    var notes = [];
    ["rule", "note", "ranking"].forEach(function (k) { if (typeof data[k] === "string") notes.push(data[k]); });
    if (data.apportionment && typeof data.apportionment.rule === "string") notes.push(data.apportionment.rule);
    if (Array.isArray(data.notes)) data.notes.forEach(function (n) { if (typeof n === "string") notes.push(n); });
    if (!notes.length) return null;
    setTimeout(function () { nameDisclosures(document.body); }, 0);  // once it is in its section
    return el("details", { class: "how" }, el("summary", { text: "How these figures are made" }),
      notes.map(function (n) { return el("p", { class: "note", text: n }); }));
  }

  function stats(data) {
    var t = (data && data.totals) || {};
    return {
      awards: t.awards, amount: t.amount, without_amount: t.awards_without_amount,
      median_months: t.median_months,
      distribution: t.length_distribution || t.months_distribution,
      share_36: t.share_36_plus !== undefined ? t.share_36_plus : t.share_36_months_or_more,
      ending: t.ending_soon || t.ending_within_90_days,
      ending_days: (data && data.ending_soon_days) || 90,
    };
  }

  function amountChart(body, key, title, groups, headerLabel) {
    append(body, barChart({
      key: key, title: title, width: panelWidth(body),
      headers: [headerLabel, "Amount", "Awards"],
      rows: groups.map(function (g) {
        return { label: groupLabel(g), value: g.amount || 0, display: fmtMoney(g.amount || 0), extra: [{ text: whole.format(g.awards || 0), value: g.awards || 0, numeric: true }] };
      }),
    }));
  }

  function totalLine(body, s, what) {
    append(body, el("p", { class: "total", "data-total": s.amount, "data-awards": s.awards },
      what + ": ", el("strong", { text: fmtMoney(s.amount || 0) }), " in " + plural(s.awards || 0, "award", "awards") +
      (s.without_amount ? " (" + plural(s.without_amount, "award has", "awards have") + " no amount recorded)" : "") + "."));
  }

  /* ---------- the headline: an area's own money apart from the wider money reaching it ---------- */

  var WIDER = ["shared", "borough_wide", "bcu_wide", "london_wide"];
  var SCOPE_SHORT = { shared: "shared", borough_wide: "borough-wide", bcu_wide: "BCU-wide", london_wide: "London-wide" };
  var LEVEL_WORDS = { borough: ["borough", "boroughs"], bcu: ["BCU", "BCUs"], ward: ["ward", "wards"], region: ["region", "regions"] };

  /* "BCU-wide awards reaching Lambeth (Central South BCU, shared by its 2 boroughs: Lambeth and Southwark)". */
  function scopeLabel(scope, h) {
    var s = h[scope], name = h.area.name, words = LEVEL_WORDS[h.area.type] || ["area", "areas"];
    var others = (s.shared_with || []).map(areaName);
    var sharing = plural(s.areas_sharing || 0, words[0], words[1]);
    var wider = s.areas && s.areas[0] ? areaLabel(s.areas[0]) : null;
    if (scope === "shared") {
      var named = (s.areas || []).map(areaLabel);
      return "Awards naming " + name + " with other areas" + (named.length ? " (" + named.join(", ") + ")" : "");
    }
    if (scope === "borough_wide") return "Borough-wide awards reaching " + name + " (" + wider + ", shared by its " + sharing + ")";
    if (scope === "bcu_wide") {
      return "BCU-wide awards reaching " + name + " (" + wider + ", shared by its " + sharing +
        (others.length ? ": " + [name].concat(others).join(", ") : "") + ")";
    }
    return "London-wide awards reaching " + name + " (shared by London's " + sharing + ")";
  }

  function withoutAmount(s) {
    return s.awards_without_amount ? "; " + plural(s.awards_without_amount, "has", "have") + " no amount recorded" : "";
  }

  /* The headline of /funding/summary?area= (or the patch's funding): the area's own awards
     first, then each wider scope at its full amount, labelled with who shares it, never
     added in. */
  function renderHeadline(body, h, period) {
    var name = h.area.name, own = h.own;
    var box = el("div", { class: "headline", "data-area": h.area.code });
    append(box, el("p", { class: "total own", "data-scope": "own", "data-total": own.amount, "data-awards": own.awards },
      name + "'s own awards, " + period + ": ", el("strong", { text: fmtMoney(own.amount || 0) }),
      " (" + plural(own.awards || 0, "award", "awards") + withoutAmount(own) + ")."));
    var lines = el("ul", { class: "scopes" });
    WIDER.forEach(function (scope) {
      var s = h[scope];
      if (!s || !s.awards) return; // (a scope no award reaches is not a £0 line of its own)
      var share = scope === "shared" && typeof s.equal_share === "number"
        ? "; " + name + "'s equal share " + fmtMoney(s.equal_share) : "";
      append(lines, el("li", { class: "scope", "data-scope": scope, "data-total": s.amount, "data-awards": s.awards },
        scopeLabel(scope, h) + ": ", el("strong", { text: fmtMoney(s.amount || 0) }),
        " (" + plural(s.awards || 0, "award", "awards") + ", in full" + share + withoutAmount(s) + ")."));
    });
    if (lines.childNodes.length) {
      append(box, el("p", { class: "note" }, "Shared and wider awards reaching " + name + ", each at its own scope and full amount, not added into " + name + "'s own figure:"), lines);
    } else {
      append(box, el("p", { class: "note none-wider", text: "No shared or wider award reaches " + name + " " + period + "." }));
    }
    if (h.apportionment && h.apportionment.available && typeof h.apportionment.amount === "number") {
      append(box, el("p", { class: "note apportioned", "data-total": h.apportionment.amount },
        "With the wider money divided by population share: " + fmtMoney(h.apportionment.amount) + "."));
    }
    append(body, box);
  }

  /* Charts by programme or year that never show wider money as the area's own: the area's own
     awards, then the shared and wider awards reaching it, hatched, each labelled with its scope. */
  function scopedCharts(body, key, groups, header, name, by) {
    var own = groups.filter(function (g) { return g.scopes.own.awards; });
    if (own.length) {
      append(body, el("p", { class: "chart-title", text: name + "'s own awards by " + by }));
      append(body, barChart({
        key: key, title: name + "'s own awards by " + by, width: panelWidth(body),
        headers: [header, "Amount", "Awards"],
        rows: own.map(function (g) {
          var s = g.scopes.own;
          return { label: groupLabel(g), value: s.amount || 0, display: fmtMoney(s.amount || 0), extra: [{ text: whole.format(s.awards), value: s.awards, numeric: true }] };
        }),
      }));
    } else {
      append(body, el("p", { class: "none-own", text: "No award of " + name + "'s own recorded." }));
    }
    var wider = [];
    groups.forEach(function (g) {
      WIDER.forEach(function (scope) {
        var s = g.scopes[scope];
        if (s && s.awards) wider.push({ label: groupLabel(g) + " (" + SCOPE_SHORT[scope] + ")", value: s.amount || 0, display: fmtMoney(s.amount || 0), pattern: "hatch", extra: [{ text: whole.format(s.awards), value: s.awards, numeric: true }] });
      });
    });
    if (wider.length) {
      append(body, el("p", { class: "chart-title", text: "Shared and wider awards reaching " + name + " by " + by + ", in full (hatched: not " + name + "'s own)" }));
      append(body, barChart({
        key: key + "-wider", title: "Shared and wider awards reaching " + name + " by " + by + " (hatched: in full, not " + name + "'s own)",
        width: panelWidth(body), headers: [header + " (scope)", "Amount", "Awards"], rows: wider,
      }));
    }
  }

  function regrantsNote(body, summary) {
    if (summary.regrants_left_out && summary.regrants_left_out.awards) {
      append(body, el("p", { class: "note", text: "Not counted twice: " + plural(summary.regrants_left_out.awards, "regrant", "regrants") + " worth " + fmtMoney(summary.regrants_left_out.amount) + " paid on from these awards." }));
    }
  }

  function renderProgramme(summary, patch) {
    var body = clear(panel("programme"));
    if (summary && !summary.unavailable) {
      var groups = summary.groups || [];
      var h = summary.headline;
      if (h) {
        renderHeadline(body, h, "all years");
        if (!groups.length) append(body, el("p", { text: "No award recorded." }));
        else scopedCharts(body, "programme", groups, "Programme", h.area.name, "programme");
      } else {
        totalLine(body, stats(summary), "All awards, all years");
        if (!groups.length) append(body, el("p", { text: "No award recorded." }));
        else amountChart(body, "programme", "Funding by programme", groups, "Programme");
      }
      regrantsNote(body, summary);
      append(body, notesFrom(h ? { rule: summary.rule, notes: [h.rule, h.apportionment && h.apportionment.rule] } : summary));
      return;
    }
    // the funding summary is not there: the patch's live awards by programme
    var funding = patch && patch.funding;
    if (!funding || !funding.by_programme) { unavailable(body, "Funding figures unavailable.", summary && summary.problem); return; }
    append(body, el("p", { class: "note", text: "Funding figures by programme over all years are unavailable; showing the live awards on " + fmtDate(funding.live_on) + "." }));
    if (funding.headline) {
      renderHeadline(body, funding.headline, "live on " + fmtDate(funding.live_on));
      if (funding.by_programme.length) scopedCharts(body, "programme", funding.by_programme, "Programme", funding.headline.area.name, "programme (live)");
      append(body, notesFrom({ rule: funding.rule, notes: [funding.headline.rule] }));
      return;
    }
    totalLine(body, { amount: funding.amount, awards: funding.awards }, "Live awards");
    if (funding.by_programme.length) amountChart(body, "programme", "Live funding by programme", funding.by_programme, "Programme");
    append(body, notesFrom({ rule: funding.rule }));
  }

  function renderYear(summary) {
    var body = clear(panel("year"));
    if (!summary || summary.unavailable) { unavailable(body, "Funding figures by financial year unavailable.", summary && summary.problem); return; }
    var groups = (summary.groups || []).slice().sort(function (a, b) { return String(groupLabel(a)).localeCompare(String(groupLabel(b))); });
    if (!groups.length) { append(body, el("p", { text: "No award recorded." })); return; }
    if (summary.headline) scopedCharts(body, "financial_year", groups, "Financial year", summary.headline.area.name, "financial year (award start)");
    else amountChart(body, "financial_year", "Funding by financial year (award start)", groups, "Financial year");
    append(body, notesFrom(summary));
  }

  function ordinal(n) {
    var s = ["th", "st", "nd", "rd"], v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  function renderNeed(need, borough) {
    var body = clear(panel("need"));
    if (!need || need.unavailable) { unavailable(body, "Funding figures against population and crime unavailable.", need && need.problem); return; }
    var rows = need.areas || need.rows || [];
    var row = rows.filter(function (r) { return r.area && r.area.code === borough.code; })[0];
    var avg = need.london || need.london_average || {};
    if (!row) { append(body, el("p", { text: "No figures for " + borough.name + "." })); return; }
    var ranked = function (key) { return rows.filter(function (r) { return r.rank && r.rank[key] !== null && r.rank[key] !== undefined; }).length; };
    var unknown = row.awards_without_amount || 0;
    append(body, el("p", { class: "total", "data-total": row.amount },
      "Awards to " + borough.name + " and its wards (an award shared with other boroughs counted with its money divided equally): ",
      el("strong", { text: unknown && unknown === row.awards ? "amount not recorded" : fmtMoney(row.amount || 0) }),
      row.awards !== undefined ? " in " + plural(row.awards, "award", "awards") : "",
      unknown && unknown < row.awards ? " (" + plural(unknown, "award has", "awards have") + " no amount recorded)" : "",
      row.rank && row.rank.amount ? " (" + ordinal(row.rank.amount) + " of " + ranked("amount") + " boroughs)" : "", "."));
    [["per_1000_residents", "Funding per 1,000 residents", "residents"], ["per_1000_offences", "Funding per 1,000 recorded offences", "offences"]].forEach(function (m) {
      var key = m[0], mine = row[key], london = avg[key];
      var fig = function (x) { return x === null || x === undefined ? "not available" : fmtMoney(x); };
      append(body, barChart({
        key: key, title: m[1], width: panelWidth(body), headers: ["Area", m[1]],
        rows: [{ label: borough.name, value: mine, display: fig(mine) },
               { label: "London average (hatched)", value: london, display: fig(london), pattern: "hatch" }],
      }));
      var words = [];
      var ratio = row.vs_london && row.vs_london[key];
      if (typeof ratio === "number") {
        words.push(ratio >= 1 ? number.format(ratio) + " times the London average" : whole.format(ratio * 100) + "% of the London average");
      }
      if (row.rank && row.rank[key]) words.push(ordinal(row.rank[key]) + " highest of " + ranked(key) + " boroughs");
      if (mine === null || mine === undefined) words.push("no " + m[2] + " figure for " + borough.name);
      if (words.length) append(body, el("p", { class: "compare", "data-key": key, text: borough.name + ": " + words.join("; ") + "." }));
    });
    var periods = need.periods || {};
    var facts = [];
    if (periods.funding) facts.push("Funding: " + periods.funding + ".");
    if (periods.population && periods.population.reference_date) facts.push("Population: mid-year estimate at " + fmtDate(periods.population.reference_date) + (row.population ? " (" + whole.format(row.population) + " residents)" : "") + ".");
    if (periods.offences && periods.offences.start) facts.push("Recorded offences: " + periods.offences.start + " to " + periods.offences.end + (row.offences ? " (" + whole.format(row.offences) + " offences)" : "") + ".");
    if (row.note) facts.push(row.note);
    if (facts.length) append(body, el("ul", { class: "facts-list" }, facts.map(function (f) { return el("li", { text: f }); })));
    append(body, notesFrom(need));
  }

  var MEASURE_LABELS = {
    per_1000_residents: "Funding per 1,000 residents", per_1000_offences: "Funding per 1,000 recorded offences",
    median_months: "Median award length (months)", share_36_plus: "Share of awards of 36 months or more",
    late_share: "Share of dated awards decided late",
  };

  /* The borough beside the mean of its similar boroughs and London (GET /areas/{code}/comparison). */
  function renderComparison(cmp, borough) {
    var body = clear(panel("comparison"));
    if (!cmp || cmp.unavailable) { unavailable(body, "The comparison with similar boroughs is unavailable.", cmp && cmp.problem); return; }
    var money = function (m) { return m === "per_1000_residents" || m === "per_1000_offences"; };
    var fig = function (m, x) {
      if (x === null || x === undefined) return "–";
      if (money(m)) return fmtMoney(x);
      return m === "median_months" ? number.format(x) : whole.format(x * 100) + "%";
    };
    var group = cmp.classification && cmp.classification.group;
    append(body, el("p", { class: "similar" }, "Similar boroughs" + (group ? " (" + group.name + ", " + group.code + ")" : "") + ": ",
      (cmp.similar_boroughs || []).map(function (a) { return a.name; }).join(", ") || "none", "."));
    var members = (cmp.similar_boroughs || []).length;
    append(body, scrollTable(["Measure", borough.name, "Similar boroughs (mean)", "London", "Rank"],
      cmp.measures.map(function (m) {
        var cellOf = function (x) { return { numeric: true, value: x, text: fig(m.measure, x) }; };
        var mean = cellOf(m.similar_mean);
        if (m.similar_counted < members) mean.text += " (" + m.similar_counted + " of " + members + ")";
        return [MEASURE_LABELS[m.measure] || m.measure, cellOf(m.borough), mean, cellOf(m.london),
          { numeric: true, value: m.rank, text: m.rank ? ordinal(m.rank) + " of " + m.ranked : "–" }];
      }), "How " + borough.name + " compares", "comparison-table"));
    var b = cmp.borough || {};
    append(body, el("ul", { class: "facts-list" },
      el("li", { text: borough.name + "'s awards, shared ones included with their money divided equally: " + plural(b.awards || 0, "award", "awards") + ", " +
        (b.awards && b.awards_without_amount === b.awards ? "amount not recorded" : fmtMoney(b.amount || 0) +
          (b.awards_without_amount ? " (" + plural(b.awards_without_amount, "award has", "awards have") + " no amount recorded)" : "")) +
        "; " + plural(b.dated_awards || 0, "dated award", "dated awards") + ", " + whole.format(b.late_awards || 0) + " decided late." }),
      cmp.measures.map(function (m) { return el("li", { text: (MEASURE_LABELS[m.measure] || m.measure) + " – " + m.period + "." }); })));
    if (cmp.classification) append(body, el("p", { class: "note", text: cmp.classification.name + ". " + cmp.classification.note + " " + cmp.classification.licence + "." }));
    var how = notesFrom(cmp);
    if (how) {
      cmp.measures.forEach(function (m) { append(how, el("p", { class: "note", text: (MEASURE_LABELS[m.measure] || m.measure) + ": " + m.rule })); });
      append(how, el("p", { class: "note", text: cmp.timing_rule }));
    }
    append(body, how);
  }

  var BUCKETS = ["<12", "12–23", "24–35", "36+", "unknown"];
  var BUCKET_LABELS = { "<12": "under 12 months", "12–23": "12 to 23 months", "24–35": "24 to 35 months", "36+": "36 months or more", "unknown": "length unknown" };

  function monthsBuckets(grants) {
    var counts = {};
    BUCKETS.forEach(function (b) { counts[b] = 0; });
    grants.forEach(function (g) {
      var m = g.duration_months;
      var b = m === null || m === undefined ? "unknown" : m < 12 ? "<12" : m < 24 ? "12–23" : m < 36 ? "24–35" : "36+";
      counts[b] += 1;
    });
    return counts;
  }

  function median(values) {
    if (!values.length) return null;
    var v = values.slice().sort(function (a, b) { return a - b; });
    var mid = Math.floor(v.length / 2);
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  function liveGrants(patch) {
    var seen = {}, out = [];
    ((patch && patch.services && patch.services.contents) || []).forEach(function (svc) {
      (svc.live_grants || []).forEach(function (g) {
        if (seen[g.id]) return;
        seen[g.id] = true;
        out.push(Object.assign({ service: svc.name, serviceDemo: isDemo(svc) }, g));
      });
    });
    return out;
  }

  function renderLengths(summary, patch) {
    var body = clear(panel("length"));
    var s = summary && !summary.unavailable ? stats(summary) : null;
    if (!s || !s.distribution) {
      var grants = liveGrants(patch);
      if (!grants.length) { unavailable(body, "Funding figures unavailable: no live grant of the services listed to measure."); return; }
      var months = grants.map(function (g) { return g.duration_months; }).filter(function (m) { return typeof m === "number"; });
      s = { distribution: monthsBuckets(grants), median_months: median(months),
            share_36: months.length ? months.filter(function (m) { return m >= 36; }).length / months.length : null };
      append(body, el("p", { class: "note", text: "Funding summary unavailable: from the " + plural(grants.length, "live grant", "live grants") + " of the services listed." }));
    }
    var share = s.share_36;
    append(body, el("p", { class: "total" }, "Median award length: ",
      el("strong", { class: "median", "data-value": s.median_months, text: fmtMonths(s.median_months) }), ". Awards of 3 years or more: ",
      el("strong", { class: "share", "data-value": share, text: share === null || share === undefined ? "unknown" : whole.format(share * 100) + "%" }),
      " (the Committee asked for funding over 3 to 4 years)."));
    if (summary && summary.headline) {
      append(body, el("p", { class: "note scope", text: "Over every award reaching " + summary.headline.area.name +
        ": its own, those it shares and London-wide or BCU-wide ones, each in full (the comparison with similar boroughs counts its awards alone)." }));
    }
    var dist = s.distribution;
    append(body, barChart({
      key: "months", title: "Number of awards by length", width: panelWidth(body), headers: ["Length", "Awards"],
      rows: BUCKETS.filter(function (b) { return dist[b] !== undefined; }).map(function (b) {
        return { label: BUCKET_LABELS[b], value: dist[b], display: plural(dist[b], "award", "awards") };
      }),
    }));
  }

  function renderEnding(summary, patch) {
    var body = clear(panel("ending"));
    var s = summary && !summary.unavailable ? stats(summary) : null;
    if (s && s.ending) {
      append(body, el("p", { class: "total", "data-awards": s.ending.awards, "data-amount": s.ending.amount },
        el("strong", { text: plural(s.ending.awards || 0, "award", "awards") }), " worth ",
        el("strong", { text: fmtMoney(s.ending.amount || 0) }), " end within " + whole.format(s.ending_days) + " days" +
        (summary.headline ? " (every award reaching " + summary.headline.area.name + ", shared and wider ones in full)" : "") + "."));
    }
    var live = liveGrants(patch);
    var soon = live.filter(function (g) { return g.ending_soon; });
    if (!(s && s.ending) && !live.length) { unavailable(body, "Funding figures unavailable."); return; }
    if (soon.length) {
      append(body, scrollTable(["Service", "Programme", "Amount", "Ends"], soon.map(function (g) {
        var demo = g.serviceDemo || isDemo(g);
        return [demo ? [g.service, " ", demoTag({ demo: true })] : g.service, g.programme ? g.programme.name : "—", { text: fmtMoney(g.amount), value: g.amount, numeric: true }, fmtDate(g.end)];
      }), "Live grants of the borough's services ending soon"));
    } else {
      append(body, el("p", { text: live.length ? "None of the " + plural(live.length, "live grant", "live grants") + " of the borough's services ends soon." : "No live grant of the borough's services is recorded." }));
    }
  }

  /* Was the money decided before the period it funds began? (/funding/timeliness: the
   * rule in words, the undated awards counted apart, never as on time.) */
  function renderTimeliness(data) {
    var body = clear(panel("timeliness"));
    if (!data || data.unavailable || !data.totals) { unavailable(body, "Timeliness figures unavailable.", data && data.problem); return; }
    var t = data.totals;
    append(body, el("p", { class: "total", "data-late": t.late_awards, "data-dated": t.dated_awards, "data-undated": t.undated_awards },
      el("strong", { text: whole.format(t.late_awards) + " of " + plural(t.dated_awards, "dated award", "dated awards") }),
      " decided late" + (t.late_awards ? " (" + fmtMoney(t.late_amount) + "; worst " + plural(t.worst_days, "day", "days") + " after its period began)" : "") +
      "; " + plural(t.undated_awards, "award", "awards") + " undated (no decision date: not counted as on time)."));
    var area = data.filters && data.filters.area;
    if (area && area.name) {
      append(body, el("p", { class: "note scope", text: "Over every award reaching " + area.name +
        ": its own, those it shares and London-wide or BCU-wide ones (the comparison with similar boroughs counts its awards alone)." }));
    }
    append(body, el("p", { class: "note rule-words", text: "Late means decided after the period the award funds began (its start date, or 1 April of its financial year)." +
      (data.period && data.period.earliest_start ? " Periods starting " + fmtDate(data.period.earliest_start) + " to " + fmtDate(data.period.latest_start) + "." : "") }));
    var rows = (data.groups || []).filter(function (g) { return g.awards; });
    if (rows.length) {
      append(body, scrollTable(["Programme", "Late", "Dated", "Undated", "Worst (days)"], rows.map(function (g) {
        return [groupLabel(g), { text: whole.format(g.late_awards), value: g.late_awards, numeric: true },
          { text: whole.format(g.dated_awards), value: g.dated_awards, numeric: true },
          { text: whole.format(g.undated_awards), value: g.undated_awards, numeric: true },
          { text: g.worst_days === null ? "—" : whole.format(g.worst_days), value: g.worst_days, numeric: true }];
      }), "Awards decided after their period began, by programme", "data timeliness"));
    }
    var how = notesFrom(data);
    if (how) append(body, how);
  }

  function renderThemes(patch) {
    var body = clear(panel("theme"));
    var counts = {};
    var services = (patch && patch.services && patch.services.contents) || [];
    services.forEach(function (svc) {
      (svc.themes || []).forEach(function (t) {
        var name = t.name || t;
        counts[name] = (counts[name] || 0) + 1;
      });
    });
    var names = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || a.localeCompare(b); });
    if (!names.length) { append(body, el("p", { text: "No service recorded." })); return; }
    append(body, barChart({
      key: "themes", title: "Services by theme", width: panelWidth(body), headers: ["Theme", "Services"],
      rows: names.map(function (n) { return { label: n, value: counts[n], display: plural(counts[n], "service", "services") }; }),
    }));
  }

  /* "Awards reaching <area>": the patch's awards (live, or ended within the last 12 months,
     whether or not they fund a listed service) as a table, with the API's full list linked. */
  function renderAwards(body, heading, awards, name) {
    clear(body);
    heading.textContent = "Awards reaching " + name;
    if (!awards || !Array.isArray(awards.contents)) { unavailable(body, "Awards unavailable."); return; }
    var list = awards.contents;
    append(body, el("p", { class: "total", "data-total": awards.total },
      el("strong", { text: plural(awards.total || 0, "award", "awards") }),
      " live on " + fmtDate(awards.live_on) + " or ended since " + fmtDate(awards.ended_since) +
      (awards.total > list.length ? "; the newest " + whole.format(list.length) + " are listed" : "") + "."));
    if (list.length) {
      var table = scrollTable(["Funder", "Recipient", "Programme", "Amount", "Dates"], list.map(function (g) {
        var dates = fmtSpan(g.start, g.end) + " (" + (g.status === "unknown" ? "status unknown" : g.status) + ")";
        return [g.demo ? [g.funder.name, " ", demoTag(g)] : g.funder.name, g.recipient.name,
          g.programme ? g.programme.name : "—", { text: fmtMoney(g.amount), value: g.amount, numeric: true }, dates];
      }), "Awards reaching " + name + ", newest first", "awards-table");
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr, i) {
        tr.setAttribute("data-ref", list[i].ref);
        tr.setAttribute("data-demo", isDemo(list[i]) ? "yes" : "no");
        tr.setAttribute("data-scope", list[i].scope);
      });
      append(body, table);
    }
    append(body, el("p", { class: "links" }, el("a", { class: "all-awards", href: awards.all_url, text: "Every award reaching " + name + " (API)" })));
    if (awards.programmes && awards.programmes.counted === "community_safety") {
      append(body, el("p", { class: "note", text: "Community-safety programmes only." }));
    }
  }

  /* One line under the dashboard's heading: its funding panels count community-safety
     programmes only (the API's default), and the other grants reaching the borough are
     named with their money, from the same answer's programmes member. */
  function renderScope(summary, borough) {
    var line = $("dashboard-scope");
    if (!line) {
      line = el("p", { id: "dashboard-scope", class: "note" });
      $("dashboard-note").insertAdjacentElement("afterend", line);
    }
    var scope = summary && !summary.unavailable ? summary.programmes : null;
    if (!scope || scope.counted !== "community_safety") { line.textContent = ""; line.hidden = true; return; }
    var other = scope.other_programmes || { awards: 0, amount: 0 };
    line.hidden = false;
    line.setAttribute("data-other-amount", other.amount);
    line.setAttribute("data-other-awards", other.awards);
    line.textContent = "Community-safety programmes only; other grants reaching " + borough.name + ": " +
      fmtMoney(other.amount) + " in " + plural(other.awards, "award", "awards") + ", not counted here.";
  }

  /* Practice notes of services in the borough: the newest few, each a link to the note. */
  function renderPractice(page, borough) {
    var body = clear(panel("practice"));
    if (!page || page.unavailable) { append(body, el("p", { class: "unavailable", text: "Practice notes unavailable." })); return; }
    if (!page.contents.length) { append(body, el("p", { class: "none", text: "No practice note yet for services in " + borough.name + "." })); return; }
    append(body, practiceList(page.contents.map(function (n) {
      return { id: n.id, title: n.title + " – " + n.service.name, published_at: n.published_at };
    }), "borough-practice"));
    append(body, el("p", { class: "links" }, el("a", { href: API + "/practice?" + qs({ area: borough.code }),
      text: plural(page.total_items, "practice note", "practice notes") + " in " + borough.name + " (API)" })));
  }

  /* Does the money track crime? The borough's share of each programme-year's money beside its
   * share of recorded offences (among the boroughs the programme funded that year), and any
   * pair in its BCU where a borough with more offences got less (/programmes/{id}/fairness). */
  function loadFairness(summary, borough, token) {
    var body = clear(panel("fairness"));
    var section = $("panel-fairness");
    section.removeAttribute("data-state");
    var ids = ((summary && !summary.unavailable && summary.groups) || [])
      .filter(function (g) { return g.programme && g.programme.id; })
      .map(function (g) { return g.programme.id; }).slice(0, 12);
    if (!ids.length) {
      append(body, el("p", { text: "No programme reaches " + borough.name + "." }));
      section.setAttribute("data-state", "ready");
      return Promise.resolve();
    }
    append(body, el("p", { class: "loading", text: "Loading…" }));
    return Promise.all(ids.map(function (id) {
      return getOptional("/programmes/" + encodeURIComponent(id) + "/fairness");
    })).then(function (answers) {
      if (token !== state.token) return;
      renderFairness(clear(body), answers.filter(function (a) { return a && !a.unavailable; }), borough);
      section.setAttribute("data-state", "ready");
    });
  }

  /* A within-BCU pair in words: the borough with more offences that got less. */
  function pairText(p) {
    return p.borough.area.name + " (" + whole.format(p.borough.offences) + " offences) got " + fmtMoney(p.borough.amount) +
      ", less than " + p.neighbour.area.name + " in " + areaLabel(p.bcu) + " (" + whole.format(p.neighbour.offences) +
      " offences, " + fmtMoney(p.neighbour.amount) + ").";
  }
  function fmtShare(x) { return x === null || x === undefined ? "—" : number.format(x * 100) + "%"; }
  function fmtGap(x) { return (x > 0 ? "+" : "") + fmtShare(x); }
  function fmtSpearman(c) { return c.spearman === null ? "n/a (" + c.n + ")" : number.format(c.spearman) + " (" + c.n + ")"; }

  function renderFairness(body, answers, borough) {
    var rows = [], pairs = [], periods = {}, method = null;
    answers.forEach(function (f) {
      (f.years || []).forEach(function (y) {
        var mine = (y.boroughs || []).filter(function (b) { return b.area.code === borough.code; })[0];
        if (mine) {
          method = f.method;
          periods[y.offences.note] = true;
          rows.push([el("a", { class: "programme-link", href: location.pathname + location.search + programmeFragment({ id: f.programme.id, financial_year: y.financial_year }), text: f.programme.name }), y.financial_year, { text: fmtMoney(mine.amount), value: mine.amount, numeric: true },
            { text: fmtShare(mine.money_share), value: mine.money_share, numeric: true },
            { text: fmtShare(mine.offences_share), value: mine.offences_share, numeric: true },
            { text: fmtGap(mine.gap), value: mine.gap, numeric: true }, fmtSpearman(y.correlation)]);
        }
        (y.within_bcu || []).forEach(function (p) {
          if (p.borough.area.code !== borough.code && p.neighbour.area.code !== borough.code) return;
          method = f.method;
          pairs.push(f.programme.name + " " + y.financial_year + ": " + pairText(p));
          periods[y.offences.note] = true;
        });
      });
    });
    if (!rows.length && !pairs.length) {
      append(body, el("p", { text: "No programme-year placed money in " + borough.name + " beside other boroughs, and no borough in its BCU got less despite more offences." }));
      return;
    }
    if (rows.length) {
      append(body, scrollTable(["Programme", "Year", "Money", "Share of money", "Share of offences", "Gap", "Spearman (boroughs)"], rows,
        borough.name + "'s share of each programme-year's money beside its share of recorded offences (among the boroughs funded that year)", "data fairness"));
    }
    if (pairs.length) {
      append(body, el("h4", { text: "More offences, less money, within the BCU" }));
      append(body, el("ul", { class: "facts-list fairness-pairs" }, pairs.map(function (t) { return el("li", { text: t }); })));
    }
    append(body, notesFrom({ rule: method, notes: Object.keys(periods) }));
  }

  function loadDashboard(borough, patch, token) {
    $("dashboard-heading").textContent = "Borough dashboard: " + borough.name;
    $("dashboard-note").textContent = "Funding and services for the whole borough of " + borough.name + ".";
    ["programme", "year", "need", "comparison", "length", "ending", "timeliness", "theme", "awards", "practice", "fairness"].forEach(function (p) {
      append(clear(panel(p)), el("p", { class: "loading", text: "Loading…" }));
    });
    var area = borough.code;
    var boroughPatch = patch && patch.area && patch.area.code === area
      ? Promise.resolve(patch)
      : getJSON("/patch?" + qs({ area: area, per_page: 1000 })).catch(function () { return null; });
    return Promise.all([
      getOptional("/funding/summary?" + qs({ by: "programme", area: area })),
      getOptional("/funding/summary?" + qs({ by: "financial_year", area: area })),
      getOptional("/funding/need?" + qs({ level: "borough" })),
      boroughPatch,
      getOptional("/practice?" + qs({ area: area, per_page: 5 })),
      getOptional("/funding/timeliness?" + qs({ by: "programme", area: area })),
      getOptional("/areas/" + encodeURIComponent(area) + "/comparison"),
    ]).then(function (r) {
      if (token !== state.token) return;
      renderScope(r[0], borough);
      renderProgramme(r[0], r[3]);
      renderYear(r[1]);
      renderNeed(r[2], borough);
      renderComparison(r[6], borough);
      renderLengths(r[0], r[3]);
      renderEnding(r[0], r[3]);
      renderTimeliness(r[5]);
      renderThemes(r[3]);
      renderAwards(panel("awards"), $("h-awards"), r[3] && r[3].awards, borough.name);
      renderPractice(r[4], borough);
      loadFairness(r[0], borough, token);
      nameDisclosures(document.body);
      $("dashboard").setAttribute("data-state", "ready");
      if (window.performance && performance.mark) performance.mark("dashboard-drawn");
    });
  }

  /* ---------- running a search ---------- */

  function boundary(code) {
    return getJSON("/areas/" + encodeURIComponent(code) + "/boundary?simplify=20").catch(function () { return null; });
  }

  function run(params, push) {
    var token = ++state.token;
    var results = $("results");
    hideProblem();
    results.setAttribute("data-state", "loading");
    $("dashboard").removeAttribute("data-state");
    var mode = params.postcode ? "postcode" : "area";
    var query = mode === "postcode" ? { postcode: params.postcode } : { area: params.area };
    $(mode === "postcode" ? "borough" : "postcode").value = "";  // one search at a time shown
    ["postcode", "borough"].forEach(function (id) { markBox(id, false); });
    say(mode === "postcode" ? "Looking up " + params.postcode + "…" : "Loading the borough…");
    state.patchKey = qs(query);
    // until this patch comes, the borough list (if it comes first) shows none for a
    // postcode, and the address's area for an area: not the previous patch's borough
    state.shownArea = mode === "postcode" ? "" : null;
    if (push) history.pushState(query, "", "?" + qs(query) + sectionHash());
    return getJSON("/patch?" + qs(Object.assign({ per_page: 1000 }, query))).then(function (patch) {
      if (token !== state.token) return;
      results.hidden = false;
      skipTo(true);
      var main = mode === "postcode" ? patch.ward || patch.borough : patch.area || patch.borough;
      var mainName = main ? main.name : "this patch";
      renderFacts(patch, mode);
      renderLinks((main && main.code) || "", mainName);
      renderContacts(patch);
      renderOpportunities(patch);
      renderServices(patch);
      renderAwards($("awards-body"), $("awards-heading"), patch.awards, mainName);
      // a borough's own view: its dashboard lists the same awards (shown once, not twice)
      $("awards").hidden = mode === "area" && !!patch.borough && !!main && main.code === patch.borough.code;
      var sites = collectSites(patch.services.contents);
      renderSiteList(sites);
      document.title = mainName + " – What is funded in my patch?";
      // the borough list shows the borough shown ("?area=Lambeth" by name included)
      var shown = mode === "area" ? patch.area || patch.borough : null;
      state.shownArea = shown ? shown.code : "";
      if (shown && Array.prototype.some.call($("borough").options, function (o) { return o.value === shown.code; })) $("borough").value = shown.code;
      // boundaries: the ward (or the area asked for) and, around a ward, its borough
      var codes = [main && main.code];
      if (patch.borough && main && main.code !== patch.borough.code) codes.push(patch.borough.code);
      var drawn = Promise.all(codes.filter(Boolean).map(boundary)).then(function (features) {
        if (token !== state.token) return;
        var map = ensureMap();
        if (!map) { $("map").textContent = "The map library did not load; the sites are listed below."; }
        clearMap();
        var layers = features.map(function (f, i) { return drawBoundary(f, i === 0 ? "main" : "context"); });
        var you = mode === "postcode" && typeof patch.lat === "number" ? { lat: patch.lat, lon: patch.lon, label: patch.postcode } : null;
        var points = drawPoints(you, sites);
        $("map-key").textContent = "Key: solid outline = " + (main ? main.name : "the area") +
          (layers.length > 1 ? "; dashed outline = " + patch.borough.name : "") +
          (you ? "; red square = your postcode (" + you.label + ")" : "") +
          (sites.length ? "; numbered circles = delivery sites, listed below the map" : "; no delivery site to show") +
          (sites.some(function (s) { return s.demo; }) ? "; a dashed circle is a demo record (its popup says Demo)" : "") + ".";
        fitMap(layers.slice(0, 1), points);
        results.setAttribute("data-state", "ready");
        if (window.performance && performance.mark) performance.mark("patch-drawn");
      });
      say((mode === "postcode" ? patch.postcode + ": " : "") + [patch.ward && patch.ward.name, patch.borough && patch.borough.name, patch.bcu ? patch.bcu.name + " BCU" : null].filter(Boolean).join(", ") +
        ". " + plural(patch.services.total_items, "service serves", "services serve") + " this patch.");
      var dash = patch.borough ? loadDashboard(patch.borough, patch, token) : Promise.resolve(hideDashboard());
      return Promise.all([drawn, dash]);
    }).catch(function (problem) {
      if (token !== state.token) return;
      results.hidden = true;
      results.removeAttribute("data-state");
      state.shownArea = "";
      document.title = START_TITLE;  // not the previous area's, over a problem
      skipTo(false);
      if (problem instanceof ApiProblem && (problem.status === 404 || problem.status === 422)) {
        // the box searched by is what was not found: marked, and tied to the problem's words
        markBox(mode === "postcode" ? "postcode" : "borough", true);
      }
      if (problem instanceof ApiProblem) showProblem(problem);
      else showProblem(new ApiProblem(0, { title: "Something went wrong", detail: String(problem && problem.message || problem) }));
    });
  }

  function hideDashboard() {
    $("dashboard-heading").textContent = "Dashboard";
    $("dashboard-note").textContent = "The dashboard is shown for a borough.";
    $("h-awards").textContent = "Awards reaching the borough";
    if ($("dashboard-scope")) { $("dashboard-scope").textContent = ""; $("dashboard-scope").hidden = true; }
    ["programme", "year", "need", "comparison", "length", "ending", "timeliness", "theme", "awards", "practice", "fairness"].forEach(function (p) { clear(panel(p)); });
  }

  function fromLocation(push) {
    var params = new URLSearchParams(location.search);
    var postcode = tidyPostcode(params.get("postcode"));
    var area = (params.get("area") || "").trim();
    var key = postcode ? qs({ postcode: postcode }) : area ? qs({ area: area }) : null;
    if (!push && key !== null && key === state.patchKey) return null;  // the partners changed
    if (postcode) { $("postcode").value = postcode; return run({ postcode: postcode }, push); }
    if (area) { $("borough").value = area; return run({ area: area }, push); }
    if (state.patchKey !== null) resetPatch();  // Back to "/"
    return null;
  }

  /* The page as it opens: no patch shown (Back to the start address showed the previous
     patch's results, status and title under an address that names none). */
  /* A search box marked as what found nothing (aria-invalid, described by the problem as
     well as by its own hint), or back as it was. */
  var BOX_HINTS = {};
  function markBox(id, invalid, problemId) {
    var box = $(id), problem = problemId || "problem";
    if (!(id in BOX_HINTS)) BOX_HINTS[id] = box.getAttribute("aria-describedby") || "";
    var hint = BOX_HINTS[id];
    if (invalid) box.setAttribute("aria-invalid", "true");
    else box.removeAttribute("aria-invalid");
    var described = invalid ? (hint ? hint + " " + problem : problem) : hint;
    if (described) box.setAttribute("aria-describedby", described);
    else box.removeAttribute("aria-describedby");
  }

  /* "Skip to results" goes to the results once there are some, else to the search. */
  function skipTo(shown) {
    var skip = document.querySelector("a.skip");
    if (!skip) return;
    skip.setAttribute("href", shown ? "#results" : "#postcode");
    skip.textContent = shown ? "Skip to results" : "Skip to the search";
  }

  function resetPatch() {
    state.token++;  // an answer still on its way is not shown
    state.patchKey = null;
    state.shownArea = "";
    var results = $("results");
    results.hidden = true;
    results.removeAttribute("data-state");
    hideProblem();
    hideDashboard();
    $("dashboard").removeAttribute("data-state");
    $("postcode").value = "";
    $("borough").value = "";
    markBox("postcode", false);
    markBox("borough", false);
    document.title = START_TITLE;
    skipTo(false);
    say("");
  }

  /* ---------- finding partners ---------- */

  /* The partners search is kept in the fragment, #partners?theme=<id>&postcode=<postcode>,
   * beside the patch's ?postcode= or ?area=, so either can be linked and both come back. */
  var PARTNERS_HASH = "#partners?";
  var PARTNERS_PER_PAGE = 50;

  function partnersHash() { return hashWith(PARTNERS_HASH); }
  /* The fragment of the partners search or the programme shown, kept when the patch changes. */
  function sectionHash() { return partnersHash() || programmeHash(); }

  function partnersFromHash() {
    var params = hashParams(PARTNERS_HASH);
    if (!params) return null;
    var found = { theme: (params.get("theme") || "").trim(), postcode: tidyPostcode(params.get("postcode")) };
    return found.theme || found.postcode ? found : null;
  }

  function sayPartners(text) { $("partners-status").textContent = text; }
  function showPartnersProblem(problem) {
    fillProblem($("partners-problem"), problem);
    sayPartners("");
  }
  function themeName(id) { return state.themes[id] || id; }
  /* The partners form's field a problem is about (its code names the postcode or the
     theme), marked invalid and described by the problem; the other back as it was. */
  function markPartnerField(id) {
    ["partner-theme", "partner-postcode"].forEach(function (field) { markBox(field, field === id, "partners-problem"); });
  }
  function partnerFieldOf(problem) {
    var body = (problem && problem.body) || {}, code = body.code || "", errors = body.errors || {};
    if (code.indexOf("theme") >= 0 || "theme" in errors) return "partner-theme";
    if (/postcode|outside/.test(code) || "postcode" in errors) return "partner-postcode";
    return null;
  }
  /* What a partners search lacks, in the page's words ([field, title, detail]), or null. */
  function partnersMissing(params) {
    if (!params.theme) return ["partner-theme", "Choose a theme", "Pick the theme of the work from the list, then choose Find partners."];
    if (!params.postcode) return ["partner-postcode", "Enter a postcode", "Type the London postcode where the work is, for example SW2 1RW."];
    return null;
  }
  /* A partners search refused before it is asked: said in the page's words, its field
     marked and focused, and the results of an earlier search hidden (they were for other
     values; an answer still on its way is for that search too). */
  function refusePartners(missing) {
    ++state.partnersToken;
    state.partnersKey = null;
    $("partners-results").hidden = true;
    $("partners").setAttribute("data-state", "problem");
    markPartnerField(missing[0]);
    askFor(showPartnersProblem, missing[0], missing[1], missing[2]);
  }

  function loadThemes() {
    var select = $("partner-theme");
    state.themesReady = getJSON("/themes").then(function (page) {
      page.contents.forEach(function (theme) { state.themes[theme.id] = theme.name; });
      fillSelect(select, "Choose a theme", page.contents);
      var wanted = partnersFromHash();
      if (wanted && wanted.theme) select.value = wanted.theme;
    }).catch(function (problem) {
      fillSelect(select, "Themes unavailable", []);
      showPartnersProblem(problem);
    });
    return state.themesReady;
  }

  /* Why an organisation is listed, in words. */
  function reasonText(reason, postcode) {
    switch (reason.reason) {
      case "shared_themes": return "Themes in common: " + (reason.themes || []).map(themeName).join(", ");
      case "same_borough": return "Works in the same borough: " + (reason.areas || []).map(areaName).join(", ");
      case "neighbouring_borough": return "Works in a neighbouring borough: " + (reason.areas || []).map(function (a) {
        return a.name + (a.relation === "across_water" ? " (across the Thames)" : "");
      }).join(", ");
      case "london_wide": return "Works across London";
      case "sites_nearby": return "Has a delivery site " + fmtDistance(reason.distance_m) + (postcode ? " from " + postcode : " away");
      case "shared_funders": return "Funded by the same funders: " + (reason.funders || []).join(", ");
      default: return humanise(reason.reason);
    }
  }

  function renderPartners(body, params) {
    var list = clear($("partner-list"));
    var more = clear($("partners-more"));
    var page = body.partners;
    var contents = page.contents || [];
    var theme = themeName(params.theme);
    var boroughs = ((body.subject && body.subject.boroughs) || []).map(areaName).join(", ");
    var where = params.postcode + (boroughs ? " (" + boroughs + ")" : "");
    $("partners-found").textContent = "Partners for " + theme + " near " + where;
    list.hidden = !contents.length;
    if (!contents.length) {
      append(more, el("p", { class: "none", text: "No organisation in the directory works on " + theme + " in " +
        (boroughs || "that borough") + ", a neighbouring borough or across London. Try another theme." }));
      if (body.note) append(more, el("p", { class: "note", text: body.note }));
    }
    contents.forEach(function (partner, i) {
      var org = partner.organisation;
      var ways = contactLinks(partner.contact);
      append(list, el("li", { class: "partner", "data-organisation": org.id, "data-rank": i + 1, "data-score": partner.score, "data-demo": isDemo(partner) ? "yes" : "no" },
        el("div", { class: "partner-head" }, el("h4", { text: org.name }), demoTag(partner)),
        el("p", { class: "kind", text: [org.type ? humanise(org.type).replace(/^./, function (c) { return c.toUpperCase(); }) : null,
          plural(partner.services, "listed service", "listed services"), "score " + whole.format(partner.score)].filter(Boolean).join(" · ") }),
        el("ul", { class: "reasons", "aria-label": "Why " + org.name + " is listed" }, (partner.reasons || []).map(function (r) {
          return el("li", { class: "reason", "data-reason": r.reason, text: reasonText(r, params.postcode) });
        })),
        ways.length
          ? el("p", { class: "contact" }, "Contact: ", ways.map(function (w, j) { return j ? [" · ", w] : w; }))
          : el("p", { class: "contact none", text: "No public contact recorded." }),
        el("p", { class: "links" }, el("a", { class: "organisation-link", href: partner.url, text: "Its services and grants (API)" }))));
    });
    if (page.total_items > contents.length) {
      append(more, el("p", { class: "note", text: "The first " + whole.format(contents.length) + " of " + whole.format(page.total_items) + " are listed; " },
        el("a", { href: API + "/partners?" + qs({ theme: params.theme, postcode: params.postcode, per_page: 100 }), text: "the full list (API)" }), "."));
    }
    if (contents.some(isDemo)) {
      append(more, el("p", { class: "note", text: "Labelled Demo: every listed service the organisation runs is a demo record (illustrative), so the match is too." }));
    }
    append(more, notesFrom({ ranking: body.ranking }));
    sayPartners(plural(page.total_items, "organisation", "organisations") + " found for " + theme + " near " + where + ".");
  }

  function runPartners(params, push) {
    var token = ++state.partnersToken;
    var results = $("partners-results");
    state.partnersKey = qs(params);
    hideProblem("partners-problem");
    markPartnerField(null);
    $("partners").setAttribute("data-state", "loading");
    $("partner-postcode").value = params.postcode;
    if (push) history.pushState(history.state, "", location.pathname + location.search + PARTNERS_HASH + qs(params));
    return (state.themesReady || Promise.resolve()).then(function () {
      if (token !== state.partnersToken) return null;
      if (params.theme && state.themes[params.theme]) $("partner-theme").value = params.theme;
      sayPartners("Looking for partners on " + themeName(params.theme) + " near " + params.postcode + "…");
      return getJSON("/partners?" + qs({ theme: params.theme, postcode: params.postcode, per_page: PARTNERS_PER_PAGE })).then(function (body) {
        if (token !== state.partnersToken) return;
        renderPartners(body, params);
        results.hidden = false;
        nameDisclosures(document.body);
        $("partners").setAttribute("data-state", "ready");
      });
    }).catch(function (problem) {
      if (token !== state.partnersToken) return;
      results.hidden = true;
      $("partners").setAttribute("data-state", "problem");
      markPartnerField(partnerFieldOf(problem));
      if (problem instanceof ApiProblem) showPartnersProblem(problem);
      else showPartnersProblem(new ApiProblem(0, { title: "Something went wrong", detail: String(problem && problem.message || problem) }));
    });
  }

  function partnersFromLocation(first) {
    var params = partnersFromHash();
    if (!params || qs(params) === state.partnersKey) return null;
    if (first && !location.search) $("partners").scrollIntoView();
    var canonical = PARTNERS_HASH + qs(params);  // a typed link's postcode as the page writes it
    if (location.hash !== canonical) history.replaceState(history.state, "", location.pathname + location.search + canonical);
    var missing = partnersMissing(params);
    if (missing) {  // a link without a theme or a postcode: the form as the link has it, and what it lacks
      $("partner-postcode").value = params.postcode;
      return (state.themesReady || Promise.resolve()).then(function () {
        $("partner-theme").value = state.themes[params.theme] ? params.theme : "";
        refusePartners(missing);
      });
    }
    return runPartners(params, false);
  }

  /* ---------- one programme: where its money went, against recorded crime ---------- */

  /* The programme shown is kept in the fragment, #programme? followed by the id and financial_year,
   * like the partners search, so a programme-year can be linked (the dashboard does). */
  var PROGRAMME_HASH = "#programme?";

  /* The page's own address of a programme-year (read only by this page, never the API). */
  function programmeFragment(params) {
    return PROGRAMME_HASH + new URLSearchParams({ id: params.id, financial_year: params.financial_year || "" }).toString();
  }

  function programmeHash() { return hashWith(PROGRAMME_HASH); }

  function programmeFromHash() {
    var params = hashParams(PROGRAMME_HASH);
    if (!params) return null;
    var id = (params.get("id") || "").trim();
    return id ? { id: id, financial_year: (params.get("financial_year") || "").trim() } : null;
  }

  function sayProgramme(text) { $("programme-status").textContent = text; }
  function showProgrammeProblem(problem) { fillProblem($("programme-problem"), problem); sayProgramme(""); }

  function loadProgrammes() {
    var select = $("programme-select");
    state.programmesReady = getJSON("/programmes?" + qs({ per_page: 100 })).then(function (page) {
      page.contents.forEach(function (p) { state.programmes[p.id] = p; });
      fillSelect(select, "Choose a programme", page.contents);
      var wanted = programmeFromHash();
      if (wanted && state.programmes[wanted.id]) select.value = wanted.id;
    }).catch(function (problem) {
      fillSelect(select, "Programmes unavailable", []);
      showProgrammeProblem(problem);
    });
    return state.programmesReady;
  }

  function fillYears(answer, wanted) {
    var select = clear($("programme-year"));
    var years = answer.years || [];
    select.disabled = !years.length;
    if (!years.length) append(select, el("option", { value: "", text: "No year to compare" }));
    years.forEach(function (y) { append(select, el("option", { value: y.financial_year, text: y.financial_year })); });
    var chosen = years.filter(function (y) { return y.financial_year === wanted; })[0] || years[0] || null;
    if (chosen) select.value = chosen.financial_year;
    return chosen;
  }

  function renderProgrammeFacts(p, answer) {
    $("programme-name").textContent = p ? p.name : answer.programme.name;
    var dl = clear($("programme-facts"));
    function row(term, value) { append(dl, el("div", null, el("dt", { text: term }), el("dd", { text: value }))); }
    if (p) {
      row("Awards", plural(p.awards || 0, "award", "awards") + ", " + fmtMoney(p.amount || 0));
      if (p.financial_years && p.financial_years.first) {
        row("Years", p.financial_years.first === p.financial_years.last ? p.financial_years.first : p.financial_years.first + " to " + p.financial_years.last);
      }
      if (p.allocation) row("Allocated by", humanise(p.allocation) + formulaWords(p.formula_status));
    }
    var id = encodeURIComponent(answer.programme.id);
    append(clear($("programme-links")), "As data: ",
      el("a", { href: API + "/programmes/" + id, text: "the programme (API)" }), " · ",
      el("a", { href: API + "/programmes/" + id + "/fairness", text: "money against crime (API)" }), " · ",
      el("a", { href: API + "/grants?" + qs({ programme: answer.programme.id }), text: "its grants (API)" }));
  }

  function placeList(title, cls, entries) {
    if (!entries || !entries.length) return null;
    return [el("h5", { text: title }), el("ul", { class: "facts-list " + cls }, entries.map(function (b) {
      return el("li", { text: b.area.name + ": " + fmtShare(b.money_share) + " of the money (" + fmtMoney(b.amount) + "), " +
        fmtShare(b.offences_share) + " of the offences, gap " + fmtGap(b.gap) + "." });
    }))];
  }

  /* One programme-year: each borough's share of the money beside its share of offences and
   * population, the rank correlation, the furthest below and above, and the within-BCU pairs. */
  function renderProgrammeYear(body, answer, y) {
    var section = $("programme-fairness");
    if (!y) {
      append(body, el("p", { class: "none", text: "There is no financial year to compare: " +
        ((answer.notes && answer.notes[0]) || "the programme placed no money in boroughs with recorded-crime figures.") }));
      append(body, notesFrom({ rule: answer.method }));
      section.setAttribute("data-year", "");
      return;
    }
    section.setAttribute("data-year", y.financial_year);
    var m = y.money || {};
    var elsewhere = [["London-wide", m.london_wide], ["BCU-wide", m.bcu_wide], ["not placed", m.unplaced]]
      .filter(function (x) { return x[1] > 0; }).map(function (x) { return fmtMoney(x[1]) + " " + x[0]; });
    append(body, el("p", { class: "total", text: y.financial_year + ": " + fmtMoney(m.compared) + " compared across " +
      plural((y.boroughs || []).length, "borough", "boroughs") + " (" + plural(m.awards || 0, "award", "awards") + ")" +
      (elsewhere.length ? "; also " + elsewhere.join(", ") + ", in no borough's figure." : ".") }));
    append(body, el("p", { class: "spearman", "data-spearman": y.correlation.spearman === null ? "" : y.correlation.spearman,
      text: "Rank correlation of money with offences (Spearman): " + fmtSpearman(y.correlation) + ". " + (y.correlation.note || "") }));
    var rows = (y.boroughs || []).map(function (b) {
      return [b.area.name, b.bcu ? b.bcu.name : "—", { text: fmtMoney(b.amount), value: b.amount, numeric: true },
        { text: fmtShare(b.money_share), value: b.money_share, numeric: true },
        { text: fmtShare(b.offences_share), value: b.offences_share, numeric: true },
        { text: fmtShare(b.population_share), value: b.population_share, numeric: true },
        { text: fmtGap(b.gap), value: b.gap, numeric: true },
        { text: whole.format(b.offences), value: b.offences, numeric: true },
        { text: number.format(b.rank.money) + " / " + number.format(b.rank.offences), value: b.rank.money, numeric: true }];
    });
    if (rows.length) {
      append(body, scrollTable(["Borough", "BCU", "Money", "Share of money", "Share of offences", "Share of population", "Gap", "Offences", "Rank: money / offences"],
        rows, "Each borough's share of " + y.financial_year + "'s money beside its share of recorded offences and of population (among the boroughs compared)", "data programme-fairness"));
    }
    append(body, placeList("Furthest below their share of offences", "fairness-below", y.furthest_below));
    append(body, placeList("Furthest above their share of offences", "fairness-above", y.furthest_above));
    append(body, el("h5", { text: "More offences, less money, within the BCU" }));
    append(body, (y.within_bcu || []).length
      ? el("ul", { class: "facts-list fairness-pairs" }, y.within_bcu.map(function (p) { return el("li", { text: pairText(p) }); }))
      : el("p", { class: "none fairness-pairs", text: "In no BCU did a borough with more recorded offences get less money than a neighbour." }));
    if ((y.not_compared || []).length) {
      append(body, el("h5", { text: "Not compared" }));
      append(body, el("ul", { class: "facts-list fairness-not-compared" }, y.not_compared.map(function (b) {
        return el("li", { text: b.area.name + " (" + fmtMoney(b.amount) + "): " + b.note });
      })));
    }
    append(body, notesFrom({ rule: answer.method, notes: [y.offences.note].concat(answer.notes || []) }));
  }

  function showProgrammeYear(year) {
    var answer = state.fairness;
    if (!answer) return;
    var y = (answer.years || []).filter(function (x) { return x.financial_year === year; })[0] || null;
    renderProgrammeYear(clear($("programme-fairness").querySelector(".body")), answer, y);
  }

  function runProgramme(params, push) {
    var token = ++state.programmeToken;
    state.programmeKey = programmeFragment(params);
    hideProblem("programme-problem");
    $("programme").setAttribute("data-state", "loading");
    if (push) history.pushState(history.state, "", location.pathname + location.search + programmeFragment(params));
    return (state.programmesReady || Promise.resolve()).then(function () {
      if (token !== state.programmeToken) return null;
      var p = state.programmes[params.id] || null;
      if (p) $("programme-select").value = params.id;
      sayProgramme("Loading " + (p ? p.name : params.id) + "…");
      return getJSON("/programmes/" + encodeURIComponent(params.id) + "/fairness").then(function (answer) {
        if (token !== state.programmeToken) return;
        state.fairness = answer;
        renderProgrammeFacts(p, answer);
        var y = fillYears(answer, params.financial_year);
        renderProgrammeYear(clear($("programme-fairness").querySelector(".body")), answer, y);
        $("programme-results").hidden = false;
        nameDisclosures(document.body);
        $("programme").setAttribute("data-state", "ready");
        // a year asked for that has no figures: said, and the address made the year shown
        // (a shared link showed another year without a word, its address keeping the first)
        var missing = params.financial_year && (!y || y.financial_year !== params.financial_year);
        if (missing && y) {
          state.programmeKey = programmeFragment({ id: params.id, financial_year: y.financial_year });
          history.replaceState(history.state, "", location.pathname + location.search + state.programmeKey);
        }
        sayProgramme((p ? p.name : answer.programme.name) + (missing ? ": no figures for " + params.financial_year : "") +
          (y ? (missing ? "; " : ": ") + y.financial_year + " shown." : ": no year to compare."));
      });
    }).catch(function (problem) {
      if (token !== state.programmeToken) return;
      $("programme-results").hidden = true;
      $("programme").setAttribute("data-state", "problem");
      showProgrammeProblem(problem instanceof ApiProblem ? problem
        : new ApiProblem(0, { title: "Something went wrong", detail: String(problem && problem.message || problem) }));
    });
  }

  function programmeFromLocation(first) {
    var params = programmeFromHash();
    if (!params || programmeFragment(params) === state.programmeKey) return null;
    if (first && !location.search) $("programme").scrollIntoView();
    return runProgramme(params, false).then(function () {
      if (!first) $("programme").focus();  // a link followed from the dashboard lands here
    });
  }

  /* ---------- correcting a listing (an editor's API key) ---------- */

  /* The key lives in sessionStorage only: this tab, until it closes; never localStorage
     or a cookie. It is sent only in the Authorization header of this page's requests. */
  var KEY_STORE = "directory.apiKey";
  var editing = { etag: null, service: null, loaded: null };
  var EDIT_FIELDS = ["description", "email", "phone", "website"];

  function storedKey() {
    try { return window.sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }
  function storeKey(value) {
    try {
      if (value) window.sessionStorage.setItem(KEY_STORE, value);
      else window.sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* storage refused: the key is kept for this page view only */ }
    editing.key = value;
  }
  function showKeyState() {
    $("edit-key-status").textContent = editing.key
      ? "A key is in use in this tab." : "No key in use.";
  }
  function editStatus(text) { $("edit-status").textContent = text; }
  function editProblem(status, body) {
    var box = clear($("edit-problem"));
    var lead = {
      401: "The key was not accepted.",
      403: "This key may not change this service.",
      404: "There is no such service.",
      412: "Someone changed this service since you loaded it: load it again and redo your change.",
      422: "Some values were not accepted.",
      428: "Load the service before saving."
    }[status] || ("The directory answered " + status + ".");
    append(box, el("p", { text: lead }));
    if (body && body.detail) append(box, el("p", { text: body.detail }));
    if (body && body.errors) {
      append(box, el("ul", null, Object.keys(body.errors).map(function (name) {
        var messages = body.errors[name];
        return el("li", { text: humanise(name) + ": " + (Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages)) });
      })));
    }
    box.hidden = false;
    editStatus("");
  }
  function clearEditProblem() { clear($("edit-problem")).hidden = true; }

  function loadForEditing(key) {
    clearEditProblem();
    editStatus("Loading…");
    return fetch(API + "/services/" + encodeURIComponent(key), {
      headers: { Accept: "application/json" }, cache: "no-cache"
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) { $("edit-form").hidden = true; editProblem(res.status, body); return; }
        editing.etag = res.headers.get("ETag");
        editing.service = body.ref;
        editing.loaded = {
          description: body.description || "", email: body.contact.email || "",
          phone: body.contact.phone || "", website: body.contact.website || ""
        };
        $("edit-name").textContent = body.name + " (" + body.organisation.name + ")";
        EDIT_FIELDS.forEach(function (name) { $("edit-" + name).value = editing.loaded[name]; });
        $("edit-form").hidden = false;
        editStatus("Loaded " + body.name + ". Change what is wrong, then choose Save changes.");
      });
    }, function () { editProblem(0, { detail: "The directory could not be reached." }); });
  }

  function saveEdits() {
    clearEditProblem();
    if (!editing.key) { editProblem(401, { detail: "Paste your API key above first." }); return null; }
    var changes = {};
    EDIT_FIELDS.forEach(function (name) {
      var value = $("edit-" + name).value.trim();
      if (value !== editing.loaded[name]) changes[name] = value === "" ? null : value;
    });
    if (!Object.keys(changes).length) { editStatus("Nothing changed."); return null; }
    editStatus("Saving…");
    return fetch(API + "/services/" + encodeURIComponent(editing.service), {
      method: "PATCH",
      headers: {
        "Content-Type": "application/json", Accept: "application/json",
        Authorization: "Bearer " + editing.key, "If-Match": editing.etag
      },
      body: JSON.stringify(changes)
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) { editProblem(res.status, body); return; }
        editing.etag = res.headers.get("ETag");
        editing.loaded = {
          description: body.description || "", email: body.contact.email || "",
          phone: body.contact.phone || "", website: body.contact.website || ""
        };
        EDIT_FIELDS.forEach(function (name) { $("edit-" + name).value = editing.loaded[name]; });
        editStatus("Saved: " + Object.keys(changes).map(humanise).join(", ") + " of " + body.name +
                   " changed. The change is in its history and the change feed.");
      });
    }, function () { editProblem(0, { detail: "The directory could not be reached." }); });
  }

  function setupEditing() {
    editing.key = storedKey();
    showKeyState();
    $("edit-key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      storeKey($("edit-key").value.trim());
      $("edit-key").value = "";
      showKeyState();
    });
    $("edit-forget").addEventListener("click", function () { storeKey(""); showKeyState(); });
    $("edit-load-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var key = $("edit-service").value.trim();
      if (key) loadForEditing(key);
    });
    $("edit-form").addEventListener("submit", function (event) {
      event.preventDefault();
      saveEdits();
    });
  }

  /* ---------- your caseload ---------- */

  /* The caseload's code (caseload.js) and, for an XLSX, fflate are fetched only when a
   * reader chooses a file: the page's first load does not carry them. */
  var scripts = {};
  function loadScript(src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var script = el("script", { src: src });
        script.addEventListener("load", resolve);
        script.addEventListener("error", function () {
          delete scripts[src];
          script.remove();
          reject(new ApiProblem(0, { title: "No connection", detail: "Part of this page could not be loaded. Check your connection and try again." }));
        });
        document.head.appendChild(script);
      });
    }
    return scripts[src];
  }

  function setupCaseload() {
    var section = $("caseload"), input = $("caseload-file"), drop = $("caseload-drop"), caseload = null;
    function chosen(file) {
      if (!file) return;
      var needs = [loadScript(section.getAttribute("data-caseload-js"))];
      if (/\.xlsx$/i.test(file.name)) needs.push(loadScript(section.getAttribute("data-zip-js")));
      $("caseload-status").textContent = "Reading " + file.name + "…";
      Promise.all(needs).then(function () {
        caseload = caseload || window.DirectoryCaseload({ el: el, append: append, clear: clear, scrollTable: scrollTable, plural: plural, whole: whole });
        return caseload.open(file);
      }).catch(function (problem) {
        fillProblem($("caseload-problem"), problem);
        $("caseload-status").textContent = "";
      });
    }
    input.addEventListener("change", function () { chosen(input.files[0]); });
    drop.addEventListener("dragover", function (event) { event.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      chosen(event.dataTransfer && event.dataTransfer.files[0]);
    });
  }

  function start() {
    $("postcode-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = tidyPostcode($("postcode").value);
      if (!value) {
        askFor(showProblem, "postcode", "Enter a postcode", "Type a London postcode, for example KT1 1EU.");
        return;
      }
      $("postcode").value = value;
      run({ postcode: value }, true);
    });
    $("borough-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var code = $("borough").value;
      if (!code) {
        askFor(showProblem, "borough", "Choose a borough", "Pick a borough from the list, then choose Show borough.");
        return;
      }
      run({ area: code }, true);
    });
    $("partners-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var params = { theme: $("partner-theme").value, postcode: tidyPostcode($("partner-postcode").value) };
      $("partner-postcode").value = params.postcode;
      var missing = partnersMissing(params);
      if (missing) refusePartners(missing);
      else runPartners(params, true);
    });
    $("programme-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var id = $("programme-select").value;
      if (!id) {
        askFor(showProgrammeProblem, "programme-select", "Choose a programme", "Pick a programme from the list, then choose Show programme.");
        return;
      }
      var same = state.fairness && state.fairness.programme.id === id;
      runProgramme({ id: id, financial_year: same ? $("programme-year").value : "" }, true);
    });
    $("programme-year").addEventListener("change", function (event) {
      if (!state.fairness || state.fairness.programme.id !== $("programme-select").value) return;
      var params = { id: state.fairness.programme.id, financial_year: event.target.value };
      state.programmeKey = programmeFragment(params);
      history.replaceState(history.state, "", location.pathname + location.search + programmeFragment(params));
      showProgrammeYear(event.target.value);
    });
    $("tiles").addEventListener("change", function (event) { setTiles(event.target.checked); });
    window.addEventListener("popstate", function () { fromLocation(false); partnersFromLocation(false); programmeFromLocation(false); });
    window.addEventListener("hashchange", function () { partnersFromLocation(false); programmeFromLocation(false); });
    skipTo(false);  // nothing shown yet: the search
    setupEditing();
    setupCaseload();
    loadBoroughs();
    loadThemes();
    loadProgrammes();
    fromLocation(false);
    partnersFromLocation(true);
    programmeFromLocation(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
