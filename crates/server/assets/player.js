// Bandmate web player: upload a vocal through the upload API, submit add-instrumental,
// watch the stages through record-info, then play both songs with a waveform and the chord
// chart under the playhead. Plain JavaScript; talks only to the public API.
"use strict";

const $ = (id) => document.getElementById(id);
const STAGES = ["UPLOAD", "PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"];
const FAILED = ["CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR"];
// The server's public base URL (filled in by the server): the player's callback sink lives
// under it, and the server's own file links are loaded by path, so the page works from any
// address that reaches the server (localhost, a LAN address, a proxy).
const BASE = (document.querySelector('meta[name="bandmate-base-url"]') || {}).content || location.origin;
const SINK = BASE + "/player/callback";
function local(url) { return url && url.startsWith(BASE + "/") ? url.slice(BASE.length) : url; }
let pollTimer = null;
let currentTaskId = "";
const rendered = new Map(); // track id -> element

function key() { return $("apiKey").value.trim(); }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + key() }, options.headers || {});
  const r = await fetch(path, Object.assign({}, options, { headers }));
  return r.json();
}

function setStage(stage, failed) {
  const i = STAGES.indexOf(stage);
  document.querySelectorAll("#stages li").forEach((li) => {
    const j = STAGES.indexOf(li.dataset.stage);
    li.className = failed && j === i + 1 ? "failed" : j <= i ? "done" : j === i + 1 && !failed ? "active" : "";
  });
}

function message(text, isError) {
  $("message").textContent = text || "";
  $("message").className = isError ? "error" : "";
}

for (const id of ["styleWeight", "weirdnessConstraint", "audioWeight"]) {
  $(id).addEventListener("input", () => { $(id + "Out").textContent = Number($(id).value).toFixed(2); });
}
$("apiKey").value = localStorage.getItem("bandmate.key") || "";
$("apiKey").addEventListener("change", () => localStorage.setItem("bandmate.key", key()));
const drop = $("drop");
["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((e) => drop.addEventListener(e, () => drop.classList.remove("over")));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  if (ev.dataTransfer.files.length) { $("vocal").files = ev.dataTransfer.files; showFile(); }
});
$("vocal").addEventListener("change", showFile);
function showFile() {
  const f = $("vocal").files[0];
  $("dropText").textContent = f ? f.name + " (" + (f.size / 1e6).toFixed(2) + " MB)" : "Drop a vocal here, or click to choose a file";
}

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("vocal").files[0];
  if (!key()) { message("Paste an API key first.", true); return; }
  if (!file) { message("Choose a vocal file first.", true); return; }
  localStorage.setItem("bandmate.key", key());
  $("submit").disabled = true;
  $("progress").hidden = false;
  $("songs").innerHTML = "";
  rendered.clear();
  $("plan").textContent = "";
  setStage("", false);
  message("Uploading " + file.name + "…");
  try {
    const fd = new FormData();
    fd.append("file", file, file.name);
    fd.append("uploadPath", "player");
    const up = await api("/api/file-stream-upload", { method: "POST", body: fd });
    if (!up.success) throw new Error("Upload failed: " + up.msg);
    setStage("UPLOAD", false);
    const body = {
      uploadUrl: up.data.downloadUrl,
      title: $("title").value,
      tags: $("tags").value,
      negativeTags: $("negativeTags").value,
      callBackUrl: SINK,
      model: $("model").value,
      styleWeight: Number($("styleWeight").value),
      weirdnessConstraint: Number($("weirdnessConstraint").value),
      audioWeight: Number($("audioWeight").value),
    };
    if ($("vocalGender").value) body.vocalGender = $("vocalGender").value;
    const r = await api("/api/v1/generate/add-instrumental", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (r.code !== 200) throw new Error(r.msg + " (" + r.code + ")");
    currentTaskId = r.data.taskId;
    message("Task " + r.data.taskId + " submitted.");
    poll(r.data.taskId);
  } catch (e) {
    message(e.message, true);
    $("submit").disabled = false;
  }
});

