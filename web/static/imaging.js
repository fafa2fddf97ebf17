// Live progress of deployment jobs on /imaging, in words, refreshed every two seconds.
(function () {
  "use strict";
  var table = document.getElementById("jobs");
  if (!table) { return; }
  var url = table.getAttribute("data-url");
  var FIELDS = ["status_text", "phase_text", "bytes_text", "rate_text", "eta_text", "reason_text"];
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        body.jobs.forEach(function (job) {
          var row = table.querySelector('tr[data-job="' + job.id + '"]');
          if (!row) { return; }
          FIELDS.forEach(function (field) {
            var cell = row.querySelector('[data-field="' + field + '"]');
            if (cell && cell.textContent !== job[field]) { cell.textContent = job[field]; }
          });
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 2000);
}());
