/*! journey-tracker.js v1: first-party events for the Customer Journey Platform (no dependencies).
 *
 * <script src="/tracker.js" data-collector="https://collect.example" data-write-key="..."></script>
 * journey.page(); journey.track("Product Viewed", {product_id: "17"}); journey.identify("1234");
 *
 * - anonymous id: first-party cookie `_journey_aid` (1 year) mirrored in localStorage;
 * - UTM parameters and click ids (fbclid, gclid) of the landing URL kept for the session
 *   (sessionStorage), sent as context.campaign / context.clickIds on every event of the session;
 * - events are batched (flush at `flushAt` events or every `flushInterval` ms) and posted to
 *   /v1/batch with fetch keepalive; on pagehide / hidden the queue goes out with sendBeacon;
 * - the anonymous id is written into the Shopify cart attributes (`_journey_anonymous_id`, via
 *   POST /cart/update.js) so orders can be stitched to sessions.
 */
(function (w, d) {
  "use strict";
  var VERSION = "1";
  var AID = "_journey_aid";
  var CAMPAIGN = "_journey_campaign";
  var CART_SYNCED = "_journey_cart_synced";
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_id: "id",
              utm_content: "content", utm_term: "term" };
  var CLICK_IDS = ["fbclid", "gclid"];
  var cfg = { collector: "", writeKey: "", flushAt: 10, flushInterval: 2000, cartPath: "/cart/update.js" };
  var queue = [];
  var timer = null;
  var userId = null;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function safe(fn, fallback) { try { return fn(); } catch (e) { return fallback; } }
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function writeCookie(name, value) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }

  function anonymousId() {
    var id = readCookie(AID) || safe(function () { return w.localStorage.getItem(AID); }, null);
    if (!id) id = "a-" + uuid();
    writeCookie(AID, id);
    safe(function () { w.localStorage.setItem(AID, id); });
    return id;
  }

  /* UTM + click ids of this URL; when present they replace the session's, else the session's stay. */
  function sessionCampaign() {
    var params = new URLSearchParams(location.search);
    var campaign = {}, clickIds = {}, fresh = false;
    Object.keys(UTM).forEach(function (k) { if (params.get(k)) { campaign[UTM[k]] = params.get(k); fresh = true; } });
    CLICK_IDS.forEach(function (k) { clickIds[k] = params.get(k) || null; if (params.get(k)) fresh = true; });
    if (fresh) {
      var value = { campaign: Object.keys(campaign).length ? campaign : null, clickIds: clickIds };
      safe(function () { w.sessionStorage.setItem(CAMPAIGN, JSON.stringify(value)); });
      return value;
    }
    return safe(function () { return JSON.parse(w.sessionStorage.getItem(CAMPAIGN)); }, null) ||
      { campaign: null, clickIds: { fbclid: null, gclid: null } };
  }

  function deviceType() {
    var ua = navigator.userAgent;
    if (/iPad|Tablet/i.test(ua)) return "tablet";
    if (/Mobi|Android|iPhone/i.test(ua)) return "mobile";
    return "desktop";
  }

  function context() {
    var s = sessionCampaign();
    var ctx = {
      page: { url: location.href, path: location.pathname, referrer: d.referrer || null, title: d.title },
      clickIds: s.clickIds,
      device: { type: deviceType() },
      userAgent: navigator.userAgent,
      library: { name: "journey-tracker.js", version: VERSION }
    };
    if (s.campaign) ctx.campaign = s.campaign;
    return ctx;
  }

  function enqueue(event) {
    event.messageId = uuid();
    event.anonymousId = anonymousId();
    if (userId && !event.userId) event.userId = userId;
    event.timestamp = new Date().toISOString();
    event.context = context();
    queue.push(event);
    if (queue.length >= cfg.flushAt) flush();
    else if (!timer) timer = setTimeout(flush, cfg.flushInterval);
    return event.messageId;
  }

  function payload(batch) {
    var body = { batch: batch, sentAt: new Date().toISOString() };
    if (cfg.writeKey) body.writeKey = cfg.writeKey;
    return JSON.stringify(body);
  }

  /* Send the queue with fetch keepalive; a network failure puts the events back (a 4xx does not). */
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || !cfg.collector) return Promise.resolve(0);
    var batch = queue.splice(0, queue.length);
    return fetch(cfg.collector + "/v1/batch", {
      method: "POST", body: payload(batch), keepalive: true, credentials: "omit",
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      if (r.status >= 500) throw new Error("collector " + r.status);
      return batch.length;
    }).catch(function () {
      queue = batch.concat(queue);
      if (!timer) timer = setTimeout(flush, cfg.flushInterval * 2);
      return 0;
    });
  }

  /* Page is going away: the browser delivers a beacon even after unload. */
  function beacon() {
    if (!queue.length || !cfg.collector) return;
    var batch = queue.splice(0, queue.length);
    var blob = new Blob([payload(batch)], { type: "text/plain" });
    if (!(navigator.sendBeacon && navigator.sendBeacon(cfg.collector + "/v1/batch", blob))) {
      queue = batch.concat(queue);
      flush();
    }
  }

  /* Write the anonymous id into the Shopify cart so the order carries it (once per session and id). */
  function syncCart(force) {
    var id = anonymousId();
    var done = safe(function () { return w.sessionStorage.getItem(CART_SYNCED); }, null);
    if (!force && done === id) return Promise.resolve(false);
    var form = "attributes%5B_journey_anonymous_id%5D=" + encodeURIComponent(id);
    return fetch(cfg.cartPath, {
      method: "POST", credentials: "same-origin", body: form,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" }
    }).then(function (r) {
      if (r.ok) safe(function () { w.sessionStorage.setItem(CART_SYNCED, id); });
      return r.ok;
    }).catch(function () { return false; });
  }

  var journey = {
    init: function (options) {
      for (var k in options) if (Object.prototype.hasOwnProperty.call(options, k)) cfg[k] = options[k];
      cfg.collector = (cfg.collector || "").replace(/\/$/, "");
      syncCart(false);
      return journey;
    },
    page: function (name, properties) {
      return enqueue({ type: "page", name: name || d.title, properties: properties || {} });
    },
    track: function (event, properties) {
      var id = enqueue({ type: "track", event: event, properties: properties || {} });
      if (event === "Product Added") syncCart(true);
      return id;
    },
    identify: function (id, traits) {
      userId = id == null ? null : String(id);
      return enqueue({ type: "identify", userId: userId, traits: traits || {} });
    },
    flush: flush,
    syncCart: syncCart,
    anonymousId: anonymousId
  };

  w.addEventListener("pagehide", beacon);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") beacon(); });
  w.journey = journey;

  var script = d.currentScript;
  if (script && script.getAttribute("data-collector")) {
    journey.init({ collector: script.getAttribute("data-collector"),
                   writeKey: script.getAttribute("data-write-key") || "" });
  }
})(window, document);