function poll(taskId) {
  clearTimeout(pollTimer);
  const tick = async () => {
    let r;
    try { r = await api("/api/v1/generate/record-info?taskId=" + taskId); } catch (e) { pollTimer = setTimeout(tick, 1500); return; }
    if (r.code !== 200) { message(r.msg, true); $("submit").disabled = false; return; }
    const d = r.data;
    const failed = FAILED.includes(d.status);
    const stage = d.status === "CALLBACK_EXCEPTION" ? "SUCCESS" : d.status;
    if (!failed) setStage(stage, false);
    showPlan(d.plan);
    const tracks = (d.response && d.response.sunoData) || [];
    tracks.filter((t) => t.audioUrl).forEach((t) => renderTrack(t, d.plan));
    if (failed) {
      const reached = d.response ? "FIRST_SUCCESS" : d.plan ? "TEXT_SUCCESS" : "PENDING";
      setStage(reached, true);
      message("Failed (" + d.errorCode + "): " + d.errorMessage, true);
      $("submit").disabled = false;
    } else if (stage === "SUCCESS") {
      message(d.status === "CALLBACK_EXCEPTION"
        ? "Done: two songs are ready (the callback to this task's callBackUrl could not be delivered)."
        : "Done: two songs are ready.");
      $("submit").disabled = false;
    } else {
      message({ PENDING: "Waiting for a worker…", TEXT_SUCCESS: "Listening done; arranging and rendering the first song…", FIRST_SUCCESS: "First song ready; rendering the second…" }[d.status] || d.status);
      pollTimer = setTimeout(tick, 1000);
    }
  };
  tick();
}

function showPlan(plan) {
  if (!plan) return;
  const parts = [];
  if (typeof plan.key === "string") parts.push("Key " + plan.key);
  if (typeof plan.tempo === "number") parts.push(Math.round(plan.tempo) + " BPM");
  // The chords in the order they first sound: the song's harmonic palette at a glance.
  const palette = [...new Set(chartOf(plan).map((c) => c.symbol))];
  if (palette.length) parts.push(palette.join(" "));
  if (plan.style && plan.style.name) parts.push(plan.style.name);
  if (typeof plan.durationSeconds === "number") parts.push(plan.durationSeconds.toFixed(1) + " s");
  $("plan").textContent = parts.join(" · ");
}

// The chord chart of a plan as [{start, end, symbol}]: a track's plan has `chart` in song time,
// the task's plan (text stage) has `chords` in vocal time.
function chartOf(plan) {
  const raw = (plan && (plan.chart || plan.chords)) || [];
  return raw.filter((c) => c.end > c.start);
}

function link(nav, label, href, download) {
  const a = document.createElement("a");
  a.textContent = label;
  a.href = local(href);
  if (download) a.href += (href.includes("?") ? "&" : "?") + "download=1";
  nav.appendChild(a);
  return a;
}

// A track's stems may come after its songs (the first track's follow FIRST_SUCCESS): their
// link is added when they are there, in its place before MIDI and Cover.
function addStems(el, t) {
  const nav = el.querySelector(".downloads");
  if (!t.stemsUrl || nav.querySelector(".stems")) return;
  const a = link(nav, "Stems (ZIP)", t.stemsUrl, true);
  a.classList.add("stems");
  const next = nav.querySelector("[data-after-stems]");
  if (next) nav.insertBefore(a, next);
}

function renderTrack(t, taskPlan) {
  if (rendered.has(t.id)) { addStems(rendered.get(t.id), t); return; }
  const el = $("trackTemplate").content.firstElementChild.cloneNode(true);
  rendered.set(t.id, el);
  el.dataset.trackId = t.id;
  el.querySelector(".name").textContent = t.title + " — take " + (t.variation || rendered.size);
  el.querySelector(".meta").textContent = [t.modelName, t.tags, typeof t.duration === "number" ? t.duration.toFixed(1) + " s" : ""].filter(Boolean).join(" · ");
  const cover = el.querySelector(".cover");
  cover.addEventListener("error", () => { cover.style.visibility = "hidden"; });
  if (t.imageUrl) cover.src = local(t.imageUrl);
  const audio = el.querySelector(".audio");
  audio.src = local(t.audioUrl);
  const nav = el.querySelector(".downloads");
  link(nav, "MP3", t.audioUrl, true);
  const wav = link(nav, "WAV", "#", false);
  if (t.wavUrl) { wav.href = local(t.wavUrl) + "?download=1"; } else { wav.addEventListener("click", (ev) => makeWav(ev, t, wav)); }
  if (t.instrumentalUrl) link(nav, "Instrumental", t.instrumentalUrl, true);
  if (t.midiUrl) link(nav, "MIDI", t.midiUrl, true).dataset.afterStems = "";
  if (t.imageUrl) link(nav, "Cover", t.imageUrl, true).dataset.afterStems = "";
  addStems(el, t);
  const slot = [...$("songs").children].find((c) => Number(c.dataset.variation) > (t.variation || 0));
  el.dataset.variation = t.variation || rendered.size;
  $("songs").insertBefore(el, slot || null);
  const chart = chartOf(t.plan).length ? chartOf(t.plan) : chartOf(taskPlan);
  drawChart(el, chart, t.duration);
  loadWave(el, local(t.audioUrl), audio, chart, t.duration);
}

