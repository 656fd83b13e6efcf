// mlsysim zoo: sortable and filterable tables. No dependencies; the tables are
// complete without it (filters stay hidden when scripts do not run).
(function () {
  "use strict";

  function sortKey(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim().toLowerCase();
  }

  function isNumber(text) {
    return text !== "" && !isNaN(Number(text));
  }

  // Numbers before text; empty cells always last, whichever the direction.
  function compare(a, b, direction) {
    if (a === "" || b === "") return a === b ? 0 : a === "" ? 1 : -1;
    var an = isNumber(a), bn = isNumber(b);
    var order = an && bn ? Number(a) - Number(b) : an ? -1 : bn ? 1 : a.localeCompare(b);
    return direction * order;
  }

  function sortBy(table, th) {
    var index = th.cellIndex;
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) { return compare(sortKey(r1, index), sortKey(r2, index), ascending ? 1 : -1); });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function setUpFilter(input) {
    var scope = document.getElementById(input.getAttribute("data-filter"));
    var status = document.getElementById(input.getAttribute("data-status"));
    if (!scope) return;
    var rows = Array.prototype.slice.call(scope.querySelectorAll("tbody tr"));
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    function apply() {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row, i) {
        var match = terms.every(function (t) { return texts[i].indexOf(t) !== -1; });
        row.hidden = !match;
        if (match) shown += 1;
      });
      Array.prototype.forEach.call(scope.querySelectorAll("section.group"), function (section) {
        section.hidden = section.querySelector("tbody tr:not([hidden])") === null;
      });
      if (status) status.textContent = shown + " of " + rows.length + " shown";
    }
    input.addEventListener("input", apply);
    input.closest(".filter").hidden = false;
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.querySelectorAll("thead button.sort"), function (button) {
        button.addEventListener("click", function () { sortBy(table, button.closest("th")); });
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), setUpFilter);
  });
})();
