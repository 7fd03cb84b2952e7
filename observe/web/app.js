// synack observe page: hand-written, no dependencies. The diagram is RFC
// 9293 Figure 5 (section 3.3.2); dashed arrows are transitions the text
// of 3.10 adds to the figure. Counts come from the server's snapshot
// every second; transitions between snapshots light up their arrows.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const W = 150, H = 50;

// The eleven states, where Figure 5 draws them. CLOSED appears twice, as in
// the figure: at the top, and at the bottom where TIME-WAIT and LAST-ACK end.
const NODES = [
  { id: "CLOSED", x: 480, y: 40 },
  { id: "LISTEN", x: 480, y: 150 },
  { id: "SYN-RECEIVED", x: 190, y: 270 },
  { id: "SYN-SENT", x: 770, y: 270 },
  { id: "ESTABLISHED", x: 480, y: 380 },
  { id: "FIN-WAIT-1", x: 190, y: 500 },
  { id: "CLOSE-WAIT", x: 770, y: 500 },
  { id: "FIN-WAIT-2", x: 100, y: 650 },
  { id: "CLOSING", x: 340, y: 650 },
  { id: "LAST-ACK", x: 770, y: 650 },
  { id: "TIME-WAIT", x: 340, y: 780 },
  { id: "CLOSED", x: 770, y: 780, alias: true },
];

const notRST = c => c.startsWith("rcv") && !c.includes("RST");
// Figure 5's arrows: from, to, the event (and action) it is labelled with,
// the path, where the label goes, and which causes it stands for.
const EDGES = [
  { f: "CLOSED", t: "LISTEN", l: "passive OPEN", d: "M458,65 L458,125", lx: 450, ly: 99, a: "end" },
  { f: "LISTEN", t: "CLOSED", l: "CLOSE", d: "M502,125 L502,65", lx: 510, ly: 99, a: "start", ok: c => c === "user CLOSE" },
  { f: "CLOSED", t: "SYN-SENT", l: "active OPEN / snd SYN", d: "M555,40 C690,40 785,120 785,245", lx: 640, ly: 34, a: "start" },
  { f: "SYN-SENT", t: "CLOSED", l: "CLOSE", d: "M830,245 C850,110 760,18 555,22", lx: 842, ly: 140, a: "start", ok: c => c === "user CLOSE" },
  { f: "LISTEN", t: "SYN-RECEIVED", l: "rcv SYN / snd SYN,ACK", d: "M405,160 C300,160 175,190 165,245", lx: 300, ly: 150, a: "end" },
  { f: "LISTEN", t: "SYN-SENT", l: "SEND / snd SYN", d: "M555,160 C650,165 720,195 725,245", lx: 650, ly: 152, a: "start" },
  { f: "SYN-RECEIVED", t: "LISTEN", l: "rcv RST", d: "M245,245 C290,205 350,185 405,172", lx: 320, ly: 214, a: "start", extra: true },
  { f: "SYN-SENT", t: "SYN-RECEIVED", l: "rcv SYN / snd ACK", d: "M695,270 L265,270", lx: 480, ly: 262, a: "middle" },
  { f: "SYN-SENT", t: "ESTABLISHED", l: "rcv SYN,ACK / snd ACK", d: "M745,295 C745,355 650,380 555,380", lx: 735, ly: 405, a: "end" },
  { f: "SYN-RECEIVED", t: "ESTABLISHED", l: "rcv ACK of SYN", d: "M225,295 C225,355 320,380 405,380", lx: 225, ly: 405, a: "start" },
  { f: "SYN-RECEIVED", t: "FIN-WAIT-1", l: "CLOSE / snd FIN", d: "M150,295 L150,475", lx: 142, ly: 390, a: "end" },
  { f: "ESTABLISHED", t: "FIN-WAIT-1", l: "CLOSE / snd FIN", d: "M425,405 C410,455 320,485 265,492", lx: 372, ly: 448, a: "end" },
  { f: "ESTABLISHED", t: "CLOSE-WAIT", l: "rcv FIN / snd ACK", d: "M535,405 C550,455 640,485 695,492", lx: 588, ly: 448, a: "start" },
  { f: "FIN-WAIT-1", t: "FIN-WAIT-2", l: "rcv ACK of FIN", d: "M140,525 L112,625", lx: 118, ly: 578, a: "end" },
  { f: "FIN-WAIT-1", t: "CLOSING", l: "rcv FIN / snd ACK", d: "M225,525 L305,625", lx: 270, ly: 568, a: "start" },
  { f: "FIN-WAIT-1", t: "TIME-WAIT", l: "rcv FIN,ACK of FIN", d: "M265,512 C470,530 480,720 415,770", lx: 445, ly: 600, a: "start", extra: true },
  { f: "FIN-WAIT-2", t: "TIME-WAIT", l: "rcv FIN / snd ACK", d: "M100,675 C100,745 190,780 265,780", lx: 150, ly: 770, a: "end" },
  { f: "CLOSING", t: "TIME-WAIT", l: "rcv ACK of FIN", d: "M340,675 L340,755", lx: 348, ly: 720, a: "start" },
  { f: "TIME-WAIT", t: "CLOSED", l: "Timeout=2MSL / delete TCB", d: "M415,780 L695,780", lx: 555, ly: 771, a: "middle", to2: true, ok: c => c === "timeout 2MSL" },
  { f: "CLOSE-WAIT", t: "LAST-ACK", l: "CLOSE / snd FIN", d: "M770,525 L770,625", lx: 778, ly: 580, a: "start" },
  { f: "LAST-ACK", t: "CLOSED", l: "rcv ACK of FIN", d: "M770,675 L770,755", lx: 778, ly: 720, a: "start", to2: true, ok: notRST },
];

