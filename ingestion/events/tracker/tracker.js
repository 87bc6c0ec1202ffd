/*! journey-tracker.js v2: first-party events for the Customer Journey Platform (no dependencies).
 *
 * Install with the async snippet (snippet.js, docs/events.md "## tracker.js"), or plainly:
 * <script src="/tracker.js" data-collector="https://collect.example" data-write-key="..."
 *         data-consent="opt-in" data-region="DE" data-cookie-domain=".shop.example"></script>
 * journey.page(); journey.track("Product Viewed", {product_id: "17"}); journey.identify("1234", {email});
 *
 * - consent: `journey.consent({analytics, marketing})` records the visitor's choice (cookie
 *   `_journey_consent`); until a choice exists the configured default of the visitor's region applies.
 *   Opt-in and no choice yet: nothing is stored and nothing is sent; calls are held in memory and go
 *   out (with their own timestamps) once analytics is allowed, or are dropped when it is refused.
 *   Marketing refused: no click ids. On Shopify the Customer Privacy API decides (source "shopify").
 * - identity: anonymous id `_journey_aid` and user id `_journey_uid` (first-party cookies, 1 year,
 *   `cookieDomain`, mirrored in localStorage); `reset()` forgets the user and starts a new anonymous id;
 * - UTM parameters and click ids (fbclid, gclid) of the landing URL kept for the session
 *   (sessionStorage `_journey_campaign`), sent as context.campaign / context.clickIds;
 * - events are batched (flush at `flushAt` events or every `flushInterval` ms) and posted to
 *   /v1/batch with fetch keepalive; on pagehide / hidden the queue goes out with sendBeacon; each
 *   batch is announced with a `journey:sent` CustomEvent on window (held events: `journey:held`);
 * - the anonymous id is written into the Shopify cart attributes (`_journey_anonymous_id`, via
 *   POST /cart/update.js) so orders can be stitched to sessions.
 */
