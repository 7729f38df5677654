/* The emergency fast path follows the other person's presses without a reload by hand.
 *
 * The page (#fast-path) carries the request's state token and the URL that answers the
 * current one; every few seconds it asks again and reloads when another person moved the
 * request on (an approval, a finished collection, a release). It never reloads over
 * something being typed: once a field on the page was changed, it waits for the press. */
(function () {
  "use strict";

  var POLL_MS = 4000;
  var page = document.getElementById("fast-path");
  if (!page) { return; }
  var typing = false;
  page.addEventListener("input", function () { typing = true; });

  function poll() {
    fetch(page.dataset.stateUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        if (answer.state !== page.dataset.state && !typing) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 2); });
  }

  window.setTimeout(poll, POLL_MS);
}());
