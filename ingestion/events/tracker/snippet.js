/* journey async snippet: paste in <head>, set the tracker URL and the init options. Calls made before
   tracker.js has loaded are queued as [method, args, time] and replayed in order when it loads. */
!function (w, d, src) {
  var j = w.journey = w.journey || [];
  if (j.loaded || j.invoked) return;
  j.invoked = true;
  ["init", "page", "track", "identify", "consent", "reset", "flush"].forEach(function (m) {
    j[m] = function () { j.push([m, [].slice.call(arguments), Date.now()]); return j; };
  });
  var s = d.createElement("script");
  s.async = true;
  s.src = src;
  d.head.appendChild(s);
}(window, document, "/tracker.js");
