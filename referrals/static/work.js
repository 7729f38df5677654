/* The staff home's live part, refreshed without reloading the page.
 *
 * #work (data-work-url: referrals.dashboard's work.json; data-refresh-ms) is replaced by the
 * server's rendering of the same part every refresh. Deadlines marked data-due (an ISO time)
 * count down every second in between. When an emergency arrives that the page had not shown
 * (a key not in data-emergency-keys before), the tab title says so until the page is looked at. */
(function () {
  "use strict";

  var box = document.getElementById("work");
  if (!box) { return; }
  var RETRY_MS = 30000;
  var refreshMs = parseInt(box.dataset.refreshMs, 10) || 15000;
  var baseTitle = document.title;
  var updated = document.getElementById("work-updated");

  function keys() {
    var holder = box.querySelector("[data-emergency-keys]");
    var text = holder ? holder.dataset.emergencyKeys : "";
    return text ? text.split(" ") : [];
  }

  function span(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    if (minutes < 1) { return "less than a minute"; }
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 48) {
      var rest = minutes % 60;
      return rest && hours < 10 ? hours + " h " + rest + " min" : hours + " h";
    }
    return Math.round(hours / 24) + " days";
  }

  function tick() {
    var now = Date.now();
    box.querySelectorAll("[data-due]").forEach(function (el) {
      var seconds = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = (seconds < 0 ? "overdue by " : "due in ") + span(seconds);
      el.classList.toggle("due-overdue", seconds < 0);
    });
  }

  function announce(count) {
    document.title = "(" + count + ") New emergency · " + baseTitle;
  }

  function refresh() {
    var before = keys();
    fetch(box.dataset.workUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (work) {
        box.innerHTML = work.html;
        var fresh = keys().filter(function (key) { return before.indexOf(key) < 0; });
        if (fresh.length) {
          announce(fresh.length);
          box.querySelectorAll("[data-key]").forEach(function (el) {
            if (fresh.indexOf(el.dataset.key) >= 0) { el.classList.add("work-new"); }
          });
        }
        if (updated) { updated.textContent = "Updated " + window.Referrals.formatInstant(new Date(), {seconds: true}) + "."; }
        tick();
        window.setTimeout(refresh, refreshMs);
      })
      .catch(function () {
        if (updated) { updated.textContent = "Could not update: trying again. Reload the page if this stays."; }
        window.setTimeout(refresh, RETRY_MS);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { window.setTimeout(function () { document.title = baseTitle; }, 5000); }
  });
  tick();
  window.setInterval(tick, 1000);
  window.setTimeout(refresh, refreshMs);
}());