async function makeWav(ev, t, a) {
  ev.preventDefault();
  if (a.classList.contains("pending")) return;
  a.classList.add("pending");
  a.textContent = "WAV…";
  const r = await api("/api/v1/wav/generate", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ taskId: currentTaskId, audioId: t.id, callBackUrl: SINK }),
  });
  if (r.code !== 200) { a.textContent = "WAV (" + r.msg + ")"; return; }
  const wait = async () => {
    const w = await api("/api/v1/wav/record-info?taskId=" + r.data.taskId);
    if (w.data && w.data.successFlag === "SUCCESS") {
      a.classList.remove("pending"); a.textContent = "WAV"; a.href = local(w.data.response.audioWavUrl) + "?download=1";
      a.replaceWith(a.cloneNode(true));
    } else if (w.data && w.data.successFlag === "PENDING") { setTimeout(wait, 1000); }
    else { a.textContent = "WAV failed"; }
  };
  wait();
}

function drawChart(el, chart, duration) {
  const box = el.querySelector(".chords");
  box.innerHTML = "";
  const total = duration || (chart.length ? chart[chart.length - 1].end : 0);
  if (!total) return;
  chart.forEach((c, i) => {
    const d = document.createElement("div");
    d.className = "chord";
    d.dataset.index = i;
    d.style.left = (100 * c.start / total) + "%";
    d.style.width = (100 * (c.end - c.start) / total) + "%";
    d.textContent = c.symbol;
    d.title = c.symbol + " @ " + c.start.toFixed(2) + " s";
    box.appendChild(d);
  });
}

async function loadWave(el, url, audio, chart, duration) {
  const canvas = el.querySelector(".wave");
  const draw = (peaks) => {
    const w = canvas.width = canvas.clientWidth * (window.devicePixelRatio || 1);
    const h = canvas.height;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    const played = audio.duration ? audio.currentTime / audio.duration : 0;
    for (let x = 0; x < w; x++) {
      const p = peaks ? peaks[Math.floor(x * peaks.length / w)] || 0 : 0.05;
      g.fillStyle = x / w < played ? "#f0a44b" : "#6b6387";
      const bar = Math.max(1, p * (h - 6));
      g.fillRect(x, (h - bar) / 2, 1, bar);
    }
  };
  let peaks = null;
  draw(null);
  try {
    const buf = await (await fetch(url)).arrayBuffer();
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const decoded = await ctx.decodeAudioData(buf);
    const data = decoded.getChannelData(0);
    const n = 1200;
    peaks = new Float32Array(n);
    const step = Math.max(1, Math.floor(data.length / n));
    let max = 1e-6;
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let j = i * step; j < Math.min(data.length, (i + 1) * step); j++) m = Math.max(m, Math.abs(data[j]));
      peaks[i] = m; max = Math.max(max, m);
    }
    for (let i = 0; i < n; i++) peaks[i] /= max;
    if (!duration) drawChart(el, chart, decoded.duration);
    ctx.close && ctx.close();
  } catch (e) { /* the waveform is decoration; playback still works */ }
  el.dataset.waveform = peaks ? "drawn" : "failed";
  el.dataset.ready = "true";
  draw(peaks);
  canvas.addEventListener("click", (ev) => {
    if (audio.duration) audio.currentTime = audio.duration * ev.offsetX / canvas.clientWidth;
  });
  const head = el.querySelector(".playhead");
  const now = el.querySelector(".chordNow");
  const update = () => {
    const t = audio.currentTime;
    const total = duration || audio.duration || 1;
    head.style.left = (100 * t / total) + "%";
    let current = -1;
    chart.forEach((c, i) => { if (t >= c.start && t < c.end) current = i; });
    el.querySelectorAll(".chord").forEach((d) => d.classList.toggle("now", Number(d.dataset.index) === current));
    now.textContent = current >= 0 ? chart[current].symbol : "";
    draw(peaks);
  };
  audio.addEventListener("timeupdate", update);
  audio.addEventListener("seeked", update);
  const loop = () => { if (!audio.paused) { update(); requestAnimationFrame(loop); } };
  audio.addEventListener("play", () => requestAnimationFrame(loop));
  update();
}
