// Latch console: the one script. It refreshes the approvals queue every two seconds so that a
// new request appears without a reload, and opens the guide a link points to (the pages work
// without it).
"use strict";
(function () {
  var queue = document.getElementById("queue");
  if (!queue || !queue.dataset.refresh) return;
  var url = queue.dataset.refresh;
  function busy() {
    var a = document.activeElement;
    return a && queue.contains(a) && (a.tagName === "INPUT" || a.tagName === "BUTTON");
  }
  function refresh() {
    if (document.hidden || busy()) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null || busy()) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("queue");
        if (fresh && fresh.innerHTML !== queue.innerHTML) queue.innerHTML = fresh.innerHTML;
      })
      .catch(function () {});
  }
  setInterval(refresh, 2000);
})();
(function () {
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") el.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
