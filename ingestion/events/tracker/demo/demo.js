/* The demo pages' UI: consent banner, log in / log out, and a panel listing each batch tracker.js sent
   (from its `journey:sent` events) with the collector's answer. Everything it saw is kept in
   window.journeyDemo for the browser tests. */
(function (w, d) {
  "use strict";
  var demo = w.journeyDemo = { sent: [], held: [] };
  function $(id) { return d.getElementById(id); }
  function line(text) {
    var log = $("journey-log");
    if (!log) return;
    var li = d.createElement("li");
    li.textContent = text;
    log.appendChild(li);
  }
  function name(e) { return e.type + (e.event ? " " + e.event : "") + (e.userId ? " (" + e.userId + ")" : ""); }
  function refresh() {
    var j = w.journey;
    if (!j || !j.loaded) return;
    var c = j.consentState(), u = j.user();
    var banner = $("consent-banner");
    if (banner) banner.hidden = !c.pending;
    if ($("journey-identity")) {
      $("journey-identity").textContent = "anonymousId " + (u.anonymousId || "-") + ", userId " +
        (u.userId || "-") + ", consent " + JSON.stringify(c);
    }
  }
  w.addEventListener("journey:sent", function (e) {
    demo.sent.push(e.detail);
    line(e.detail.transport + " " + e.detail.status + ": " + e.detail.events.map(name).join(", ") +
         " -> " + JSON.stringify(e.detail.response));
    refresh();
  });
  w.addEventListener("journey:held", function (e) {
    demo.held.push(e.detail.event);
    line("held for consent: " + name(e.detail.event));
    refresh();
  });
  function on(id, fn) { if ($(id)) $(id).addEventListener("click", function () { fn(); refresh(); }); }
  on("consent-accept", function () { w.journey.consent({ analytics: true, marketing: true }); });
  on("consent-analytics", function () { w.journey.consent({ analytics: true, marketing: false }); });
  on("consent-decline", function () { w.journey.consent({ analytics: false, marketing: false }); });
  on("login", function () { w.journey.identify("customer-1001", { email: "ada@example.com", first_name: "Ada" }); });
  on("logout", function () { w.journey.reset(); });
  /* the banner shows once tracker.js (loaded async) knows whether a choice is needed */
  var tries = 0, wait = setInterval(function () {
    if ((w.journey && w.journey.loaded) || ++tries > 100) { clearInterval(wait); refresh(); }
  }, 50);
})(window, document);
