/* A stand-in for Shopify's storefront globals, for the demo and the browser tests: `Shopify.loadFeatures`
   loads a Customer Privacy API (a little later, as the real one does) whose analyticsProcessingAllowed /
   marketingAllowed answer what the page's `?shopify=analytics,marketing` lists; `setTrackingConsent`
   dispatches `visitorConsentCollected` on document like Shopify's banner does. */
(function (w, d) {
  "use strict";
  var allowed = (new URLSearchParams(location.search).get("shopify") || "").split(",");
  var Shopify = w.Shopify = { shop: "demo-shop.myshopify.com", loadedFeatures: [] };
  Shopify.loadFeatures = function (features, callback) {
    Shopify.loadedFeatures.push(features);
    setTimeout(function () {
      Shopify.customerPrivacy = {
        analyticsProcessingAllowed: function () { return allowed.indexOf("analytics") >= 0; },
        marketingAllowed: function () { return allowed.indexOf("marketing") >= 0; },
        setTrackingConsent: function (consent, done) {
          allowed = [consent.analytics ? "analytics" : "", consent.marketing ? "marketing" : ""];
          d.dispatchEvent(new CustomEvent("visitorConsentCollected", { detail: {
            analyticsAllowed: !!consent.analytics, marketingAllowed: !!consent.marketing,
            preferencesAllowed: !!consent.preferences, saleOfDataAllowed: !!consent.sale_of_data
          } }));
          if (done) done();
        }
      };
      callback(false);
    }, 100);
  };
})(window, document);
