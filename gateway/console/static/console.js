// The desk console's small enhancements; every page works without them.
// - focus moves to what changed after a swap ([data-focus]) and a live region says it;
// - the hold countdown ticks ([data-expires]);
// - shortcut keys (listed on every page), which a person can turn off (WCAG 2.1.4: a
//   single-key shortcut fires by accident under speech input or a slip of the hand);
// - the day list's timed refresh waits while the person is working in it;
// - a region with [data-events] refreshes itself (htmx "console:changed") when the
//   console's event stream says something changed (the stream carries ids only).
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
        var what = el.getAttribute("data-what") || "the hold";
        el.textContent = left > 0 ? fmt(left) + " left" : (el.getAttribute("data-expired-text") || "Hold expired");
        if (left <= 0) { el.classList.add("expired"); announce(what.charAt(0).toUpperCase() + what.slice(1) + " has ended."); return; }
        var minute = Math.ceil(left / 60);
        if (minute !== lastMinute && left % 60 === 0 && minute <= 2) { announce(minute + " minute" + (minute > 1 ? "s" : "") + " left on " + what + "."); }
        lastMinute = minute;
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }
  function listen() {
    var region = document.querySelector("[data-events]");
    if (!region || !window.EventSource || region.dataset.listening) { return; }
    region.dataset.listening = "1";
    var source = new EventSource(region.getAttribute("data-events"));
    var pending = null;
    function changed() {
      // Several events at once (an offer ends, the next one starts): one refresh.
      if (pending) { return; }
      pending = window.setTimeout(function () {
        pending = null;
        if (window.htmx && document.body.contains(region)) { window.htmx.trigger(region, "console:changed"); }
      }, 300);
    }
    ["waitlist.offer", "waitlist.offer_expired", "waitlist.offer_declined", "waitlist.booked", "appointment.cancelled"].forEach(function (kind) {
      source.addEventListener(kind, changed);
    });
    source.onopen = function () { region.dataset.listening = "open"; };
    // The stream ends with the session: the next page load signs in again.
    source.onerror = function () { if (source.readyState === EventSource.CLOSED) { region.dataset.listening = ""; } };
    window.addEventListener("pagehide", function () { source.close(); });
  }
  document.addEventListener("DOMContentLoaded", function () { settle(document.body); listen(); });
  document.body && settle(document.body);
  // A region refreshed under the person keeps their place: the control they were on
  // ([data-keep]) has focus again after the swap, if it is still there.
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function () {
    var active = document.activeElement;
    kept = active && active.getAttribute ? active.getAttribute("data-keep") : null;
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    settle(evt.detail.target || document.body);
    if (kept && !document.activeElement.hasAttribute("data-focus")) {
      var again = document.querySelector('[data-keep="' + kept + '"]');
      if (again && again !== document.activeElement) { again.focus(); }
    }
    kept = null;
  });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    // The day list refreshes itself; not while someone is in it (a button focused).
    if (elt && elt.id === "worklist" && elt.contains(document.activeElement)) { evt.preventDefault(); }
  });
  // The choice stays with this browser (a preference, not a record of anyone).
  function keysOn() {
    try { return window.localStorage.getItem("frontdesk.keys") !== "off"; } catch (e) { return true; }
  }
  function showKeys() {
    var on = keysOn();
    document.querySelectorAll("[data-keys-toggle]").forEach(function (button) {
      button.hidden = false;
      button.textContent = on ? "Turn single-key shortcuts off" : "Turn single-key shortcuts on";
    });
    document.querySelectorAll("[data-keys-list]").forEach(function (list) { list.hidden = !on; });
    document.documentElement.setAttribute("data-keys-state", on ? "on" : "off");
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target && evt.target.closest && evt.target.closest("[data-keys-toggle]");
    if (!button) { return; }
    var on = !keysOn();
    try { window.localStorage.setItem("frontdesk.keys", on ? "on" : "off"); } catch (e) { return; }
    showKeys();
    announce(on ? "Single-key shortcuts are on." : "Single-key shortcuts are off.");
  });
  document.addEventListener("DOMContentLoaded", showKeys);
  document.body && showKeys();
  document.addEventListener("keydown", function (evt) {
    var t = evt.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (evt.key === "Escape" && typing) { t.blur(); return; }
    if (typing || evt.ctrlKey || evt.metaKey || evt.altKey || !keysOn()) { return; }
    var box = document.querySelector("[data-shortcut-search]");
    if (evt.key === "/" && box) { evt.preventDefault(); box.focus(); box.select && box.select(); return; }
    var link = document.querySelector('[data-key="' + evt.key + '"]');
    if (link) { evt.preventDefault(); link.click(); }
  });
  // Says the shortcuts work (tests wait for it before pressing a key).
  document.documentElement.setAttribute("data-keys", "ready");
})();
