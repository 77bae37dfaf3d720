// AuthProxy pages: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the page's first message, so screen readers announce the outcome.
  var flash = document.querySelector(".flash");
  if (flash) { flash.setAttribute("tabindex", "-1"); flash.focus(); }
  // A search field narrows the catalog as one types (the form still works without this).
  var q = document.getElementById("q");
  var cards = document.querySelectorAll(".cards .card");
  if (q && cards.length) {
    q.addEventListener("input", function () {
      var needle = q.value.toLowerCase();
      cards.forEach(function (c) { c.hidden = needle !== "" && c.textContent.toLowerCase().indexOf(needle) < 0; });
    });
  }
});