const state = {
  counts: {}, byEndpoint: {}, edgeCount: new Map(), off: new Map(),
  selected: null, conns: [], series: new Map(), lastSnap: null, events: 0,
};
const $ = s => document.querySelector(s);

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function edgeFor(from, to, cause) {
  return EDGES.find(e => e.f === from && e.t === to && (!e.ok || e.ok(cause)));
}

function drawDiagram() {
  const svg = $("#diagram");
  const defs = el("defs", {}, svg);
  for (const [id, cls] of [["arrow", ""], ["arrow-extra", ""], ["arrow-path", ""]]) {
    const m = el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse", class: cls }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z" }, m);
  }
  const edges = el("g", {}, svg);
  for (const e of EDGES) {
    const g = el("g", { class: "edge" + (e.extra ? " extra" : ""), "data-from": e.f, "data-to": e.t }, edges);
    e.path = el("path", { d: e.d, "marker-end": `url(#${e.extra ? "arrow-extra" : "arrow"})` }, g);
    const t = el("text", { x: e.lx, y: e.ly, "text-anchor": e.a }, g);
    t.textContent = e.l + " ";
    e.cnt = el("tspan", { class: "cnt" }, t);
    const title = el("title", {}, g);
    title.textContent = `${e.f} → ${e.t}: ${e.l}` + (e.extra ? " (RFC 9293 3.10, not drawn in Figure 5)" : "");
    e.g = g;
  }
  const nodes = el("g", {}, svg);
  for (const n of NODES) {
    const g = el("g", { class: "state" + (n.alias ? " alias" : ""), "data-state": n.id, "data-count": 0 }, nodes);
    if (n.alias) g.setAttribute("data-alias", "1");
    el("rect", { x: n.x - W / 2, y: n.y - H / 2, width: W, height: H }, g);
    const name = el("text", { x: n.x, y: n.y - 5, class: "name" }, g);
    name.textContent = n.id;
    n.count = el("text", { x: n.x, y: n.y + 17, class: "count" }, g);
    n.count.textContent = "0";
    n.title = el("title", {}, g);
    n.g = g;
  }
}

function fire(g) {
  g.classList.remove("fire");
  void g.getBBox(); // restart the animation
  g.classList.add("fire");
}

