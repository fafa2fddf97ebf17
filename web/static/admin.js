// piccolo-admin names its tables after the database ("staff role") and writes a few words in
// English outside its translations ("15 per page", "of 3", "NULL"): show them in French.
(function () {
  "use strict";
  var NAMES = {
    "site": "sites",
    "donor": "donateurs",
    "piccolo user": "personnes",
    "staff role": "rôles",
    "api token": "jetons"
  };
  var PATTERN = /^(\s*(?:Ajouter|Modifier|Add|Edit)?\s*)(site|donor|piccolo user|staff role|api token)(\s*)$/i;

  var PAGES = /^(\s*)of(\s+\d+\s*)$/;

  function relabel(element) {
    var options = element.querySelectorAll ? element.querySelectorAll("option[label]") : [];
    Array.prototype.forEach.call(options, function (option) {
      var label = option.getAttribute("label");
      var french = label.replace(/^(\d+) per page$/, "$1 par page");
      if (french !== label) {
        option.setAttribute("label", french);
      }
    });
  }

  function rename(node) {
    var bare = node.nodeValue.trim();
    if (bare === "NULL" || bare === "ID") {
      node.nodeValue = node.nodeValue.replace(bare, bare === "NULL" ? "—" : "N°");
      return;
    }
    var pages = PAGES.exec(node.nodeValue);
    if (pages) {
      node.nodeValue = pages[1] + "sur" + pages[2];
      return;
    }
    var match = PATTERN.exec(node.nodeValue);
    if (match) {
      var french = NAMES[match[2].toLowerCase()];
      if (french && match[2] !== french) {
        node.nodeValue = match[1] + french + match[3];
      }
    }
  }

  function walk(root) {
    if (root.nodeType === Node.TEXT_NODE) {
      rename(root);
      return;
    }
    if (root.nodeType !== Node.ELEMENT_NODE) {
      return;
    }
    relabel(root);
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      rename(node);
    }
  }

  function start() {
    walk(document.body);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        if (change.type === "characterData") {
          rename(change.target);
        } else if (change.type === "attributes") {
          relabel(change.target.parentNode || change.target);
        }
        change.addedNodes.forEach(walk);
      });
    }).observe(document.body, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["label"]
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