(function (w, d) {
  "use strict";
  var VERSION = "2";
  var AID = "_journey_aid";
  var UID = "_journey_uid";
  var CONSENT = "_journey_consent";
  var CAMPAIGN = "_journey_campaign";
  var CART_SYNCED = "_journey_cart_synced";
  var CART_ATTRIBUTE = "_journey_anonymous_id";
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_id: "id",
              utm_content: "content", utm_term: "term" };
  var CLICK_IDS = ["fbclid", "gclid"];
  /* EU member states plus the rest of the EEA (Iceland, Liechtenstein, Norway): the "EU" group. */
  var EEA = ("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE " +
             "IS LI NO").split(" ");
  var cfg = { collector: "", writeKey: "", flushAt: 10, flushInterval: 2000, cartPath: "/cart/update.js",
              consent: "opt-out", consentByRegion: null, region: "", cookieDomain: "",
              shopifyPrivacy: null };
  var initialized = false;
  var queue = [];      // allowed events waiting for the next batch
  var held = [];       // events recorded before consent (opt-in, no choice yet): memory only
  var timer = null;
  var memory = { aid: null, uid: null, traits: {}, campaign: null };
  /* Before init nothing is decided: hold, store nothing. */
  var state = { analytics: false, marketing: false, source: "default", pending: true };
  var shopify = { used: false, answered: false };
  var callTime = null; // the original time of a call replayed from the snippet's queue

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function safe(fn, fallback) { try { return fn(); } catch (e) { return fallback; } }
  function emit(name, detail) {
    safe(function () { w.dispatchEvent(new CustomEvent(name, { detail: detail })); });
  }

  // -- cookies and storage (written only while analytics is allowed; the consent record always) -----
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? safe(function () { return decodeURIComponent(m[1]); }, null) : null;
  }
  function cookieTail() {
    return "; path=/" + (cfg.cookieDomain ? "; domain=" + cfg.cookieDomain : "") + "; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function writeCookie(name, value) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; max-age=31536000" + cookieTail();
  }
  function deleteCookie(name) {
    d.cookie = name + "=; max-age=0" + cookieTail();
    d.cookie = name + "=; max-age=0; path=/"; // a host-only copy (written before cookieDomain was set)
  }
  function stored(name) {
    return readCookie(name) || safe(function () { return w.localStorage.getItem(name); }, null);
  }
  function persist(name, value) {
    if (!state.analytics) return;
    writeCookie(name, value);
    safe(function () { w.localStorage.setItem(name, value); });
  }
  function forget(name) {
    deleteCookie(name);
    safe(function () { w.localStorage.removeItem(name); });
  }
  function session(name, value) {
    if (state.analytics) safe(function () { w.sessionStorage.setItem(name, value); });
  }

  // -- identity ---------------------------------------------------------------------------------------
  function anonymousId() {
    if (!memory.aid) memory.aid = stored(AID) || "a-" + uuid();
    persist(AID, memory.aid);
    return memory.aid;
  }
  function userId() {
    if (memory.uid === null) memory.uid = stored(UID) || "";
    return memory.uid || null;
  }

  /* UTM + click ids of this URL; when present they replace the session's, else the session's stay.
     Click ids are marketing data: kept (and sent) only with marketing consent. */
  function sessionCampaign() {
    var params = new URLSearchParams(location.search);
    var campaign = {}, clickIds = {}, fresh = false;
    Object.keys(UTM).forEach(function (k) { if (params.get(k)) { campaign[UTM[k]] = params.get(k); fresh = true; } });
    CLICK_IDS.forEach(function (k) { clickIds[k] = params.get(k) || null; if (params.get(k)) fresh = true; });
    var value = fresh ? { campaign: Object.keys(campaign).length ? campaign : null, clickIds: clickIds }
      : memory.campaign || safe(function () { return JSON.parse(w.sessionStorage.getItem(CAMPAIGN)); }, null) ||
        { campaign: null, clickIds: noClickIds() };
    memory.campaign = value;
    storeCampaign();
    return value;
  }
  function noClickIds() {
    var ids = {};
    CLICK_IDS.forEach(function (k) { ids[k] = null; });
    return ids;
  }
  function storeCampaign() {
    if (!memory.campaign) return;
    var value = { campaign: memory.campaign.campaign,
                  clickIds: state.marketing ? memory.campaign.clickIds : noClickIds() };
    session(CAMPAIGN, JSON.stringify(value));
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
      library: { name: "journey-tracker.js", version: VERSION },
      channel: "browser"
    };
    if (s.campaign) ctx.campaign = s.campaign;
    return ctx;
  }

  /* The consent under which the event leaves: stamped when it is queued for sending. */
  function stamp(event) {
    event.context.consent = { analytics: state.analytics, marketing: state.marketing, source: state.source };
    if (!state.marketing) event.context.clickIds = noClickIds();
    return event;
  }

  function record(event) {
    event.messageId = uuid();
    event.anonymousId = anonymousId();
    if (!event.userId && userId()) event.userId = userId();
    event.timestamp = new Date(callTime || Date.now()).toISOString();
    event.context = context();
    if (state.analytics) {
      queue.push(stamp(event));
      if (queue.length >= cfg.flushAt) flush();
      else if (!timer) timer = setTimeout(flush, cfg.flushInterval);
    } else if (state.pending) {
      held.push(event);
      emit("journey:held", { event: event, held: held.length });
    } else {
      return null; // analytics refused: dropped
    }
    return event.messageId;
  }

  function payload(batch) {
    var body = { batch: batch, sentAt: new Date().toISOString() };
    if (cfg.writeKey) body.writeKey = cfg.writeKey;
    return JSON.stringify(body);
  }

  /* Send the queue with fetch keepalive; a network failure or 5xx puts the events back (a 4xx does not). */
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length || !cfg.collector || !state.analytics) return Promise.resolve(0);
    var batch = queue.splice(0, queue.length);
    var status = 0;
    return fetch(cfg.collector + "/v1/batch", {
      method: "POST", body: payload(batch), keepalive: true, credentials: "omit",
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      status = r.status;
      return r.json().catch(function () { return null; });
    }).then(function (response) {
      emit("journey:sent", { events: batch, status: status, transport: "fetch", response: response });
      if (status >= 500) throw new Error("collector " + status);
      return batch.length;
    }).catch(function () {
      if (!status) emit("journey:sent", { events: batch, status: 0, transport: "fetch", response: null });
      if (state.analytics) {
        queue = batch.concat(queue);
        if (!timer) timer = setTimeout(flush, cfg.flushInterval * 2);
      }
      return 0;
    });
  }

  /* Page is going away: the browser delivers a beacon even after unload (its answer is unknown: 0). */
  function beacon() {
    if (!queue.length || !cfg.collector || !state.analytics) return;
    var batch = queue.splice(0, queue.length);
    var blob = new Blob([payload(batch)], { type: "text/plain" });
    if (navigator.sendBeacon && navigator.sendBeacon(cfg.collector + "/v1/batch", blob)) {
      emit("journey:sent", { events: batch, status: 0, transport: "beacon", response: null });
    } else {
      queue = batch.concat(queue);
      flush();
    }
  }

  function postCart(value) {
    var form = "attributes%5B" + CART_ATTRIBUTE + "%5D=" + encodeURIComponent(value);
    return fetch(cfg.cartPath, {
      method: "POST", credentials: "same-origin", body: form,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" }
    });
  }

  /* Write the anonymous id into the Shopify cart so the order carries it (once per session and id). */
  function syncCart(force) {
    if (!state.analytics) return Promise.resolve(false);
    var id = anonymousId();
    var done = safe(function () { return w.sessionStorage.getItem(CART_SYNCED); }, null);
    if (!force && done === id) return Promise.resolve(false);
    return postCart(id).then(function (r) {
      if (r.ok) session(CART_SYNCED, id);
      return r.ok;
    }).catch(function () { return false; });
  }

  // -- consent ----------------------------------------------------------------------------------------
  function readConsent() {
    var value = safe(function () { return JSON.parse(readCookie(CONSENT)); }, null);
    if (!value || typeof value.analytics !== "boolean") return null;
    return { analytics: value.analytics, marketing: value.marketing === true && value.analytics };
  }

  /* The configured default of the visitor's region: consentByRegion[region], [its country], ["EU"] for
     an EU/EEA country, ["*"]; without a region (or no entry) the `consent` option. Unknown = opt-in. */
  function regionalDefault() {
    var map = cfg.consentByRegion, region = String(cfg.region || "").toUpperCase(), mode = null;
    if (region && map) {
      var country = region.split("-")[0];
      mode = map[region] || map[country] || (EEA.indexOf(country) >= 0 && map.EU) || map["*"] || null;
    }
    mode = mode || cfg.consent || "opt-out";
    if (mode !== "opt-in" && mode !== "opt-out") {
      safe(function () { console.warn("journey: unknown consent mode " + mode + ", using opt-in"); });
      mode = "opt-in";
    }
    return mode;
  }

  /* Remove everything the tracker stored but the consent record (and the cart attribute it wrote). */
  function purge() {
    var wrote = safe(function () { return w.sessionStorage.getItem(CART_SYNCED); }, null) || stored(AID);
    forget(AID);
    forget(UID);
    safe(function () { w.sessionStorage.removeItem(CAMPAIGN); w.sessionStorage.removeItem(CART_SYNCED); });
    memory.aid = null;
    memory.uid = null;
    if (wrote && initialized) safe(function () { postCart("").catch(function () { return null; }); });
  }

  /* Make `next` the state: store or purge accordingly, release or drop the held events. */
  function apply(next) {
    state = next;
    if (state.analytics) {
      persist(AID, anonymousId());
      if (userId()) persist(UID, userId());
      storeCampaign();
      queue.forEach(stamp);
      var release = held.splice(0, held.length);
      release.forEach(function (e) { queue.push(stamp(e)); });
      if (initialized) {
        syncCart(false);
        if (release.length) flush();
      }
    } else {
      queue = [];
      if (timer) { clearTimeout(timer); timer = null; }
      if (!state.pending) held = [];
      if (state.source !== "default") purge();
    }
  }

  /* Which consent holds now: Shopify's Customer Privacy API when it is used (until it answers: hold),
     else the visitor's recorded choice, else the regional default. */
  function decide() {
    if (shopify.used) {
      if (!shopify.answered) apply({ analytics: false, marketing: false, source: "shopify", pending: true });
      return;
    }
    var recorded = readConsent();
    if (recorded) apply({ analytics: recorded.analytics, marketing: recorded.marketing, source: "visitor", pending: false });
    else if (regionalDefault() === "opt-in") apply({ analytics: false, marketing: false, source: "default", pending: true });
    else apply({ analytics: true, marketing: true, source: "default", pending: false });
  }

  /* A Shopify answer: refused analytics keeps events held (the visitor may still accept on this page)
     but removes what was stored; a visitorConsentCollected refusal drops them. */
  function fromShopify(analytics, marketing, final) {
    shopify.answered = true;
    apply({ analytics: !!analytics, marketing: !!analytics && !!marketing, source: "shopify",
            pending: !analytics && !final });
  }
  function readShopify() {
    var privacy = w.Shopify && w.Shopify.customerPrivacy;
    if (!privacy) return false;
    fromShopify(safe(function () { return privacy.analyticsProcessingAllowed(); }, false),
                safe(function () { return privacy.marketingAllowed(); }, false), false);
    return true;
  }
  function startShopify() {
    if (shopify.used) return;
    shopify.used = true;
    d.addEventListener("visitorConsentCollected", function (e) {
      var detail = (e && e.detail) || {};
      fromShopify(detail.analyticsAllowed, detail.marketingAllowed, true);
    });
    if (readShopify()) return;
    var loader = w.Shopify && w.Shopify.loadFeatures;
    if (typeof loader !== "function") { shopify.used = false; return; }
    safe(function () {
      loader.call(w.Shopify, [{ name: "consent-tracking-api", version: "0.1" }], function (error) {
        if (error || !readShopify()) { shopify.used = false; decide(); } // no API: the configured policy
      });
    });
  }

  // -- the API ----------------------------------------------------------------------------------------
  var journey = {
    loaded: true,
    version: VERSION,
    init: function (options) {
      for (var k in options) if (Object.prototype.hasOwnProperty.call(options, k)) cfg[k] = options[k];
      cfg.collector = (cfg.collector || "").replace(/\/$/, "");
      initialized = true;
      if (cfg.shopifyPrivacy === true || (cfg.shopifyPrivacy !== false && w.Shopify)) startShopify();
      decide();
      return journey;
    },
    page: function (name, properties) {
      if (typeof name === "object" && name !== null) { properties = name; name = null; }
      return record({ type: "page", name: name || d.title, properties: properties || {} });
    },
    track: function (event, properties) {
      var id = record({ type: "track", event: event, properties: properties || {} });
      if (event === "Product Added") syncCart(true);
      return id;
    },
    /* identify(userId, traits) or identify(traits): the user id is kept (cookie + localStorage) for the
       next pages; traits only in memory (the collector hashes email/phone before the warehouse). */
    identify: function (id, traits) {
      if (typeof id === "object" && id !== null) { traits = id; id = userId(); }
      memory.uid = id == null ? "" : String(id);
      if (memory.uid) persist(UID, memory.uid); else forget(UID);
      for (var k in traits || {}) if (Object.prototype.hasOwnProperty.call(traits, k)) memory.traits[k] = traits[k];
      return record({ type: "identify", userId: memory.uid || null, traits: traits || {} });
    },
    /* The visitor's choice (a banner): recorded in `_journey_consent` and applied at once. */
    consent: function (choice) {
      choice = choice || {};
      var analytics = choice.analytics === true, marketing = analytics && choice.marketing === true;
      writeCookie(CONSENT, JSON.stringify({ analytics: analytics, marketing: marketing }));
      apply({ analytics: analytics, marketing: marketing, source: "visitor", pending: false });
      return journey.consentState();
    },
    consentState: function () {
      return { analytics: state.analytics, marketing: state.marketing, source: state.source, pending: state.pending };
    },
    /* Log out (like Segment's reset): forget user id and traits, start a new anonymous id. */
    reset: function () {
      forget(UID);
      memory.uid = "";
      memory.traits = {};
      memory.aid = "a-" + uuid();
      persist(AID, memory.aid);
      safe(function () { w.sessionStorage.removeItem(CART_SYNCED); });
      if (initialized) syncCart(true);
      return journey;
    },
    user: function () {
      return { anonymousId: memory.aid || stored(AID), userId: userId(), traits: memory.traits };
    },
    flush: flush,
    syncCart: syncCart,
    anonymousId: function () { return state.analytics ? anonymousId() : memory.aid; }
  };

  w.addEventListener("pagehide", beacon);
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") beacon(); });

  /* Replace the snippet's stub: script attributes first, then its queued inits, then the other calls in
     call order (each with the time it was made). Later pushes on the stub are forwarded. */
  var stub = w.journey;
  var isStub = !!stub && !stub.loaded && typeof stub.push === "function";
  var calls = isStub ? Array.prototype.slice.call(stub) : [];
  w.journey = journey;
  var script = d.currentScript;
  if (script && script.getAttribute("data-collector")) {
    journey.init({ collector: script.getAttribute("data-collector"),
                   writeKey: script.getAttribute("data-write-key") || "",
                   consent: script.getAttribute("data-consent") || cfg.consent,
                   region: script.getAttribute("data-region") || "",
                   cookieDomain: script.getAttribute("data-cookie-domain") || "" });
  }
  function replay(call) {
    if (!call || typeof journey[call[0]] !== "function") return;
    callTime = typeof call[2] === "number" ? call[2] : null;
    try { journey[call[0]].apply(journey, call[1] || []); } finally { callTime = null; }
  }
  calls.filter(function (c) { return c && c[0] === "init"; }).forEach(replay);
  calls.filter(function (c) { return c && c[0] !== "init"; }).forEach(replay);
  if (isStub) {
    stub.length = 0;
    stub.push = function (call) { replay(call); };
  }
})(window, document);