function renderCounts() {
  for (const n of NODES) {
    const c = state.counts[n.id] || 0;
    n.g.setAttribute("data-count", n.alias ? 0 : c);
    n.count.textContent = n.alias ? "" : c;
    n.g.classList.toggle("occupied", !n.alias && c > 0);
    const per = Object.entries(state.byEndpoint).map(([ep, m]) => `${ep}: ${m[n.id] || 0}`).join(", ");
    n.title.textContent = `${n.id}: ${c} now` + (per ? ` (${per})` : "");
  }
  for (const e of EDGES) {
    const c = state.edgeCount.get(e) || 0;
    e.cnt.textContent = c ? `×${c}` : "";
    e.g.classList.toggle("taken", c > 0);
  }
  const off = [...state.off.entries()].sort((a, b) => b[1] - a[1]);
  $("#offfig").innerHTML = off.length
    ? "<b>Transitions off the figure</b> (resets, aborts, timeouts; RFC 9293 3.10): " +
      off.map(([k, c]) => `<span data-key="${esc(k)}">${esc(k)} ×${c}</span>`).join("")
    : "";
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// A transition between snapshots: move the count and light up the arrow.
function onTransition(tr) {
  state.events++;
  const child = !tr.conn.endsWith("(listener)");
  if (tr.from !== "CLOSED" && !(tr.from === "LISTEN" && child)) state.counts[tr.from] = Math.max(0, (state.counts[tr.from] || 0) - 1);
  if (tr.to !== "CLOSED" && !(tr.to === "LISTEN" && child)) state.counts[tr.to] = (state.counts[tr.to] || 0) + 1;
  const e = edgeFor(tr.from, tr.to, tr.cause);
  if (e) {
    state.edgeCount.set(e, (state.edgeCount.get(e) || 0) + 1);
    fire(e.g);
  } else {
    const k = `${tr.from} → ${tr.to} (${tr.cause})`;
    state.off.set(k, (state.off.get(k) || 0) + 1);
  }
  const n = NODES.find(n => n.id === tr.to && !n.alias === !(e && e.to2));
  renderCounts();
  if (n) fire(n.g);
  if (state.selected !== null) refreshPath();
}

function onSnapshot(s) {
  state.lastSnap = s;
  const counts = {}, by = {};
  s.endpoints = s.endpoints || [];
  s.conns = s.conns || [];
  s.edges = s.edges || [];
  for (const ep of s.endpoints) {
    by[ep.name] = ep.states;
    for (const [k, v] of Object.entries(ep.states)) counts[k] = (counts[k] || 0) + v;
  }
  state.counts = counts;
  state.byEndpoint = by;
  state.edgeCount = new Map();
  state.off = new Map();
  for (const x of s.edges) {
    const e = edgeFor(x.from, x.to, x.cause);
    if (e) state.edgeCount.set(e, (state.edgeCount.get(e) || 0) + x.count);
    else {
      const k = `${x.from} → ${x.to} (${x.cause})`;
      state.off.set(k, (state.off.get(k) || 0) + x.count);
    }
  }
  renderCounts();
  renderTable(s);
  sample(s);
  const eps = s.endpoints.map(e => e.name).join(", ") || "none yet";
  const st = $("#status");
  st.className = "status live";
  st.textContent = `live · endpoints: ${eps} · ${s.events} transitions · ${s.dropped} dropped`;
  if (state.selected !== null) refreshPath();
}

// ---- the connection table ----

function fmtDur(ms) {
  if (ms < 1) return ms.toFixed(3) + "ms";
  if (ms < 1000) return ms.toFixed(1) + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
  if (ms < 3600000) return (ms / 60000).toFixed(1) + "m";
  return (ms / 3600000).toFixed(1) + "h";
}
function fmtBytes(n) {
  if (n < 1024) return String(n);
  const u = ["K", "M", "G", "T"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + u[i];
}
function fmtCwnd(st, n) {
  return st.mss ? `${n} (${(n / st.mss).toFixed(0)})` : String(n);
}

function renderTable(s) {
  const tb = $("#conns tbody");
  const rows = s.conns.map(c => {
    const st = c.status;
    const cells = [
      c.endpoint, c.local, c.remote || "*", c.state, fmtDur(c.age_ms),
      st ? fmtDur(st.srtt_ms) : "", st ? fmtDur(st.rto_ms) : "",
      st ? fmtCwnd(st, st.cwnd) : "", st ? (st.ssthresh >= 1 << 30 ? "∞" : fmtCwnd(st, st.ssthresh)) : "",
      st ? fmtBytes(st.bytes_out) : "", st ? fmtBytes(st.bytes_in) : "", st ? String(st.retransmits) : "",
      st ? `mss ${st.mss} ${st.options}` : (c.remote ? "" : "listener"),
    ];
    const cls = c.id === state.selected ? ' class="sel"' : "";
    return `<tr data-id="${c.id}" data-state="${esc(c.state)}"${cls}>` + cells.map((v, i) =>
      `<td${i === 3 ? ' class="st"' : i >= 4 && i <= 11 ? ' class="n"' : ""}>${esc(v)}</td>`).join("") + "</tr>";
  });
  tb.innerHTML = rows.join("");
  const conns = s.conns.filter(c => c.remote).length;
  $("#conncount").textContent = `${conns} connection${conns === 1 ? "" : "s"}, ${s.conns.length - conns} listener${s.conns.length - conns === 1 ? "" : "s"}` +
    (s.more ? ` (${s.more} more not shown; all in /conns)` : "") + " · select a row for its path";
}

$("#conns tbody").addEventListener("click", ev => {
  const tr = ev.target.closest("tr");
  if (!tr) return;
  state.selected = Number(tr.dataset.id);
  for (const r of document.querySelectorAll("#conns tbody tr")) r.classList.toggle("sel", r === tr);
  refreshPath();
});

// One request at a time; a selection made meanwhile is fetched after it.
let pathBusy = false, pathAgain = false;
async function refreshPath() {
  if (pathBusy) { pathAgain = true; return; }
  pathBusy = true;
  try {
    do {
      pathAgain = false;
      const id = state.selected;
      let c = null;
      try {
        const r = await fetch("conns?id=" + id);
        if (r.ok) c = await r.json();
      } catch (e) { /* the server went away: the stream says so */ }
      if (id === state.selected) showPath(c);
    } while (pathAgain);
  } finally {
    pathBusy = false;
  }
}

function showPath(c) {
  for (const e of EDGES) {
    e.g.classList.remove("onpath");
    e.path.setAttribute("marker-end", `url(#${e.extra ? "arrow-extra" : "arrow"})`);
  }
  const box = $("#path");
  if (!c) {
    box.innerHTML = '<p class="hint">That connection is gone (only the latest closed ones keep their path).</p>';
    return;
  }
  const name = c.remote ? `${c.local} → ${c.remote}` : `${c.local} (listener)`;
  let h = `<h3>${esc(c.endpoint)} ${esc(name)}: ${esc(c.state)}${c.closed ? " (closed)" : ""}</h3><ol>`;
  const path = c.path || [];
  path.forEach((p, i) => {
    if (i === 1 && c.skipped) h += `<li>… ${c.skipped} transitions not kept …</li>`;
    h += `<li><span class="tm">${p.t_ms.toFixed(3)} ms</span>${esc(p.from)} → ${esc(p.to)}<span class="cause">${esc(p.cause)}</span></li>`;
    const e = edgeFor(p.from, p.to, p.cause);
    if (e) {
      e.g.classList.add("onpath");
      e.path.setAttribute("marker-end", "url(#arrow-path)");
    }
  });
  if (!path.length) h += "<li>(open before the observer attached: no transitions recorded)</li>";
  box.innerHTML = h + "</ol>";
}

// ---- counters as time series ----

const KEEP = 120;
function sample(s) {
  const t = performance.now();
  const open = s.conns.length + (s.more || 0);
  push("connections and listeners", "level", "all", open, t, true);
  push("transitions", "count", "all", s.events, t, true);
  push("events dropped", "count", "all", s.dropped, t);
  for (const ep of s.endpoints) {
    const tr = ep.traffic;
    if (tr) {
      push("segments in", "count", ep.name, tr.segs_in, t, true);
      push("segments out", "count", ep.name, tr.segs_out, t, true);
      push("bytes in", "count", ep.name, tr.bytes_in, t, true);
      push("bytes out", "count", ep.name, tr.bytes_out, t, true);
      push("retransmits", "count", ep.name, tr.retransmits, t, true);
    }
    for (const st of ep.stats || []) push(st.name, st.gauge ? "level" : "count", ep.name, st.value, t);
  }
  drawPlots(s.endpoints.map(e => e.name));
}
function push(name, kind, ep, v, t, core) {
  let p = state.series.get(name);
  if (!p) { p = { name, kind, core: !!core, lines: new Map() }; state.series.set(name, p); }
  let l = p.lines.get(ep);
  if (!l) { l = []; p.lines.set(ep, l); }
  l.push({ t, v });
  if (l.length > KEEP + 1) l.shift();
}
function points(p, l) {
  if (p.kind === "level") return l.map(x => x.v);
  const out = [];
  for (let i = 1; i < l.length; i++) out.push(Math.max(0, (l[i].v - l[i - 1].v) / Math.max((l[i].t - l[i - 1].t) / 1000, 1e-3)));
  return out;
}
function fmtNum(v) {
  if (v >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
}
function words(name) {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2").replace(/^./, c => c.toUpperCase());
}

function drawPlots(eps) {
  const box = $("#plots");
  let legend = box.previousElementSibling;
  if (!legend || !legend.classList.contains("legend")) {
    legend = document.createElement("div");
    legend.className = "legend";
    box.parentNode.insertBefore(legend, box);
  }
  legend.innerHTML = eps.map((e, i) => `<i class="s${i % 4}" style="background:${["#3ccf8e", "#5aa9ff", "#ffb02e", "#e5534b"][i % 4]}"></i>${esc(e)}`).join("");
  const zero = [];
  for (const p of state.series.values()) {
    // Counters that have stayed at 0 take one line, not a plot each.
    if (!p.core && !p.box && ![...p.lines.values()].some(l => l.some(x => x.v !== 0))) {
      zero.push(words(p.name));
      continue;
    }
    if (!p.box) {
      p.box = document.createElement("div");
      p.box.className = "plot";
      p.box.innerHTML = `<div class="t"><span></span><b></b></div><svg viewBox="0 0 200 44" preserveAspectRatio="none"></svg>`;
      box.appendChild(p.box);
    }
    const series = [...p.lines.entries()].map(([ep, l]) => ({ ep, v: points(p, l) }));
    let hi = 1;
    for (const s of series) for (const v of s.v) hi = Math.max(hi, v);
    const svg = p.box.querySelector("svg");
    svg.innerHTML = series.map(s => {
      const i = Math.max(0, eps.indexOf(s.ep));
      const pts = s.v.map((v, j) => `${(200 * (j + KEEP - s.v.length) / KEEP).toFixed(1)},${(42 - 40 * v / hi).toFixed(1)}`).join(" ");
      return `<polyline class="s${i % 4}" points="${pts}"/>`;
    }).join("");
    const now = series.reduce((a, s) => a + (s.v.length ? s.v[s.v.length - 1] : 0), 0);
    p.box.querySelector(".t span").textContent = words(p.name) + (p.kind === "count" ? " /s" : "");
    p.box.querySelector(".t b").textContent = fmtNum(now);
  }
  let z = $("#zeros");
  if (!z) {
    z = document.createElement("p");
    z.id = "zeros";
    z.className = "zeros";
    box.parentNode.appendChild(z);
  }
  z.textContent = zero.length ? "Zero so far: " + zero.join(", ") + "." : "";
}

// ---- the stream ----

function connect() {
  const es = new EventSource("events?snapshots=1");
  es.onmessage = m => onTransition(JSON.parse(m.data));
  es.addEventListener("snapshot", m => onSnapshot(JSON.parse(m.data)));
  es.onerror = () => {
    const st = $("#status");
    st.className = "status down";
    st.textContent = "disconnected; retrying…";
  };
}

drawDiagram();
renderCounts();
connect();
