// Live progress of deployment jobs: phase, bytes, rate and ETA, refreshed every two seconds.
(function () {
  "use strict";
  var table = document.getElementById("jobs");
  if (!table) { return; }
  function mib(n) { return (n / 1048576).toFixed(1); }
  function set(row, field, text) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (cell && cell.textContent !== text) { cell.textContent = text; }
  }
  function refresh() {
    fetch("/api/v1/imaging/deployments", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (jobs) {
        jobs.forEach(function (job) {
          var row = table.querySelector('tr[data-job="' + job.id + '"]');
          if (!row) { return; }
          set(row, "status", job.status);
          set(row, "phase", job.phase_label);
          set(row, "bytes", job.bytes_done + " / " + job.bytes_total);
          set(row, "rate", mib(job.rate) + " Mio/s");
          set(row, "eta", Math.round(job.eta_seconds) + " s");
          set(row, "reason", job.reason);
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 2000);
}());
