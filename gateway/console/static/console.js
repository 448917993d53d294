// The desk console's small enhancements; every page works without them.
// - focus moves to what changed after a swap ([data-focus]) and a live region says it;
// - the hold countdown ticks ([data-expires]);
// - shortcut keys (listed on every page);
// - the day list's timed refresh waits while the person is working in it.
(function () {
  "use strict";
  function announce(text) {
    var live = document.getElementById("announce");
    if (live && text) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 50); }
  }
  function settle(root) {
    var target = root.querySelector("[data-focus]") || (root.matches && root.matches("[data-focus]") ? root : null);
    if (target) { target.focus(); }
    var said = root.querySelector("[data-announce]");
    if (said) { announce(said.getAttribute("data-announce")); }
    startCountdowns(root);
  }
  function fmt(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function startCountdowns(root) {
    root.querySelectorAll("[data-expires]").forEach(function (el) {
      if (el.dataset.ticking) { return; }
      el.dataset.ticking = "1";
      var until = Date.parse(el.getAttribute("data-expires"));
      var lastMinute = null;
      function tick() {
        if (!document.body.contains(el)) { return; }
        var left = Math.max(0, Math.round((until - Date.now()) / 1000));
        el.textContent = left > 0 ? fmt(left) + " left" : "Hold expired";
        if (left <= 0) { el.classList.add("expired"); announce("Your hold on the slot has expired."); return; }
        var minute = Math.ceil(left / 60);
        if (minute !== lastMinute && left % 60 === 0 && minute <= 2) { announce(minute + " minute" + (minute > 1 ? "s" : "") + " left on the hold."); }
        lastMinute = minute;
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { settle(document.body); });
  document.body && settle(document.body);
  document.addEventListener("htmx:afterSwap", function (evt) { settle(evt.detail.target || document.body); });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    // The day list refreshes itself; not while someone is in it (a button focused).
    if (elt && elt.id === "worklist" && elt.contains(document.activeElement)) { evt.preventDefault(); }
  });
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (evt.key === "Escape" && typing) { t.blur(); return; }
    if (typing || evt.ctrlKey || evt.metaKey || evt.altKey) { return; }
    var box = document.querySelector("[data-shortcut-search]");
    if (evt.key === "/" && box) { evt.preventDefault(); box.focus(); box.select && box.select(); return; }
    var link = document.querySelector('[data-key="' + evt.key + '"]');
    if (link) { evt.preventDefault(); link.click(); }
  });
})();
