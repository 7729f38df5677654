/* The one way an instant is written for people, in the browser: "2 Dec 2026 03:14 UTC".
 *
 * The same shape as referrals.core.timefmt.format_instant on the server (day, short month,
 * year, 24-hour time, the zone named), in the viewer's zone: <body data-time-zone> (their
 * profile's zone, UTC when none). Months are spelled out here, not by the browser's locale.
 * The zone's abbreviation is the browser's (ICU) one: the same as the server's for UTC and
 * the North American zones, an offset such as "GMT+1" for zones ICU has no short name for.
 *
 *   Referrals.formatInstant(new Date(), {seconds: true})  ->  "1 Dec 2026 18:20:05 UTC"
 */
(function () {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function viewerZone() {
    var zone = document.body && document.body.dataset.timeZone;
    return zone || "UTC";
  }

  function parts(date, zone, seconds) {
    var options = {timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
                   hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"};
    if (seconds) { options.second = "2-digit"; }
    var found = {};
    new Intl.DateTimeFormat("en-US", options).formatToParts(date).forEach(function (part) {
      found[part.type] = part.value;
    });
    return found;
  }

  function formatInstant(value, options) {
    options = options || {};
    var date = value instanceof Date ? value : new Date(value);
    if (isNaN(date.getTime())) { return "—"; }
    var zone = options.zone || viewerZone();
    var p;
    try {
      p = parts(date, zone, options.seconds);
    } catch (error) {  // a zone name this browser does not know: say UTC rather than fail
      zone = "UTC";
      p = parts(date, zone, options.seconds);
    }
    var clock = p.hour + ":" + p.minute + (options.seconds ? ":" + p.second : "");
    var label = zone === "UTC" ? "UTC" : p.timeZoneName;
    return p.day + " " + MONTHS[parseInt(p.month, 10) - 1] + " " + p.year + " " + clock + " " + label;
  }

  window.Referrals = window.Referrals || {};
  window.Referrals.formatInstant = formatInstant;
}());
