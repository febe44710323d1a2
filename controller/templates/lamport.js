(function () {
  "use strict";
  // The report's Lamport diagram (controller/lamport.py builds the data). Times are µs on
  // the history's clock. Only what is in view is drawn; messages are sorted by send time.
  var D = JSON.parse(document.getElementById("lamport-data").textContent);
  var M = D.msgs, n = M.s.length, nl = D.lanes.length, NN = D.nodes;
  var canvas = document.getElementById("lamport-canvas");
  var ctx = canvas.getContext("2d");
  var tip = document.getElementById("lamport-tip");
  var selBox = document.getElementById("lamport-selected");
  var storyBox = document.getElementById("slot-story");
  var LEFT = 110, TOP = 26, AXIS = 22;
  var laneH = Math.max(12, Math.min(26, Math.floor(640 / Math.max(nl, 1))));
  var OPC = {ok: "#2a9d3a", fail: "#d62728", info: "#f08c00", pending: "#999999"};
  var TYC = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
             "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
  var BEAT = {};
  D.types.forEach(function (t, k) { if (t === "heartbeat" || t === "heartbeat_ok") BEAT[k] = 1; });
  var maxDur = 0, tMin = Infinity, tMax = -Infinity;
  for (var j = 0; j < n; j++) {
    var e = M.r[j] === null ? M.s[j] : M.r[j];
    if (e - M.s[j] > maxDur) maxDur = e - M.s[j];
    if (M.s[j] < tMin) tMin = M.s[j];
    if (e > tMax) tMax = e;
  }
  D.ops.forEach(function (o) { if (o[2] > tMax) tMax = o[2]; });
  var v0 = D.view[0], v1 = D.view[1], MARKED = {};
  D.marked.forEach(function (i) { MARKED[i] = 1; });  // the operations in question
  var filt = {type: "", node: "", slot: null, ballot: "", beats: false};
  var hi = null, hiOp = null, drawn = 0;
  var cmdSlots = {};  // client_id:seq -> {slot: 1}
  for (j = 0; j < n; j++) {
    M.cmds[j].forEach(function (c) {
      var at = c.indexOf("@");
      if (at < 0) return;
      var k = c.slice(0, at);
      (cmdSlots[k] = cmdSlots[k] || {})[c.slice(at + 1)] = 1;
    });
  }

  function width() { return canvas.clientWidth || 900; }
  function height() { return TOP + nl * laneH + AXIS; }
  function xOf(t, w) { return LEFT + (t - v0) * (w - LEFT - 10) / (v1 - v0); }
  function tOf(x, w) { return v0 + (x - LEFT) * (v1 - v0) / (w - LEFT - 10); }
  function yOf(l) { return TOP + l * laneH + laneH / 2; }
  function fmt(us) {
    if (Math.abs(us) >= 1e6) return (us / 1e6).toFixed(3) + " s";
    if (Math.abs(us) >= 1e3) return (us / 1e3).toFixed(2) + " ms";
    return us.toFixed(0) + " µs";
  }
  function ballot(j) { return M.g[j] < 0 ? "" : D.ballots[M.g[j]]; }
  function shown(j) {
    if (hi && hi[j]) return true;
    if (!filt.beats && BEAT[M.y[j]] && filt.type === "") return false;
    if (filt.type !== "" && D.types[M.y[j]] !== filt.type) return false;
    if (filt.node !== "" && M.a[j] !== +filt.node && M.b[j] !== +filt.node) return false;
    if (filt.ballot !== "" && ballot(j) !== filt.ballot) return false;
    if (filt.slot !== null && M.slots[j].indexOf(filt.slot) < 0) return false;
    return true;
  }
  // first message sent at or after t
  function lowerSend(t) {
    var lo = 0, h = n;
    while (lo < h) { var m = (lo + h) >> 1; if (M.s[m] < t) lo = m + 1; else h = m; }
    return lo;
  }
  function visible(fn) {
    var a = lowerSend(v0 - maxDur), b = lowerSend(v1 + 1);
    for (var k = a; k < b; k++) {
      var e = M.r[k] === null ? M.s[k] : M.r[k];
      if (e >= v0 && shown(k)) fn(k);
    }
  }
  function arrow(x1, y1, x2, y2) {
    ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
    var a = Math.atan2(y2 - y1, x2 - x1), s = 5;
    ctx.beginPath(); ctx.moveTo(x2, y2);
    ctx.lineTo(x2 - s * Math.cos(a - 0.4), y2 - s * Math.sin(a - 0.4));
    ctx.lineTo(x2 - s * Math.cos(a + 0.4), y2 - s * Math.sin(a + 0.4));
    ctx.closePath(); ctx.fill();
  }
  function draw() {
    var w = width(), h = height(), dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr; canvas.height = h * dpr; canvas.style.height = h + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px sans-serif";
    D.faults.forEach(function (f) {  // faults: shaded bands across every lane
      var x1 = Math.max(LEFT, xOf(f[0], w)), x2 = Math.min(w - 10, xOf(f[1], w));
      if (x2 < LEFT || x1 > w - 10) return;
      ctx.fillStyle = "rgba(227,119,194,0.12)"; ctx.fillRect(x1, TOP, Math.max(x2 - x1, 1), nl * laneH);
      ctx.fillStyle = "#a0306f"; ctx.fillText(f[3], x1 + 2, TOP - 14);
    });
    for (var l = 0; l < nl; l++) {
      var y = yOf(l);
      ctx.strokeStyle = l < NN ? "#555" : "#ccc"; ctx.lineWidth = l < NN ? 1.5 : 1;
      ctx.beginPath(); ctx.moveTo(LEFT, y); ctx.lineTo(w - 10, y); ctx.stroke();
      ctx.fillStyle = l < NN ? "#000" : "#666"; ctx.fillText(D.lanes[l], 4, y + 4);
    }
    D.ops.forEach(function (o) {  // client operations on their process's line
      if (o[2] < v0 || o[1] > v1) return;
      var x1 = Math.max(LEFT, xOf(o[1], w)), x2 = Math.min(w - 10, xOf(o[2], w)), y = yOf(o[0]);
      ctx.fillStyle = OPC[o[3]] || "#999";
      ctx.globalAlpha = hiOp === null || hiOp === o[5] ? 0.75 : 0.25;
      ctx.fillRect(x1, y - laneH * 0.35, Math.max(x2 - x1, 2), laneH * 0.7);
      ctx.globalAlpha = 1;
      if (o[5] === D.failing || o[5] === hiOp || MARKED[o[5]]) {
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
        ctx.strokeRect(x1, y - laneH * 0.35, Math.max(x2 - x1, 2), laneH * 0.7);
      }
    });
    D.learned.forEach(function (e) {  // chosen (hollow) and applied (filled) marks
      if (e[0] < v0 || e[0] > v1) return;
      if (filt.slot !== null && e[2] !== filt.slot) return;
      if (filt.slot === null && !hi) return;  // many per node: only for a slot in question
      if (hi && filt.slot === null && !hiSlots[e[2]]) return;
      var x = xOf(e[0], w), y = yOf(e[1]);
      ctx.strokeStyle = ctx.fillStyle = "#2a9d3a";
      ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 6.3);
      if (e[3]) ctx.fill(); else ctx.stroke();
    });
    drawn = 0;
    visible(function (k) {
      var x1 = xOf(M.s[k], w), y1 = yOf(M.a[k]), y2 = yOf(M.b[k]);
      var c = TYC[M.y[k] % TYC.length], strong = hi && hi[k];
      ctx.globalAlpha = hi && !strong ? 0.15 : 0.9;
      ctx.strokeStyle = ctx.fillStyle = c; ctx.lineWidth = strong ? 2.2 : 1;
      if (M.r[k] === null) {  // never delivered: a cross a little way along
        var x2 = x1 + 12, ym = y1 + (y2 - y1) * 0.3;
        ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, ym); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(x2 - 3, ym - 3); ctx.lineTo(x2 + 3, ym + 3);
        ctx.moveTo(x2 + 3, ym - 3); ctx.lineTo(x2 - 3, ym + 3); ctx.stroke();
      } else {
        arrow(x1, y1, xOf(M.r[k], w), y2);
      }
      drawn++;
    });
    ctx.globalAlpha = 1; ctx.lineWidth = 1;
    ctx.fillStyle = "#333"; ctx.strokeStyle = "#999";
    var ya = TOP + nl * laneH + 14;
    for (var i = 0; i <= 6; i++) {
      var t = v0 + (v1 - v0) * i / 6, x = xOf(t, w);
      ctx.fillText(fmt(t), Math.min(x, w - 70), ya);
    }
    api.drawn = drawn;
  }

  function nearest(x, y) {
    var w = width(), best = -1, bd = 36;
    visible(function (k) {
      var x1 = xOf(M.s[k], w), y1 = yOf(M.a[k]);
      var x2 = M.r[k] === null ? x1 + 12 : xOf(M.r[k], w), y2 = yOf(M.b[k]);
      var dx = x2 - x1, dy = y2 - y1, L = dx * dx + dy * dy;
      var u = L ? Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / L)) : 0;
      var ex = x1 + u * dx - x, ey = y1 + u * dy - y, dd = ex * ex + ey * ey;
      if (dd < bd) { bd = dd; best = k; }
    });
    return best;
  }
  function opAt(x, y) {
    var w = width(), l = Math.floor((y - TOP) / laneH), t = tOf(x, w);
    var slack = (v1 - v0) * 3 / w;
    for (var i = 0; i < D.ops.length; i++) {
      var o = D.ops[i];
      if (o[0] === l && o[1] - slack <= t && t <= o[2] + slack) return o;
    }
    return null;
  }
  function describe(k) {
    return D.types[M.y[k]] + " " + D.lanes[M.a[k]] + " → " + D.lanes[M.b[k]] +
      (ballot(k) ? "  ballot " + ballot(k) : "") +
      (M.slots[k].length ? "  slots " + M.slots[k].slice(0, 12).join(",") : "") +
      "\nsent " + fmt(M.s[k]) + (M.r[k] === null ? "  NEVER DELIVERED" :
        "  delivered " + fmt(M.r[k]) + " (+" + fmt(M.r[k] - M.s[k]) + ")") +
      "  " + M.z[k] + " bytes" + (M.cmds[k].length ? "\ncommands " + M.cmds[k].slice(0, 6).join(" ") : "");
  }

  var hiSlots = {};
  function selectOp(index) {
    var o = null;
    D.ops.forEach(function (p) { if (p[5] === index) o = p; });
    if (!o) return 0;
    hi = {}; hiSlots = {}; hiOp = index;
    var cmds = {}, count = 0;
    for (var k = 0; k < n; k++) {  // the client's requests and replies while it was open
      if ((M.a[k] === o[0] || M.b[k] === o[0]) && M.s[k] >= o[1] && M.s[k] <= o[2]) {
        hi[k] = 1;
        M.cmds[k].forEach(function (c) { if (c.indexOf("@") < 0) cmds[c] = 1; });
      }
    }
    Object.keys(cmds).forEach(function (c) {
      Object.keys(cmdSlots[c] || {}).forEach(function (s) { hiSlots[s] = 1; });
    });
    for (k = 0; k < n; k++) {
      var ss = M.slots[k];
      for (var i = 0; i < ss.length; i++) if (hiSlots[ss[i]]) { hi[k] = 1; break; }
    }
    for (k in hi) count++;
    var slots = Object.keys(hiSlots).map(Number).sort(function (a, b) { return a - b; });
    selBox.innerHTML = "";
    selBox.appendChild(document.createTextNode("op " + index + " (" + o[4] + ", " + o[3] +
      "): " + count + " messages served it" + (slots.length ? ", through slot(s) " : "; no slot")));
    slots.forEach(function (s) {
      var a = document.createElement("a");
      a.href = "#slot-" + s; a.textContent = " " + s; a.className = "lp-slot";
      selBox.appendChild(a);
    });
    if (o[1] < v0 || o[2] > v1) { var span = Math.max(o[2] - o[1], 1000); v0 = o[1] - span; v1 = o[2] + span; }
    api.highlighted = count; api.slots = slots;
    draw();
    return count;
  }
  function clearSel() { hi = null; hiOp = null; hiSlots = {}; selBox.textContent = ""; api.highlighted = 0; }

  function story(slot) {
    var rows = [], ballots = {}, prop = {}, k;
    for (k = 0; k < n; k++) if (M.slots[k].indexOf(slot) >= 0) {
      rows.push(k); if (ballot(k)) ballots[ballot(k)] = 1;
    }
    for (k = 0; k < n; k++) {  // the prepares and promises of those ballots (phase 1)
      var t = D.types[M.y[k]];
      if ((t === "prepare" || t === "promise" || t === "nack") && ballots[ballot(k)] &&
          rows.indexOf(k) < 0) rows.push(k);
    }
    rows.sort(function (a, b) { return M.s[a] - M.s[b]; });
    var lines = [];
    Object.keys(ballots).forEach(function (b) {  // who accepted, and when a quorum had
      var got = {}, at = null, who = [];
      rows.forEach(function (k) {
        if (D.types[M.y[k]] !== "accepted" || ballot(k) !== b || M.r[k] === null) return;
        var key = M.b[k];
        got[key] = got[key] || {};
        if (!got[key][M.a[k]]) {
          got[key][M.a[k]] = M.r[k];
          if (Object.keys(got[key]).length === D.quorum && at === null) {
            at = M.r[k]; who = Object.keys(got[key]).map(function (x) { return D.lanes[x]; });
            prop = D.lanes[key];
          }
        }
      });
      var acc = {};
      rows.forEach(function (k) { if (D.types[M.y[k]] === "accepted" && ballot(k) === b) acc[D.lanes[M.a[k]]] = 1; });
      lines.push("ballot " + b + ": accepted by " + (Object.keys(acc).join(", ") || "nobody") +
        (at !== null ? "; accepted messages from a quorum (" + who.join(", ") + ") had reached " + prop + " by " + fmt(at)
          : "; no quorum of accepted reached a proposer in this trace"));
    });
    var learned = D.learned.filter(function (e) { return e[2] === slot; });
    learned.sort(function (a, b) { return a[0] - b[0]; });
    learned.forEach(function (e) {
      lines.push((e[3] ? "applied" : "learned chosen") + " by " + D.lanes[e[1]] + " at " + fmt(e[0]));
    });
    var h = "<h3 id=\"slot-" + slot + "-story\">Slot " + slot + "'s story</h3>";
    if (!rows.length && !learned.length) h += "<p>No message in this page touches slot " + slot + ".</p>";
    h += "<ul>" + lines.map(function (s) { return "<li>" + esc(s) + "</li>"; }).join("") + "</ul>";
    h += "<table><tr><th>sent</th><th>delivered</th><th>from → to</th><th>type</th><th>ballot</th><th>slots</th></tr>";
    rows.slice(0, 400).forEach(function (k) {
      h += "<tr><td>" + fmt(M.s[k]) + "</td><td>" + (M.r[k] === null ? "never" : fmt(M.r[k])) +
        "</td><td>" + esc(D.lanes[M.a[k]] + " → " + D.lanes[M.b[k]]) + "</td><td>" +
        esc(D.types[M.y[k]]) + "</td><td>" + esc(ballot(k)) + "</td><td>" +
        esc(M.slots[k].slice(0, 8).join(",")) + "</td></tr>";
    });
    h += "</table>";
    storyBox.innerHTML = h;
    api.story = {slot: slot, messages: rows.length, learned: learned.length, ballots: Object.keys(ballots)};
    return api.story;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }
  function showSlot(slot) {
    filt.slot = slot; document.getElementById("lp-slot").value = String(slot);
    clearSel();
    var first = null;
    for (var k = 0; k < n && first === null; k++) if (M.slots[k].indexOf(slot) >= 0) first = k;
    if (first !== null && (M.s[first] < v0 || M.s[first] > v1)) {
      var span = v1 - v0; v0 = M.s[first] - span / 4; v1 = v0 + span;
    }
    story(slot); draw();
    storyBox.scrollIntoView();
  }
  function onHash() {
    var m = /^#slot-(\d+)$/.exec(location.hash);
    if (m) showSlot(+m[1]);
  }

  // controls
  function fill(id, values) {
    var sel = document.getElementById(id);
    values.forEach(function (v) {
      var o = document.createElement("option"); o.value = v[0]; o.textContent = v[1]; sel.appendChild(o);
    });
    sel.addEventListener("change", function () { filt[id.slice(3)] = sel.value; draw(); });
  }
  fill("lp-type", D.types.map(function (t) { return [t, t]; }));
  fill("lp-node", D.lanes.slice(0, NN).map(function (t, k) { return [String(k), t]; }));
  fill("lp-ballot", D.ballots.map(function (b) { return [b, b]; }));
  document.getElementById("lp-beats").addEventListener("change", function (ev) {
    filt.beats = ev.target.checked; draw();
  });
  document.getElementById("lp-slot").addEventListener("change", function (ev) {
    var v = ev.target.value.trim();
    if (/^\d+$/.test(v)) { location.hash = "#slot-" + v; showSlot(+v); }
    else { filt.slot = null; storyBox.innerHTML = ""; draw(); }
  });
  function zoom(f, at) {
    var c = at === undefined ? (v0 + v1) / 2 : at, span = (v1 - v0) * f;
    v0 = c - (c - v0) * f; v1 = v0 + span; draw();
  }
  document.querySelectorAll("#lamport-root [data-lp]").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = b.getAttribute("data-lp"), span = v1 - v0;
      if (a === "in") zoom(0.5);
      else if (a === "out") zoom(2);
      else if (a === "left") { v0 -= span / 2; v1 -= span / 2; draw(); }
      else if (a === "right") { v0 += span / 2; v1 += span / 2; draw(); }
      else if (a === "anomaly") { v0 = D.view[0]; v1 = D.view[1]; draw(); }
      else { v0 = Math.min(tMin, 0); v1 = tMax; draw(); }
    });
  });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, tOf(ev.offsetX, width()));
  }, {passive: false});
  var drag = null;
  canvas.addEventListener("mousedown", function (ev) { drag = {x: ev.clientX, v0: v0, v1: v1, moved: false}; });
  window.addEventListener("mouseup", function () { setTimeout(function () { drag = null; }, 0); });
  canvas.addEventListener("mousemove", function (ev) {
    if (drag && ev.buttons) {
      var dt = (ev.clientX - drag.x) * (v1 - v0) / (width() - LEFT - 10);
      if (Math.abs(ev.clientX - drag.x) > 3) drag.moved = true;
      v0 = drag.v0 - dt; v1 = drag.v1 - dt; draw(); return;
    }
    var k = nearest(ev.offsetX, ev.offsetY), o = k < 0 ? opAt(ev.offsetX, ev.offsetY) : null;
    if (k < 0 && !o) { tip.hidden = true; return; }
    tip.textContent = k >= 0 ? describe(k) : "op " + o[5] + " process " + o[6] + ": " + o[4] + " (" + o[3] + ")\n" + fmt(o[1]) + " – " + fmt(o[2]);
    tip.hidden = false; tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (ev) {
    if (drag && drag.moved) return;
    var o = opAt(ev.offsetX, ev.offsetY);
    if (o) selectOp(o[5]); else { clearSel(); draw(); }
  });
  window.addEventListener("resize", draw);
  window.addEventListener("hashchange", onHash);

  var api = {
    drawn: 0, highlighted: 0, slots: [], story: null,
    view: function () { return [v0, v1]; },
    selectOp: selectOp, showSlot: showSlot,
    setFilter: function (k, v) { filt[k] = v; draw(); return api.drawn; },
    opPosition: function (index) {  // where an op's bar is on the canvas (for tests)
      var r = null, w = width();
      D.ops.forEach(function (o) {
        if (o[5] === index) r = [(Math.max(LEFT, xOf(o[1], w)) + Math.min(w - 10, xOf(o[2], w))) / 2, yOf(o[0])];
      });
      return r;
    }
  };
  var legend = document.getElementById("lamport-legend");  // message types, in their colour
  D.types.forEach(function (t, k) {
    var s = document.createElement("span"), i = document.createElement("i");
    s.className = "tl-key"; i.style.background = TYC[k % TYC.length];
    s.appendChild(i); s.appendChild(document.createTextNode(t)); legend.appendChild(s);
  });
  window.paxlabLamport = api;
  draw();
  onHash();
})();
