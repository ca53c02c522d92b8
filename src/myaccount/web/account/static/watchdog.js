// A classic (non-module) script: if the page's modules never start (an old browser, a failed download), say
// so instead of leaving "Loading…" on screen forever.
(function () {
  "use strict";
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById("strings").textContent);
  } catch (e) {
    strings = {};
  }
  function show(key) {
    var app = document.getElementById("app");
    if (!app || document.documentElement.getAttribute("data-ready")) return;
    var p = document.createElement("p");
    p.className = "notice error";
    p.setAttribute("role", "alert");
    p.textContent = strings[key] || key;
    app.textContent = "";
    app.appendChild(p);
    app.setAttribute("aria-busy", "false");
  }
  var modules = "noModule" in document.createElement("script");
  if (!modules || !window.fetch || !window.crypto || !window.crypto.subtle) {
    show("page.unsupported");
    return;
  }
  setTimeout(function () {
    show("page.stalled");
  }, 15000);
})();
