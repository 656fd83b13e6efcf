/* mlsysim roofline explorer: one forward pass of a catalog model on a catalog accelerator,
 * recomputed in the browser from the exported catalog terms (roofline-data.js) with the
 * equations of the Python solvers:
 *   mlsysim.solvers.roofline.pass_cost / weight_bytes_read / gemm_flops / gemm_bytes /
 *   kernel_compute_time / kernel_roofline_time,
 *   mlsysim.solvers.terms.WaveQuantization.slowdown, launch_overhead and pass_efficiencies,
 *   mlsysim.solvers.convolution.layer_roofline_time (a CNN with described layers),
 *   mlsysim.solvers.engine.solve_terms (and ServingModel._pass at tensor parallelism 1).
 * No number in this file is a literature value: peaks, bandwidths, the per-kernel efficiencies
 * (which cited record applies to each accelerator and precision is decided in Python and
 * exported), the kernel launch overhead and the GEMM tile all come from the catalog export
 * with their citations.
 * tests/test_labs_browser.py checks the numbers against Engine.solve and ServingModel. */
(function () {
  "use strict";
  var D = window.MLSYSIM_ROOFLINE;
  if (!D) { return; }
  var A = D.assumptions;
  var BPE = D.bytes_per_element;

  // ------------------------------------------------------------------ the physics
  function waveTerm(m, h, precision) {
    // terms._read_waves at tp = 1: applies when the model has described GEMMs and the
    // catalog's cited tile applies to this accelerator at this precision (wave > 0).
    var wave = (h.wave && h.wave[precision]) || 0;
    if (!m.gemms.length || !wave) {
      return { wave: 0, reason: m.gemms.length ? (h.wave_reason[precision] || "") : "the model has no described weight GEMMs" };
    }
    var tile = h.tiles[precision];  // the cited tile this accelerator reads at this precision (terms.gemm_tile_values)
    var tc = A[tile.columns].si;
    var columns = [], coefficients = [], shares = 0;
    for (var i = 0; i < m.gemms.length; i++) {
      var n = m.gemms[i][0], share = m.gemms[i][1];
      columns.push(Math.ceil(n / tc));
      coefficients.push(share * tc / n);
      shares += share;
    }
    return { wave: wave, tileRows: A[tile.rows].si, columns: columns, coefficients: coefficients,
             rest: Math.max(1.0 - shares, 0.0), reason: "" };
  }

  function slowdown(w, tokens) {
    // WaveQuantization.slowdown
    if (!w.wave) { return 1.0; }
    var bands = Math.ceil(tokens / w.tileRows);
    var waves = 0.0;
    for (var i = 0; i < w.coefficients.length; i++) {
      waves += w.coefficients[i] * Math.ceil(bands * w.columns[i] / w.wave);
    }
    return Math.max(1.0, w.rest + waves * w.wave * Math.min(tokens, w.tileRows) / tokens);
  }

  function launchSeconds(m, h) {
    // terms.launch_overhead: kernels per pass x the cited per-kernel time that applies to the
    // hardware (terms.kernel_launch_value; h.launch is its key in the assumptions table).
    // A CNN with described layers launches the kernels of its graph (terms.layer_terms).
    var kernels = m.layers ? m.layers.rows.length : m.kernels;
    return (kernels && h.launch) ? kernels * A[h.launch].si : 0.0;
  }

  function castSeconds(m, h, precision, tokens) {
    // terms.input_cast: at fp8 a transformer casts the half-precision inputs of its Q/K/V and dense MLP
    // up/gate projections (hidden elements each) at the cited bytes per element that applies to
    // the hardware (h.fp8_cast is its key in the assumptions table), at peak bandwidth.
    if (precision !== "fp8" || m.kind !== "transformer" || !h.fp8_cast) { return 0.0; }
    return tokens * m.hidden * (2.0 * m.transformer_layers - m.moe_layers) * A[h.fp8_cast].si / h.bandwidth;
  }

  function activationBytes(m, h, precision, bw, tokens) {
    // terms.activation_traffic (one GPU): each kernel of a transformer's pass reads its input
    // activations and writes its output, in device memory unless its working set (those and
    // its weights) fits in the accelerator's cited L2; activations no narrower than the
    // A.activation_bytes record (allreduce_activation_bytes). -> bytes by class
    var out = { gemm: 0.0, attention: 0.0, elementwise: 0.0 };
    if (m.kind !== "transformer" || !m.activation_kernels) { return out; }
    var floor = A.activation_bytes.si;
    var b = BPE[precision] < floor ? floor : BPE[precision];
    var cache = h.l2_cache || 0.0;
    m.activation_kernels.forEach(function (k) {
      if (tokens * k.elements * b + k.weights * bw > cache) { out[k.kind] += k.count * tokens * k.elements * b; }
    });
    return out;
  }

  function weightBytesRead(m, tokens, bytesPerWeight) {
    // roofline.weight_bytes_read
    var params = m.read_params_dense;
    if (m.moe_layers) {
      var e = m.experts_total, k = m.experts_active;
      params = params + m.moe_layers * m.expert_params * e * (1.0 - Math.pow(1.0 - k / e, tokens));
    }
    return params * bytesPerWeight;
  }

  function clipped(tokens, window) {
    // transformer.clipped: min(tokens, window)
    return (tokens + window - Math.abs(tokens - window)) / 2.0;
  }

  function windowedContextSum(tokens, window) {
    // transformer.windowed_context_sum: sum over positions 1..tokens of min(position, window)
    var c = clipped(tokens, window);
    return c * (c + 1.0) / 2.0 + (tokens - c) * window;
  }

  function cachedKvElements(m, tokens) {
    // roofline.cached_kv_elements: a sliding-window layer keeps only its last `window` tokens
    if (!m.windowed_share) { return tokens * m.kv_elements; }
    return m.kv_elements * ((1.0 - m.windowed_share) * tokens + m.windowed_share * clipped(tokens, m.window));
  }

  function causalContext(m, fresh, past) {
    // roofline.causal_context
    var full = fresh * past + fresh * (fresh + 1.0) / 2.0;
    if (!m.windowed_share) { return full; }
    var local = windowedContextSum(past + fresh, m.window) - windowedContextSum(past, m.window);
    return (1.0 - m.windowed_share) * full + m.windowed_share * local;
  }

  function passCost(m, batch, fresh, past, bw, bkv) {
    // roofline.pass_cost -> [flops, bytes moved, resident bytes]
    var weights = m.params_total * bw;
    if (m.kind === "per_inference") {
      var activations = batch * m.activation_elements * bkv;
      var live = batch * (m.peak_activation_elements || m.activation_elements) * bkv;
      return [batch * m.matmul_flops, weights + activations, weights + live];
    }
    var flops = batch * (fresh * m.matmul_flops + m.attention_flops * causalContext(m, fresh, past));
    var kv = batch * cachedKvElements(m, past + fresh) * bkv;
    var read = weightBytesRead(m, batch * fresh, bw);
    return [flops, read + kv, weights + kv];
  }

  function efficienciesOf(m, h, precision) {
    // terms.pass_efficiencies: a transformer pass prices its weight GEMMs, attention and
    // memory traffic at the records cited for this accelerator and precision
    // (terms.kernel_efficiency_values, exported per accelerator); a model with a
    // per-inference or per-parameter FLOP count at the generic compute figure, a CNN's FLOPs
    // at the convolution record chosen for this accelerator and precision (the generic
    // compute figure where none is cited); its bytes at the memory record chosen for this
    // accelerator and precision, as a transformer's.
    var keys = h.efficiencies[precision];
    if (m.kind !== "transformer") {
      var compute = m.convolutional && keys ? A[keys.convolution] : A.compute_efficiency;
      return { gemm: compute, attention: compute, memory: keys ? A[keys.memory] : A.memory_efficiency };
    }
    // A mixture of experts' routed-expert grouped GEMMs at their own record where one is
    // scoped to this accelerator and precision (terms.expert_gemm_value), else like the rest.
    var expert = m.moe_layers && keys.expert_gemm ? A[keys.expert_gemm] : null;
    return { gemm: A[keys.gemm], attention: A[keys.attention], memory: A[keys.memory], expert: expert };
  }

  function weightGemmStretch(m, slow, eff) {
    // roofline.weight_gemm_stretch with terms.routed_gemm_share: the routed experts' share of the
    // weight-GEMM FLOPs at e_gemm / e_expert, the rest stretched by the tile/wave slowdown
    if (!eff.expert || !m.moe_layers || !m.matmul_flops) { return slow; }
    var share = 2.0 * m.experts_active * m.expert_params * m.moe_layers / m.matmul_flops;
    return (1.0 - share) * slow + share * eff.gemm.si / eff.expert.si;
  }

  function kernelComputeTime(gemm, other, slow, peak, eGemm, eOther) {
    // roofline.kernel_compute_time
    return gemm * slow / (peak * eGemm) + other / (peak * eOther);
  }

  function kernelRooflineTime(gemm, other, slow, peak, eGemm, eOther, gemmBytes, otherBytes, bandwidth, eMemory) {
    // roofline.kernel_roofline_time: each kernel class bounded by its own roofs, the classes added
    return Math.max(gemm * slow / (peak * eGemm), gemmBytes / (bandwidth * eMemory)) +
      Math.max(other / (peak * eOther), otherBytes / (bandwidth * eMemory));
  }

  function convSlowdown(L, batch, wave, tr, tc) {
    // The FLOP-weighted tile and wave slowdown of a CNN's convolutions at `batch` (LayerPass.slowdown).
    var charged = 0.0, flops = 0.0;
    for (var k = 0; k < L.rows.length; k++) {
      if (!L.flops[k]) continue;
      var rows = batch * L.rows[k], tiles = Math.ceil(rows / tr) * Math.ceil(L.columns[k] / tc);
      charged += batch * L.flops[k] * Math.ceil(tiles / wave) * wave * Math.min(rows, tr) * tc / (rows * L.columns[k]);
      flops += batch * L.flops[k];
    }
    return charged / flops;
  }

  function layerPass(m, h, precision, batch, peak, eff, bytes) {
    // convolution.layer_roofline_time: a CNN with described layers, one kernel at a time (the
    // unfused graph Engine.solve prices by default), each convolution's tile and wave
    // quantization from the cited convolution tile where it applies (h.conv_wave > 0); a
    // kernel whose working set fits in the L2 (h.l2_cache) reads only its weights from memory.
    // A whole-network convolution figure measured at batch B0 (h.conv_measured_batch) holds
    // B0's tile losses, so it is divided by that slowdown (terms.LayerTerms.efficiency_scale).
    // A batch norm, ReLU or residual add with a measured line (h.operator_lines) is priced on it.
    var L = m.layers, wave = (h.conv_wave && h.conv_wave[precision]) || 0, cache = h.l2_cache || 0;
    var tr = 1.0, tc = 1.0, scale = 1.0, lines = h.operator_lines && h.operator_lines[precision];
    if (wave) { tr = A[h.conv_tiles[precision].rows].si; tc = A[h.conv_tiles[precision].columns].si; }
    var measured = (h.conv_measured_batch && h.conv_measured_batch[precision]) || 0;
    if (wave && measured) { scale = Math.min(convSlowdown(L, measured, wave, tr, tc), 1.0 / eff.gemm.si); }
    var computeRate = peak * eff.gemm.si * scale, memoryRate = h.bandwidth * eff.memory.si / bytes;
    var total = 0.0, compute = 0.0, memory = 0.0, charged = 0.0, flops = 0.0, moved = 0.0;
    for (var k = 0; k < L.rows.length; k++) {
      var elements = batch * L.activations[k] + L.weights[k];
      if (elements * bytes <= cache) elements = L.weights[k];
      var tMemory = elements / memoryRate;
      if (L.flops[k]) {
        var work = batch * L.flops[k];
        if (wave) {
          var rows = batch * L.rows[k];
          var tiles = Math.ceil(rows / tr) * Math.ceil(L.columns[k] / tc);
          work = work * Math.ceil(tiles / wave) * wave * Math.min(rows, tr) * tc / (rows * L.columns[k]);
        }
        var tCompute = work / computeRate;
        charged += work; compute += tCompute; total += Math.max(tCompute, tMemory);
      } else if (lines && lines[L.operators[k]]) {
        // An element-wise operator with a measured line (terms.operator_line_values): its fixed
        // run time plus its bytes at its own measured fraction of the bandwidth.
        var line = lines[L.operators[k]];
        tMemory = elements * bytes / (h.bandwidth * A[line.efficiency].si);
        total += A[line.fixed].si + tMemory;
      } else {
        total += tMemory;
      }
      memory += tMemory; flops += L.flops[k]; moved += elements;
    }
    return { time: total, compute: compute, memory: memory, flops: batch * flops,
             bytes: moved * bytes, slowdown: charged / (batch * flops) };
  }

  function bottleneckOf(tc, tm, to) {
    // engine.bottleneck_of
    if (to > Math.max(tc, tm)) { return "Overhead"; }
    return tc > tm ? "Compute" : "Memory";
  }

  // One pass: `fresh` new tokens per sequence after `past` cached ones (Engine.solve: past = 0).
  function solve(m, h, precision, wPrecision, kvPrecision, batch, fresh, past) {
    var peak = h.peaks[precision];
    var bw = BPE[wPrecision], bkv = BPE[kvPrecision];
    var cost = passCost(m, batch, fresh, past, bw, bkv);
    var flops = cost[0], moved = cost[1], resident = cost[2];
    var w = waveTerm(m, h, precision);
    var slow = slowdown(w, batch * fresh);
    var gemm = m.kind === "per_inference" ? 0.0 : batch * fresh * m.matmul_flops;
    var eff = efficienciesOf(m, h, precision);
    var stretch = weightGemmStretch(m, slow, eff);
    var tCompute = kernelComputeTime(gemm, flops - gemm, stretch, peak, eff.gemm.si, eff.attention.si);
    var weights = m.kind === "per_inference" ? 0.0 : weightBytesRead(m, batch * fresh, bw);  // roofline.gemm_bytes
    // The activations join: a GEMM's its weights, the attention's the KV cache, the element-wise
    // kernels' are bound by their traffic alone (terms.ActivationTraffic.joined).
    var act = activationBytes(m, h, precision, bw, batch * fresh);
    var other = moved - weights + act.attention;
    weights += act.gemm;
    moved += act.gemm + act.attention + act.elementwise;
    var tMemory = moved / (h.bandwidth * eff.memory.si);
    var overhead = launchSeconds(m, h);
    var latency;
    if (m.layers && m.kind === "per_inference") {
      var lp = layerPass(m, h, precision, batch, peak, eff, bw);
      flops = lp.flops; moved = lp.bytes; tCompute = lp.compute; tMemory = lp.memory; slow = lp.slowdown;
      latency = lp.time + overhead;
    } else {
      latency = kernelRooflineTime(gemm, flops - gemm, stretch, peak, eff.gemm.si, eff.attention.si, weights,
        other, h.bandwidth, eff.memory.si) + act.elementwise / (h.bandwidth * eff.memory.si) + overhead +
        castSeconds(m, h, precision, batch * fresh);
    }
    var steps = m.steps || 1;  // a diffusion model: one such pass per denoising step (engine.solve_terms)
    if (steps !== 1) {
      tCompute *= steps; tMemory *= steps; overhead *= steps; latency *= steps; flops *= steps; moved *= steps;
    }
    return {
      latency: latency, latency_compute: tCompute, latency_memory: tMemory, latency_overhead: overhead,
      throughput: batch / latency, tokens_per_second: batch * fresh / latency,
      arithmetic_intensity: flops / moved, memory_usage: resident, memory_capacity: h.capacity,
      flops: flops, bytes_moved: moved, gemm_utilization: 1.0 / slow,
      mfu: flops / (latency * peak), mbu: moved / (latency * h.bandwidth),
      bottleneck: bottleneckOf(tCompute, tMemory, overhead), feasible: resident <= h.capacity,
      achieved: flops / latency, peak: peak, wave_reason: w.reason, efficiencies: eff
    };
  }
  window.mlsysimRoofline = { solve: solve, slowdown: slowdown, waveTerm: waveTerm, passCost: passCost, layerPass: layerPass,
                             efficienciesOf: efficienciesOf };

  // ------------------------------------------------------------------ formatting
  var SI = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""], [1e-3, "m"], [1e-6, "µ"], [1e-9, "n"]];
  function sig(x, n) { return Number(x.toPrecision(n || 4)).toString(); }
  function si(x, unit) {
    if (!isFinite(x)) { return "∞ " + unit; }
    if (x === 0) { return "0 " + unit; }
    for (var i = 0; i < SI.length; i++) {
      if (Math.abs(x) >= SI[i][0] * 0.9995) { return sig(x / SI[i][0]) + " " + SI[i][1] + unit; }
    }
    return sig(x) + " " + unit;
  }
  function bytes(x) {
    var units = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];
    for (var i = 0; i < units.length; i++) { if (x >= units[i][0] * 0.9995) { return sig(x / units[i][0]) + " " + units[i][1]; } }
    return sig(x) + " B";
  }
  function pct(x) { return sig(100 * x, 3) + " %"; }
  function el(id) { return document.getElementById(id); }
  function text(node, value) { node.textContent = value; }
  function make(tag, attrs, content) {
    var node = document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, attrs[k]); } }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  // ------------------------------------------------------------------ controls
  var hwSel = el("lab-hardware"), precSel = el("lab-precision"), modelSel = el("lab-model");
  var phaseSel = el("lab-phase"), wSel = el("lab-weight-precision"), kvSel = el("lab-kv-precision");
  var batchIn = el("lab-batch"), batchRange = el("lab-batch-range");
  var seqIn = el("lab-seq"), seqRange = el("lab-seq-range");
  var pins = [];

  function byId(list, id) { for (var i = 0; i < list.length; i++) { if (list[i].id === id) { return list[i]; } } return null; }

  function fillGrouped(select, list, groupKey, labelOf) {
    var groups = {};
    var order = [];
    list.forEach(function (item) {
      var g = item[groupKey] || "other";
      if (!groups[g]) { groups[g] = make("optgroup", { label: g }); order.push(g); }
      groups[g].appendChild(make("option", { value: item.id }, labelOf(item)));
    });
    order.forEach(function (g) { select.appendChild(groups[g]); });
  }
  fillGrouped(hwSel, D.hardware, "tier", function (h) { return h.title; });
  fillGrouped(modelSel, D.models, "family", function (m) { return m.title; });
  var formats = Object.keys(BPE);
  [wSel, kvSel].forEach(function (select) {
    select.appendChild(make("option", { value: "" }, "same as compute"));
    formats.forEach(function (f) { select.appendChild(make("option", { value: f }, f + " (" + BPE[f] + " B)")); });
  });

  function params() {
    var h = byId(D.hardware, hwSel.value), m = byId(D.models, modelSel.value);
    return { h: h, m: m, precision: precSel.value };
  }

  function servingCapable(m) { return m.kind === "transformer" && !m.encoder; }

  function refreshPrecisions() {
    var h = byId(D.hardware, hwSel.value);
    var keep = precSel.value;
    precSel.textContent = "";
    Object.keys(h.peaks).forEach(function (p) { precSel.appendChild(make("option", { value: p }, p + " · " + si(h.peaks[p], "FLOP/s"))); });
    if (h.peaks[keep] !== undefined) { precSel.value = keep; }
    else if (h.peaks.fp16 !== undefined) { precSel.value = "fp16"; }
    else if (h.peaks.bf16 !== undefined) { precSel.value = "bf16"; }
  }

  function refreshModelControls() {
    var m = byId(D.models, modelSel.value);
    var tokenModel = m.kind !== "per_inference";
    var serving = servingCapable(m);
    seqIn.disabled = seqRange.disabled = !tokenModel;
    var maxSeq = tokenModel && m.context ? m.context : 1;
    if (!tokenModel) { seqIn.value = "1"; }
    seqIn.max = String(tokenModel && m.context ? m.context : 1048576);
    seqRange.max = String(Math.max(0, Math.floor(Math.log2(tokenModel && m.context ? maxSeq : 1048576))));
    if (m.context && Number(seqIn.value) > m.context) { seqIn.value = String(m.context); }
    phaseSel.disabled = wSel.disabled = kvSel.disabled = !serving;
    if (!serving) { phaseSel.value = "prefill"; wSel.value = ""; kvSel.value = ""; }
    text(el("lab-model-note"), serving ? "" :
      (m.kind === "per_inference"
        ? m.title + " has a cited FLOP count per inference: one pass per batch, weights and activations in the compute precision (Engine.solve)."
        : m.title + (m.encoder ? " is an encoder" : " is not a transformer decoder") +
          ": one pass of seq_len tokens, weights and cache in the compute precision (Engine.solve); decode and separate storage formats apply to transformer decoders (ServingModel)."));
  }

  function clampInt(input, lo, hi) {
    var v = Math.round(Number(input.value));
    if (!isFinite(v) || v < lo) { v = lo; }
    if (hi && v > hi) { v = hi; }
    return v;
  }

  function pythonCall(s) {
    var m = s.m, h = s.h;
    var same = (!wSel.value || wSel.value === s.precision) && (!kvSel.value || kvSel.value === s.precision);
    if (phaseSel.value === "prefill" && same) {
      return 'Engine.solve(model="' + m.name + '", hardware="' + h.name + '", batch_size=' + s.batch +
        ', precision="' + s.precision + '"' + (m.kind === "per_inference" ? "" : ", seq_len=" + s.seq) + ")";
    }
    var ctor = 'ServingModel("' + m.name + '", "' + h.name + '", precision="' + s.precision + '", weight_precision="' +
      s.wPrec + '", kv_precision="' + s.kvPrec + '")';
    return phaseSel.value === "prefill" ? ctor + ".prefill(" + s.seq + ", batch_size=" + s.batch + ")"
      : ctor + ".decode_step(" + (s.seq - 1) + ", batch_size=" + s.batch + ")";
  }

  function show(id, value, shown) {
    var node = el(id);
    node.setAttribute("data-value", typeof value === "number" ? String(value) : value);
    text(node, shown);
  }

  function update() {
    var s = params();
    var m = s.m, h = s.h;
    s.batch = clampInt(batchIn, 1, 1048576);
    s.seq = m.kind === "per_inference" ? 1 : clampInt(seqIn, 1, m.context || 0);
    s.wPrec = wSel.value || s.precision;
    s.kvPrec = kvSel.value || s.precision;
    var decode = phaseSel.value === "decode" && servingCapable(m);
    var fresh = decode ? 1 : s.seq, past = decode ? s.seq - 1 : 0;
    var r = solve(m, h, s.precision, s.wPrec, s.kvPrec, s.batch, fresh, past);
    show("out-latency", r.latency, si(r.latency, "s"));
    show("out-compute", r.latency_compute, si(r.latency_compute, "s"));
    show("out-memory", r.latency_memory, si(r.latency_memory, "s"));
    show("out-overhead", r.latency_overhead, si(r.latency_overhead, "s"));
    show("out-bottleneck", r.bottleneck, r.bottleneck + "-bound");
    show("out-mfu", r.mfu, pct(r.mfu));
    show("out-mbu", r.mbu, pct(r.mbu));
    show("out-ai", r.arithmetic_intensity, sig(r.arithmetic_intensity) + " FLOP/B");
    show("out-flops", r.flops, si(r.flops, "FLOP"));
    show("out-bytes", r.bytes_moved, bytes(r.bytes_moved));
    var perInference = m.kind === "per_inference";
    show("out-throughput", r.throughput, sig(r.throughput) + (perInference ? " inferences/s" : " sequences/s"));
    show("out-tokens", r.tokens_per_second, perInference ? "— (not a token model)" : sig(r.tokens_per_second) + " tokens/s");
    show("out-gemm", r.gemm_utilization, pct(r.gemm_utilization));
    show("out-memory-usage", r.memory_usage, bytes(r.memory_usage) + " of " + bytes(h.capacity));
    show("out-feasible", r.feasible ? "true" : "false", r.feasible ? "fits in memory" : "does not fit in memory");
    el("out-feasible").className = r.feasible ? "lab-ok" : "lab-warn";
    show("out-ridge", h.peaks[s.precision] / h.bandwidth, sig(h.peaks[s.precision] / h.bandwidth) + " FLOP/B");
    var e = r.efficiencies;
    show("out-efficiency", [e.gemm.id, e.attention.id, e.memory.id].join(" "),
      "weight GEMMs " + pct(e.gemm.si) + " (" + e.gemm.id + "), " +
      (e.expert ? "routed experts " + pct(e.expert.si) + " (" + e.expert.id + "), " : "") +
      "attention " + pct(e.attention.si) + " (" + e.attention.id + "), memory " + pct(e.memory.si) + " (" + e.memory.id + ")");
    text(el("lab-python"), pythonCall(s));
    var notes = [];
    if (h.on_chip) {
      notes.push(h.name + "'s memory figures are on-chip SRAM: the memory roof assumes every byte is served from it; data beyond on-chip capacity streams from external memory, which the catalog does not describe.");
    }
    if (!h.launch) { notes.push("No kernel-launch overhead: the cited figure (" + A.kernel_launch.id + ") is for " + (A.kernel_launch.qualifiers.vendor || "another vendor") + " GPUs, and no per-kernel time is cited for " + h.name + "."); }
    if (r.wave_reason) { notes.push("No GEMM wave quantization: " + r.wave_reason + "."); }
    if (!r.feasible) { notes.push("Weights and KV cache (" + bytes(r.memory_usage) + ") exceed the " + bytes(h.capacity) + " of memory: this pass does not fit on one " + h.name + "."); }
    var list = el("lab-notes");
    list.textContent = "";
    notes.forEach(function (n) { list.appendChild(make("li", {}, n)); });
    s.result = r;
    s.decode = decode;
    draw(s);
    return s;
  }

  // ------------------------------------------------------------------ the chart
  var NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, content) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, attrs[k]); } }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }
  function log10(x) { return Math.log(x) / Math.LN10; }

  function draw(s) {
    var chart = el("lab-chart");
    chart.textContent = "";
    // Coordinates follow the drawn width, so that labels stay legible on a phone.
    var W = Math.round(Math.max(340, Math.min(640, chart.getBoundingClientRect().width || 640)));
    var H = Math.round(W * 0.62), L = 58, R = 14, T = 16, B = 46;
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    var h = s.h, r = s.result, peak = h.peaks[s.precision];
    var ridge = peak / h.bandwidth;
    var xs = [ridge, r.arithmetic_intensity], ys = [peak, r.achieved];
    pins.forEach(function (p) { xs.push(p.ai); ys.push(p.perf); });
    var x0 = Math.floor(log10(Math.min.apply(null, xs)) - 1), x1 = Math.ceil(log10(Math.max.apply(null, xs)) + 1);
    var yTop = Math.ceil(log10(Math.max.apply(null, ys)) + 0.3);
    var y0 = Math.floor(Math.min(log10(Math.min.apply(null, ys)), log10(Math.pow(10, x0) * h.bandwidth)) - 0.3);
    y0 = Math.max(y0, yTop - 9);
    function X(v) { return L + (log10(v) - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return T + (yTop - Math.max(log10(v), y0)) / (yTop - y0) * (H - T - B); }
    chart.appendChild(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fbfcfd", stroke: "#d9dee4" }));
    for (var d = x0; d <= x1; d++) {
      chart.appendChild(svg("line", { x1: X(Math.pow(10, d)), x2: X(Math.pow(10, d)), y1: T, y2: H - B, stroke: "#e6eaee" }));
      chart.appendChild(svg("text", { x: X(Math.pow(10, d)), y: H - B + 16, "text-anchor": "middle", "font-size": 11, fill: "#5a6470" }, "1e" + d));
    }
    for (var e = y0; e <= yTop; e++) {
      chart.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(Math.pow(10, e)), y2: Y(Math.pow(10, e)), stroke: "#e6eaee" }));
      chart.appendChild(svg("text", { x: L - 6, y: Y(Math.pow(10, e)) + 4, "text-anchor": "end", "font-size": 11, fill: "#5a6470" }, "1e" + e));
    }
    chart.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 10, "text-anchor": "middle", "font-size": 12, fill: "#1d232b" }, "arithmetic intensity [FLOP/B]"));
    chart.appendChild(svg("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12, fill: "#1d232b", transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, "performance [FLOP/s]"));
    function roof(p, bw, attrs) {
      var xa = Math.pow(10, x0), xb = Math.pow(10, x1), knee = p / bw;
      var pts = [[xa, xa * bw], [Math.min(Math.max(knee, xa), xb), Math.min(knee, xb) * bw], [xb, Math.min(p, xb * bw)]];
      chart.appendChild(svg("polyline", Object.assign({ fill: "none", points: pts.map(function (q) { return X(q[0]) + "," + Y(q[1]); }).join(" ") }, attrs)));
    }
    roof(peak, h.bandwidth, { stroke: "#1f5fa8", "stroke-width": 2.5 });
    roof(peak * r.efficiencies.gemm.si, h.bandwidth * r.efficiencies.memory.si, { stroke: "#1f5fa8", "stroke-width": 1.5, "stroke-dasharray": "5 4" });
    chart.appendChild(svg("line", { x1: X(ridge), x2: X(ridge), y1: Y(peak), y2: H - B, stroke: "#8a939d", "stroke-dasharray": "2 3" }));
    chart.appendChild(svg("text", { x: X(ridge) + 4, y: H - B - 6, "font-size": 11, fill: "#5a6470" }, "ridge " + sig(ridge, 3)));
    pins.forEach(function (p, i) {
      chart.appendChild(svg("circle", { cx: X(p.ai), cy: Y(p.perf), r: 5, fill: "#9aa4ae", stroke: "#3f4852" }));
      chart.appendChild(svg("text", { x: X(p.ai) + 7, y: Y(p.perf) - 6, "font-size": 11, fill: "#3f4852" }, String(i + 1)));
    });
    var colour = r.bottleneck === "Compute" ? "#c0392b" : (r.bottleneck === "Memory" ? "#1e8449" : "#b9770e");
    chart.appendChild(svg("circle", { cx: X(r.arithmetic_intensity), cy: Y(r.achieved), r: 7, fill: colour, stroke: "#1d232b", "stroke-width": 1.5, id: "lab-point" }));
    var summary = s.m.title + " on " + s.h.title + " at " + s.precision + ": arithmetic intensity " + sig(r.arithmetic_intensity, 3) +
      " FLOP/B, " + si(r.achieved, "FLOP/s") + " achieved of a " + si(peak, "FLOP/s") + " peak, " + r.bottleneck.toLowerCase() +
      "-bound; the ridge point is at " + sig(ridge, 3) + " FLOP/B.";
    chart.setAttribute("aria-label", "Roofline chart. " + summary);
    text(el("lab-chart-summary"), summary);
  }

  // ------------------------------------------------------------------ pins
  function renderPins() {
    var list = el("lab-pins");
    list.textContent = "";
    pins.forEach(function (p, i) { list.appendChild(make("li", {}, (i + 1) + ". " + p.label)); });
    el("lab-clear").disabled = pins.length === 0;
    el("lab-pins-empty").hidden = pins.length > 0;
  }

  // ------------------------------------------------------------------ wiring
  function syncFromRange(range, input) { input.value = String(Math.pow(2, Number(range.value))); }
  function syncToRange(input, range) { range.value = String(Math.round(Math.log2(Math.max(1, Number(input.value) || 1)))); }
  batchRange.addEventListener("input", function () { syncFromRange(batchRange, batchIn); update(); });
  seqRange.addEventListener("input", function () { syncFromRange(seqRange, seqIn); refreshModelControls(); update(); });
  batchIn.addEventListener("input", function () { syncToRange(batchIn, batchRange); update(); });
  seqIn.addEventListener("input", function () { syncToRange(seqIn, seqRange); update(); });
  hwSel.addEventListener("change", function () { refreshPrecisions(); update(); });
  modelSel.addEventListener("change", function () { refreshModelControls(); syncToRange(seqIn, seqRange); update(); });
  [precSel, phaseSel, wSel, kvSel].forEach(function (c) { c.addEventListener("change", update); });
  el("lab-pin").addEventListener("click", function () {
    var s = update();
    pins.push({ ai: s.result.arithmetic_intensity, perf: s.result.achieved,
                label: s.m.title + " · " + s.h.title + " · " + s.precision + " · batch " + s.batch + " · " +
                       (s.decode ? "decode at " + s.seq : "seq " + s.seq) + ": " + s.result.bottleneck.toLowerCase() + "-bound" });
    renderPins();
    update();
  });
  el("lab-clear").addEventListener("click", function () { pins = []; renderPins(); update(); });
  var resizeTimer = null;
  window.addEventListener("resize", function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(update, 100); });

  // Defaults: the first accelerator/model the page names (data-default), else the first listed.
  if (hwSel.getAttribute("data-default") && byId(D.hardware, hwSel.getAttribute("data-default"))) { hwSel.value = hwSel.getAttribute("data-default"); }
  if (modelSel.getAttribute("data-default") && byId(D.models, modelSel.getAttribute("data-default"))) { modelSel.value = modelSel.getAttribute("data-default"); }
  refreshPrecisions();
  refreshModelControls();
  syncToRange(batchIn, batchRange);
  syncToRange(seqIn, seqRange);
  renderPins();
  update();
  document.documentElement.setAttribute("data-lab-ready", "roofline");
})();
