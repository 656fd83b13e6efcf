/* mlsysim optimization waterfall: shows steps computed at build time by ServingModel
 * (mlsysim.site.labs.waterfall). This file computes nothing but ratios between them. */
(function () {
  "use strict";
  var D = window.MLSYSIM_WATERFALL;
  if (!D) { return; }
  window.MLSYSIM_WATERFALL_CASES = window.MLSYSIM_WATERFALL_CASES || {};
  var CASES = window.MLSYSIM_WATERFALL_CASES;
  var modelSel = document.getElementById("wf-model"), hwSel = document.getElementById("wf-hardware");
  var metricSel = document.getElementById("wf-metric");
  var body = document.getElementById("wf-body"), chart = document.getElementById("wf-chart");
  var status = document.getElementById("wf-status");
  var hwNames = {};
  D.hardware.forEach(function (h) { hwNames[h.id] = h.title; });
  var modelOf = {};
  D.models.forEach(function (m) { modelOf[m.id] = m; });

  function make(tag, attrs, content) {
    var node = document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, attrs[k]); } }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }
  function sig(x, n) { return Number(x.toPrecision(n || 4)).toString(); }
  function seconds(x) { return x >= 1 ? sig(x) + " s" : (x >= 1e-3 ? sig(x * 1e3) + " ms" : sig(x * 1e6) + " µs"); }

  function load(modelId, done) {
    if (CASES[modelId]) { done(); return; }
    var script = document.createElement("script");
    script.src = "waterfall/" + encodeURIComponent(modelId) + ".js";
    script.onload = done;
    script.onerror = function () { status.textContent = "Could not load the steps of " + modelId + "."; };
    document.head.appendChild(script);
  }

  function fillHardware() {
    var m = modelOf[modelSel.value];
    var keep = hwSel.value || hwSel.getAttribute("data-default");
    hwSel.textContent = "";
    m.hardware.forEach(function (id) { hwSel.appendChild(make("option", { value: id }, hwNames[id] || id)); });
    if (m.hardware.indexOf(keep) >= 0) { hwSel.value = keep; }
  }

  function citeNode(key) {
    var c = D.cites[key];
    var span = make("span", { "class": "sub" });
    span.appendChild(document.createTextNode(c.what + ": "));
    span.appendChild(make("code", {}, c.id));
    span.appendChild(document.createTextNode(" = " + sig(c.value, 6) + " " + c.unit + " · "));
    if (/^https?:\/\//.test(c.url)) { span.appendChild(make("a", { href: c.url }, c.title)); }
    else { span.appendChild(document.createTextNode(c.title)); }
    if (c.locator) { span.appendChild(document.createTextNode(", " + c.locator)); }
    return span;
  }

  function render() {
    var steps = CASES[modelSel.value][hwSel.value];
    var metric = metricSel.value;
    body.textContent = "";
    var previous = null;
    steps.forEach(function (s) {
      var tr = make("tr", { "data-step": s.key, "data-expressible": String(s.expressible), "class": s.expressible ? "" : "not-expressible" });
      tr.appendChild(make("th", { scope: "row" }, s.label));
      if (s.expressible) {
        tr.appendChild(make("td", { "data-label": "Configuration" }, s.config));
        var tps = make("td", { "class": "n step-value", "data-value": String(s.tokens_per_second), "data-label": "Throughput" },
                       sig(s.tokens_per_second) + (narrowTable() ? " tokens/s" : ""));
        tr.appendChild(tps);
        var change = previous ? s.tokens_per_second / previous.tokens_per_second : 1;
        tr.appendChild(make("td", { "class": "n", "data-label": "Change" }, previous ? "×" + sig(change, 3) : "—"));
        tr.appendChild(make("td", { "class": "n", "data-value": String(s.request_latency), "data-label": "Request latency" }, seconds(s.request_latency)));
        tr.appendChild(make("td", { "class": "n", "data-value": String(s.itl), "data-label": "Inter-token latency" }, seconds(s.itl)));
        previous = s;
      } else {
        var td = make("td", { colspan: "5", "data-label": "Result" }, "not expressible");
        tr.appendChild(td);
      }
      var why = make("td", { "data-label": "Why" });
      why.appendChild(document.createTextNode(s.why));
      s.rests_on.forEach(function (k) { why.appendChild(citeNode(k)); });
      tr.appendChild(why);
      body.appendChild(tr);
    });
    draw(steps, metric);
    var m = modelOf[modelSel.value];
    document.getElementById("wf-table-caption").textContent = m.title + " on " + hwNames[hwSel.value];
    status.textContent = "Showing " + m.title + " on " + hwNames[hwSel.value] + ".";
  }

  var NS = "http://www.w3.org/2000/svg";
  var SHORT = { baseline: "Base", moe: "MoE", precision: "Precision", batching: "Batch", fusion: "Fusion", speculative: "Spec." };
  function svg(tag, attrs, content) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, attrs[k]); } }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  function draw(steps, metric) {
    chart.textContent = "";
    // Coordinates follow the drawn width, so that labels stay legible on a phone.
    var W = Math.round(Math.max(340, Math.min(900, chart.getBoundingClientRect().width || 900)));
    var H = Math.round(Math.max(260, W * 0.4)), L = 50, R = 8, T = 22, B = 44;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    var narrow = W < 600;
    var values = steps.filter(function (s) { return s.expressible; }).map(function (s) { return s[metric]; });
    var lo = Math.floor(Math.log10(Math.min.apply(null, values)) - 0.2), hi = Math.ceil(Math.log10(Math.max.apply(null, values)) + 0.2);
    if (hi === lo) { hi = lo + 1; }
    function Y(v) { return T + (hi - Math.log10(v)) / (hi - lo) * (H - T - B); }
    for (var d = lo; d <= hi; d++) {
      chart.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(Math.pow(10, d)), y2: Y(Math.pow(10, d)), stroke: "#e6eaee" }));
      chart.appendChild(svg("text", { x: L - 6, y: Y(Math.pow(10, d)) + 4, "text-anchor": "end", "font-size": 12, fill: "#5a6470" }, "1e" + d));
    }
    var unit = metric === "tokens_per_second" ? "output tokens/s (log)" : "request latency, s (log)";
    chart.appendChild(svg("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12, fill: "#1d232b", transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, unit));
    var slot = (W - L - R) / steps.length, prev = null, parts = [];
    steps.forEach(function (s, i) {
      var x = L + i * slot + slot * 0.15, w = slot * 0.7;
      var label = svg("text", { x: x + w / 2, y: H - B + 18, "text-anchor": "middle", "font-size": narrow ? 11 : 12, fill: "#1d232b" }, narrow ? SHORT[s.key] || s.label : s.label);
      chart.appendChild(label);
      if (!s.expressible) {
        var base = prev === null ? Math.pow(10, lo) : prev;
        chart.appendChild(svg("rect", { x: x, y: Y(base) - 14, width: w, height: 28, fill: "#fff", stroke: "#b9770e", "stroke-dasharray": "4 3" }));
        chart.appendChild(svg("text", { x: x + w / 2, y: Y(base) + 4, "text-anchor": "middle", "font-size": narrow ? 9 : 11, fill: "#7a4b00" }, narrow ? "n/e" : "not expressible"));
        parts.push(s.label + ": not expressible");
        return;
      }
      var v = s[metric];
      var from = prev === null ? Math.pow(10, lo) : prev;
      var top = Math.min(Y(v), Y(from)), height = Math.max(Math.abs(Y(v) - Y(from)), 2);
      var better = prev === null ? true : (metric === "tokens_per_second" ? v >= prev : v <= prev);
      chart.appendChild(svg("rect", { x: x, y: top, width: w, height: height, fill: prev === null ? "#1f5fa8" : (better ? "#1e8449" : "#c0392b"), "data-step": s.key }));
      chart.appendChild(svg("text", { x: x + w / 2, y: top - 5, "text-anchor": "middle", "font-size": 12, fill: "#1d232b" },
        metric === "tokens_per_second" ? sig(v, 3) : seconds(v)));
      parts.push(s.label + ": " + (metric === "tokens_per_second" ? sig(v, 3) + " tokens/s" : seconds(v)));
      prev = v;
    });
    var m = modelOf[modelSel.value];
    var summary = "Waterfall of " + (metric === "tokens_per_second" ? "throughput" : "request latency") + " for " + m.title +
      " on " + hwNames[hwSel.value] + ". " + parts.join("; ") + ".";
    chart.setAttribute("aria-label", summary);
    document.getElementById("wf-caption").textContent = "Inputs: " + m.title + " and " + hwNames[hwSel.value] +
      " from the catalog; each bar spans the change of its step (green better, red worse), blue the baseline; dashed boxes are steps the catalog cannot express. " +
      "Values: " + parts.join("; ") + ".";
  }

  function narrowTable() { return window.matchMedia && window.matchMedia("(max-width: 700px)").matches; }
  var resizeTimer = null;
  window.addEventListener("resize", function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(function () { load(modelSel.value, render); }, 100); });

  function change() { fillHardware(); load(modelSel.value, render); }
  modelSel.addEventListener("change", change);
  hwSel.addEventListener("change", function () { load(modelSel.value, render); });
  metricSel.addEventListener("change", function () { load(modelSel.value, render); });
  var start = modelSel.getAttribute("data-default");
  if (start && modelOf[start]) { modelSel.value = start; }
  fillHardware();
  load(modelSel.value, function () { render(); document.documentElement.setAttribute("data-lab-ready", "waterfall"); });
})();
