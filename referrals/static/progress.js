/* Progress of a background job, shown without reloading the page.
 *
 * Any element with data-progress-url (a JSON endpoint answering referrals.core.progress's
 * progress_json) is polled every second until the job is finished. Children marked
 * data-progress="label|count|bar|message|next" are updated; "next" (a link to see the result)
 * is shown once the job is done; data-progress-unit words the count ("3 of 8 <unit>"), and
 * data-progress-count="kib" shows a count of kibibytes as sizes ("1.5 MiB of 1.0 GiB", as
 * Jinja's filesizeformat(true) writes them on the page the server renders). */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var RETRY_MS = 5000;

  function part(box, name) {
    return box.querySelector('[data-progress="' + name + '"]');
  }

  function size(bytes) {
    var units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if (bytes === 1) { return "1 Byte"; }
    if (bytes < 1024) { return bytes + " Bytes"; }
    var value = bytes / 1024;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return value.toFixed(1) + " " + units[unit];
  }

  function show(box, progress) {
    var label = part(box, "label");
    var count = part(box, "count");
    var bar = part(box, "bar");
    var message = part(box, "message");
    var next = part(box, "next");
    box.dataset.state = progress.state;
    box.className = box.className.replace(/job-progress-[a-z]+/g, "").trim() +
      " job-progress-" + progress.state;
    if (label) { label.textContent = progress.label; }
    if (count && box.dataset.progressCount === "kib") {
      count.textContent = progress.total ? size(progress.done * 1024) + " of " + size(progress.total * 1024) : "";
    } else if (count) {
      count.textContent = progress.done + " of " + progress.total + " " + (box.dataset.progressUnit || "done");
    }
    if (bar) {
      bar.max = progress.total || 1;
      bar.value = progress.state === "done" && !progress.total ? 1 : progress.done;
    }
    if (message) { message.textContent = progress.message; }
    if (next) { next.hidden = progress.state !== "done"; }
  }

  function poll(box) {
    fetch(box.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (progress) {
        show(box, progress);
        if (!progress.finished) { window.setTimeout(function () { poll(box); }, POLL_MS); }
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, RETRY_MS); });
  }

  function reloadForTheResult(event) {
    // The result is on this very page: a link to it (with a #fragment) would only scroll.
    var link = event.target.closest("a");
    if (link && link.pathname === window.location.pathname && link.search === window.location.search) {
      event.preventDefault();
      window.location.hash = link.hash;
      window.location.reload();
    }
  }

  document.querySelectorAll("[data-progress-url]").forEach(function (box) {
    var next = part(box, "next");
    if (next) { next.addEventListener("click", reloadForTheResult); }
    if (box.dataset.state === "queued" || box.dataset.state === "running") { poll(box); }
  });
}());
