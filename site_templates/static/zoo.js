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

// Compare: the zoo tables' checkboxes (2 to 4 rows), and the compare page, drawn from
// compare-data.js (window.MLSYSIM_COMPARE) with DOM calls only: catalog text is never parsed as HTML.
(function () {
  "use strict";
  var MIN = 2, MAX = 4;

  function setUpPicker(form) {
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=ids]"));
    var button = form.querySelector(".compare-button");
    var status = form.querySelector(".compare-status");
    function update() {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      button.disabled = n < MIN || n > MAX;
      status.textContent = n === 0 ? "tick 2 to 4 rows" : n + " selected" + (n < MIN ? ": tick at least 2" : n > MAX ? ": at most 4" : "");
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  function queryIds(params) {
    var ids = [];
    params.getAll("ids").forEach(function (v) { v.split(",").forEach(function (id) { id = id.trim(); if (id && ids.indexOf(id) === -1) ids.push(id); }); });
    return ids;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function badge(word, title, symbols) {
    var b = el("span", null, "badge badge-" + word);
    b.title = title || word;
    var s = el("span", symbols[word] || "", "badge-symbol");
    s.setAttribute("aria-hidden", "true");
    b.appendChild(s);
    b.appendChild(document.createTextNode(word));
    return b;
  }

  function drawCompare(data) {
    var params = new URLSearchParams(window.location.search);
    var kindSelect = document.getElementById("compare-kind");
    var choices = document.getElementById("compare-choices");
    var message = document.getElementById("compare-message");
    var kinds = data.kinds;
    var kind = params.get("kind");
    if (!kinds[kind]) kind = kindSelect.options[0].value;
    kindSelect.value = kind;
    var ids = queryIds(params);
    var records = kinds[kind].records;

    function fillChoices(k, chosen) {
      Array.prototype.slice.call(choices.querySelectorAll("label")).forEach(function (n) { n.remove(); });
      Object.keys(kinds[k].records).sort(function (a, b) {
        return kinds[k].records[a].name.localeCompare(kinds[k].records[b].name);
      }).forEach(function (id) {
        var label = el("label", null, "choice");
        var box = document.createElement("input");
        box.type = "checkbox"; box.name = "ids"; box.value = id; box.checked = chosen.indexOf(id) !== -1;
        label.appendChild(box);
        label.appendChild(document.createTextNode(" " + kinds[k].records[id].name));
        choices.appendChild(label);
      });
    }
    fillChoices(kind, ids);
    kindSelect.addEventListener("change", function () { fillChoices(kindSelect.value, []); });

    var unknown = ids.filter(function (id) { return !records[id]; });
    ids = ids.filter(function (id) { return records[id]; });
    if (ids.length < MIN || ids.length > MAX) {
      message.textContent = (unknown.length ? "No " + kind + " record named " + unknown.join(", ") + ". " : "") +
        "Choose " + MIN + " to " + MAX + " records of one kind" + (ids.length ? " (" + ids.length + " chosen)" : "") + ".";
      return;
    }
    message.textContent = unknown.length ? "Left out (no such " + kind + " record): " + unknown.join(", ") + "." : "";
    var table = document.getElementById("compare-table");
    document.getElementById("compare-caption").textContent = "Comparing " + ids.length + " " + kind + " records";
    var head = el("tr");
    head.appendChild(el("th", "Field")).setAttribute("scope", "col");
    ids.forEach(function (id) {
      var th = el("th"); th.setAttribute("scope", "col");
      var a = el("a", records[id].name); a.href = records[id].href;
      th.appendChild(a);
      if (records[id].status) { th.appendChild(document.createTextNode(" ")); th.appendChild(badge(records[id].status, "weakest badge of this record's values", data.symbols)); }
      head.appendChild(th);
    });
    table.tHead.appendChild(head);
    kinds[kind].fields.forEach(function (field) {
      var path = field[0];
      if (!ids.some(function (id) { return records[id].values[path]; })) return;
      var row = el("tr");
      var th = el("th", field[1]); th.setAttribute("scope", "row");
      row.appendChild(th);
      ids.forEach(function (id) {
        var v = records[id].values[path];
        var td = el("td", null, v && v[1] ? "n" : "");
        if (!v) { td.appendChild(el("span", "—", "none")); }
        else {
          var num = el("span", v[0], "num");
          if (v[2]) num.title = v[2];
          td.appendChild(num);
          if (v[1]) { td.appendChild(document.createTextNode(" ")); td.appendChild(badge(v[1], v[2], data.symbols)); }
        }
        row.appendChild(td);
      });
      table.tBodies[0].appendChild(row);
    });
    document.getElementById("compare-wrap").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form.compare-form"), setUpPicker);
    if (document.getElementById("compare-table") && window.MLSYSIM_COMPARE) drawCompare(window.MLSYSIM_COMPARE);
  });
})();
