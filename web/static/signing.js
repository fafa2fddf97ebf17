// Signing link page: copy the link to the clipboard (falls back to selecting it).
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  var link = document.getElementById("link-url");
  var done = document.getElementById("copied");
  if (!button || !link) { return; }
  function selectLink() {
    var range = document.createRange();
    range.selectNodeContents(link);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  button.addEventListener("click", function () {
    var url = button.getAttribute("data-url");
    var shown = function () { if (done) { done.hidden = false; } };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(shown, selectLink);
    } else {
      selectLink();
    }
  });
})();
