// Commune suggestions: while a commune field is typed, ask /organisations/communes?q= and fill its
// <datalist> with "Name (département)"; the server resolves what is finally sent.
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input.commune-input");
  Array.prototype.forEach.call(inputs, function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) { return; }
    var timer = null;
    var asked = "";
    function fill(rows) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      rows.forEach(function (row) {
        var option = document.createElement("option");
        option.value = row.label;
        option.textContent = row.postcodes.slice(0, 3).join(", ");
        list.appendChild(option);
      });
    }
    function ask() {
      var q = input.value.trim();
      if (q.length < 2 || q === asked) { return; }
      asked = q;
      fetch("/organisations/communes?q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : [];
      }).then(function (rows) {
        if (input.value.trim() === q) { fill(rows); }
      }).catch(function () { /* suggestions are a convenience; the form works without them */ });
    }
    input.addEventListener("input", function () {
      var hidden = input.form && input.form.querySelector("input[type=hidden][name='" + input.name + "_insee']");
      if (hidden) { hidden.value = ""; }
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 200);
    });
  });
}());
