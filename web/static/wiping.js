// Runs in progress on /wiping: progress bars and words refreshed every two seconds from
// /wiping/progress.json; the page reloads when a run starts or ends.
(function () {
  "use strict";
  var section = document.getElementById("running");
  if (!section) { return; }
  var url = section.getAttribute("data-progress-url");
  var FIELDS = ["percent_text", "done_text", "speed_text", "elapsed_text", "left_text"];
  function shownIds() {
    return Array.prototype.map.call(
      section.querySelectorAll("[data-record]"),
      function (el) { return el.getAttribute("data-record"); }
    ).sort().join(",");
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var ids = body.running.map(function (run) { return String(run.id); }).sort().join(",");
        if (ids !== shownIds()) { window.location.reload(); return; }
        body.running.forEach(function (run) {
          var card = section.querySelector('[data-record="' + run.id + '"]');
          if (!card) { return; }
          var bar = card.querySelector("progress");
          if (bar) { bar.value = run.percent; bar.textContent = run.percent_text; }
          FIELDS.forEach(function (field) {
            var el = card.querySelector('[data-field="' + field + '"]');
            if (el && el.textContent !== run[field]) { el.textContent = run[field]; }
          });
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 2000);
}());
