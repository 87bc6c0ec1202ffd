/*! journey-pixel v1: Shopify custom pixel for the Customer Journey Platform (no dependencies).
 *
 * Paste the output of `ingestion.events.pixel.render_pixel(collector_url, write_key)` into
 * Shopify admin > Settings > Customer events > Add custom pixel (docs/events.md, "Shopify Web Pixel").
 * Shopify runs this code in its sandbox with the globals `analytics`, `browser`, `init` and `api`.
 *
 * - maps Shopify's standard checkout events to journey events with MAPPING (mapping.json, inlined): the
 *   same file and the same rules as ingestion/events/pixel/mapping.py, so the Python twin's output is
 *   what this pixel posts (tests/events/test_pixel_browser.py checks it in Chromium);
 * - consent: `init.customerPrivacy`, updated by `api.customerPrivacy` "visitorConsentCollected"; nothing
 *   is sent without analytics consent (events seen before consent wait in memory and leave once it is
 *   given, are dropped if it is refused), and no click ids without marketing consent;
 * - posts to <collector>/v1/batch with fetch keepalive (text/plain: no CORS preflight), the write key in
 *   the body, and retries a network error or a 5xx a few times.
 */
(function (analytics, browser, init, api) {
  "use strict";
  var MAPPING = /*__JOURNEY_MAPPING__*/ null;
  var SETTINGS = /*__JOURNEY_SETTINGS__*/ null;
  var RETRIES = 3;
  var MAX_WAITING = 100;
  var BATCH_SIZE = 10;
  var NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

  function isObj(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function present(v) { return v !== null && v !== undefined && v !== ""; }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  /* -- the value specs of mapping.json (the twin of mapping.py's compile_spec) -- */
  function walk(value, parts) {
    for (var i = 1; i < parts.length; i++) {
      var part = parts[i];
      if (isObj(value)) value = has(value, part) ? value[part] : null;
      else if (Array.isArray(value) && /^\d+$/.test(part) && +part < value.length) value = value[+part];
      else return null;
    }
    return value === undefined ? null : value;
  }
  var CONVERT = {
    number: function (v) {
      if (typeof v === "number") return isFinite(v) ? v : null;
      if (typeof v === "string" && NUMBER.test(v)) { var n = Number(v); return isFinite(n) ? n : null; }
      return null;
    },
    id: function (v) {
      if (typeof v === "number") return Number.isInteger(v) ? String(v) : null;
      if (typeof v !== "string") return null;
      if (v.indexOf("gid://") === 0) { v = v.split("?")[0]; v = v.slice(v.lastIndexOf("/") + 1); }
      return v || null;
    },
    nonempty: function (v) { return v === "" ? null : v; }
  };
  function value(spec, root) {
    if (has(spec, "ref")) return value(MAPPING.fragments[spec.ref], root);
    if (has(spec, "const")) return spec["const"];
    if (has(spec, "path")) {
      var parts = spec.path.split(".");
      var v = walk(has(root, parts[0]) ? root[parts[0]] : null, parts);
      return spec.to ? CONVERT[spec.to](v) : v;
    }
    if (has(spec, "first")) {
      for (var i = 0; i < spec.first.length; i++) { var f = value(spec.first[i], root); if (present(f)) return f; }
      return null;
    }
    if (has(spec, "concat")) {
      var text = "";
      for (var j = 0; j < spec.concat.length; j++) {
        var piece = typeof spec.concat[j] === "string" ? spec.concat[j] : value(spec.concat[j], root);
        if (typeof piece !== "string" || !piece) return null;
        text += piece;
      }
      return text;
    }
    if (has(spec, "each")) {
      var items = value({ path: spec.each }, root);
      if (!Array.isArray(items)) return [];
      return items.map(function (item) { return object(spec.map, scoped(root, item)); });
    }
    if (has(spec, "find")) {
      var list = value({ path: spec.find }, root);
      if (!Array.isArray(list)) return null;
      for (var k = 0; k < list.length; k++) {
        var item = list[k];
        if (isObj(item) && Object.keys(spec.where).every(function (w) { return has(item, w) && item[w] === spec.where[w]; })) {
          return value(spec.take, scoped(root, item));
        }
      }
      return null;
    }
    throw new Error("unknown value spec " + JSON.stringify(spec));
  }
  function scoped(root, item) {
    var out = {};
    for (var k in root) if (has(root, k)) out[k] = root[k];
    out.item = item;
    return out;
  }
  function object(specs, root) {
    var out = {};
    for (var k in specs) if (has(specs, k)) out[k] = value(specs[k], root);
    return out;
  }

  function deviceType(ua) {
    var text = typeof ua === "string" ? ua : "";
    var rules = MAPPING.device.rules;
    for (var i = 0; i < rules.length; i++) if (new RegExp(rules[i].pattern, "i").test(text)) return rules[i].type;
    return MAPPING.device["default"];
  }

  function storedCampaign(storage) {
    var raw = storage[MAPPING.campaign.storage], stored = null;
    if (typeof raw === "string") { try { stored = JSON.parse(raw); } catch (e) { stored = null; } }
    if (!isObj(stored)) stored = {};
    var clicks = isObj(stored.clickIds) ? stored.clickIds : {};
    var clickIds = {};
    MAPPING.campaign.clickIds.forEach(function (n) {
      var v = has(clicks, n) ? clicks[n] : null;
      clickIds[n] = typeof v === "string" && v ? v : null;
    });
    return { campaign: isObj(stored.campaign) ? stored.campaign : null, clickIds: clickIds };
  }

  /* One Shopify event -> our event, or null. The twin of PixelMapping.map in mapping.py. */
  function mapEvent(event, state) {
    var rule = has(MAPPING.events, event.name) ? MAPPING.events[event.name] : null;
    if (!rule) return null;
    var privacy = state.customerPrivacy || {};
    var analyticsOk = privacy[MAPPING.consent.analytics] === true;
    var marketingOk = privacy[MAPPING.consent.marketing] === true;
    if (!analyticsOk) return null;
    var root = {
      event: event,
      checkout: isObj(event.data) && has(event.data, "checkout") ? event.data.checkout : null,
      init: state.init || {},
      cookies: state.cookies || {},
      sessionStorage: state.sessionStorage || {}
    };
    if (rule.when) {
      var w = value({ path: rule.when.path }, root);
      if (typeof w !== "string" || w.indexOf(rule.when.startsWith) !== 0) return null;
    }
    var s = storedCampaign(root.sessionStorage);
    var clickIds = s.clickIds;
    if (!marketingOk) { clickIds = {}; MAPPING.campaign.clickIds.forEach(function (n) { clickIds[n] = null; }); }
    var ua = value(MAPPING.userAgent, root);
    var context = { page: object(MAPPING.page, root), userAgent: ua, device: { type: deviceType(ua) } };
    if (s.campaign) context.campaign = s.campaign;
    context.clickIds = clickIds;
    context.consent = { analytics: analyticsOk, marketing: marketingOk, source: MAPPING.consent.source };
    context.channel = MAPPING.channel;
    context.library = { name: MAPPING.library.name, version: MAPPING.library.version };
    var out = { messageId: value(MAPPING.messageId, root), type: rule.type };
    if (rule.event) out.event = rule.event;
    if (rule.name) out.name = value(rule.name, root);
    out.anonymousId = value(MAPPING.anonymousId, root);
    out.userId = value(MAPPING.userId, root);
    out.timestamp = value(MAPPING.timestamp, root);
    out.properties = object(rule.properties || {}, root);
    out.context = context;
    return out;
  }

  /* -- the runtime: Shopify's sandbox APIs, consent, posting -- */
  if (!MAPPING || !SETTINGS || !analytics) return;
  var collector = String(SETTINGS.collector || "").replace(/\/+$/, "");
  var privacy = (init && init.customerPrivacy) || {};
  var waiting = []; // events seen before consent: memory only, never stored
  var chain = Promise.resolve();

  function allowed() { return privacy[MAPPING.consent.analytics] === true; }

  function read(getter, names) {
    var out = {};
    return Promise.all(names.map(function (name) {
      return Promise.resolve().then(function () { return getter(name); }).then(
        function (v) { out[name] = typeof v === "string" && v ? v : null; },
        function () { out[name] = null; });
    })).then(function () { return out; });
  }

  function state() {
    var cookie = browser && browser.cookie, storage = browser && browser.sessionStorage;
    return Promise.all([
      cookie ? read(function (n) { return cookie.get(n); }, MAPPING.cookies) : {},
      storage ? read(function (n) { return storage.getItem(n); }, MAPPING.sessionStorage) : {}
    ]).then(function (r) {
      return { customerPrivacy: privacy, init: init || {}, cookies: r[0], sessionStorage: r[1] };
    });
  }

  function post(batch, attempt) {
    var body = { batch: batch, sentAt: new Date().toISOString() };
    if (SETTINGS.writeKey) body.writeKey = SETTINGS.writeKey;
    return fetch(collector + "/v1/batch", {
      method: "POST", body: JSON.stringify(body), keepalive: true, credentials: "omit",
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      if (r.status >= 500) throw new Error("collector answered " + r.status);
      if (r.status >= 400) console.warn("journey-pixel: collector refused the batch (" + r.status + ")");
      return r.status;
    }).catch(function (err) {
      if (attempt >= RETRIES) { console.warn("journey-pixel: batch lost after retries", err); return 0; }
      return new Promise(function (resolve) { setTimeout(resolve, 500 * Math.pow(2, attempt)); })
        .then(function () { return post(batch, attempt + 1); });
    });
  }

  /* Map and post in arrival order (one chain), reading cookie and sessionStorage for each batch. */
  function send(events) {
    chain = chain.then(state).then(function (st) {
      var batch = [];
      events.forEach(function (e) {
        try {
          var mapped = mapEvent(e, st);
          if (mapped) batch.push(mapped);
        } catch (err) {
          console.warn("journey-pixel: could not map " + (e && e.name), err);
        }
      });
      // fetch keepalive bodies are capped (64 KB in Chromium): a held backlog leaves in small batches
      var sent = Promise.resolve();
      for (var i = 0; i < batch.length; i += BATCH_SIZE) {
        (function (part) { sent = sent.then(function () { return post(part, 0); }); })(batch.slice(i, i + BATCH_SIZE));
      }
      return sent;
    });
    return chain;
  }

  function receive(event) {
    if (allowed()) return send([event]);
    if (waiting.length < MAX_WAITING) waiting.push(event);
    return chain;
  }

  Object.keys(MAPPING.events).forEach(function (name) { analytics.subscribe(name, receive); });

  var consentApi = api && api.customerPrivacy;
  if (consentApi && consentApi.subscribe) {
    consentApi.subscribe("visitorConsentCollected", function (e) {
      privacy = (e && e.customerPrivacy) || {};
      var held = waiting;
      waiting = [];
      if (allowed() && held.length) send(held);
    });
  }
})(
  typeof analytics !== "undefined" ? analytics : null,
  typeof browser !== "undefined" ? browser : null,
  typeof init !== "undefined" ? init : null,
  typeof api !== "undefined" ? api : null
);
