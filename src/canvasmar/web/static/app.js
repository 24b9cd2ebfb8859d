// The page of `canvasmar serve`: plain JS, no build step. It posts a job (checked in full by
// the server, so a mistake comes back as {"error": ...} before anything runs), then follows
// the job's server-sent events: context, one `frame` per predicted frame, done | failed.
"use strict";

const $ = (id) => document.getElementById(id);
const SETTINGS = ["context", "frames", "steps", "cfg_canvas", "cfg_temporal", "temperature",
                  "flow_steps", "seed"];
const INTEGERS = new Set(["context", "frames", "steps", "flow_steps", "seed"]);
const PANELS = ["frame", "canvas", "staticness", "truth"];
let upload = null;  // the server's id of the last uploaded video

async function api(url, options) {
  const response = await fetch(url, options);
  let body;
  try {
    body = await response.json();
  } catch {
    body = { error: `${response.status} ${response.statusText}` };
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// Whether the error shown is a preview's: only then may a later preview clear it (a slow
// preview that returned after a job's error used to wipe that error; seen in CI).
let previewError = false;
let previewSeq = 0;  // the newest preview request; older answers are dropped

function showError(message, fromPreview = false) {
  previewError = fromPreview && Boolean(message);
  $("error").textContent = message ? `error: ${message}` : "";
  $("error").hidden = !message;
}

function setStatus(text) { $("status").textContent = text; }

function image(src, title) {
  const img = document.createElement("img");
  img.src = src;
  img.title = title;
  return img;
}

function fillStrip(id, frames) {
  $(id).replaceChildren(...frames.map((src, i) => image(src, `frame ${i + 1}`)));
}

async function loadInfo() {
  const info = await api("/api/info");
  const [c, h, w] = info.frame;
  // the test clips are the model's own data's (built-in, or e.g. a game recording's folder)
  const clips = info.clips ? `${info.clips} ${info.clips_from} test clips`
    : `no test clips (${info.clips_missing}; upload a video)`;
  $("model").textContent = `model frames: ${w}x${h}, ${c} channels; ${clips}; up to ` +
    `${info.max_frames} predicted frames, uploads up to ${info.max_upload_mb} MB`;
  $("clip-label").textContent = `${info.clips_from} test clip`;
  $("clip").max = info.clips - 1;
  if (!info.clips) {
    $("source-clip").disabled = $("clip").disabled = true;
    $("source-upload").checked = true;
  }
  $("context").max = info.max_context;
  $("frames").max = info.max_frames;
  for (const key of SETTINGS) $(key).value = info.defaults[key];
  if (info.play) setupPlay(info.play);  // play.js: a game model
  await previewClip();
}

async function previewClip() {
  if (!$("source-clip").checked) return;
  const mine = ++previewSeq;
  try {
    const clip = await api(`/api/clips/${$("clip").value}?context=${$("context").value}`);
    if (mine !== previewSeq) return;
    fillStrip("preview", clip.frames);
    if (previewError) showError("");
  } catch (e) {
    if (mine !== previewSeq) return;
    $("preview").replaceChildren();
    showError(e.message, true);
  }
}

async function uploadFile() {
  const file = $("file").files[0];
  if (!file) return;
  $("source-upload").checked = true;
  upload = null;
  $("upload-status").textContent = `uploading ${file.name}...`;
  try {
    const sent = await api(`/api/uploads?name=${encodeURIComponent(file.name)}`,
                           { method: "POST", body: file });
    upload = sent.upload;
    $("upload-status").textContent = `${sent.name}: ${sent.frames} frames read`;
    fillStrip("preview", [sent.preview]);
    showError("");
  } catch (e) {
    $("upload-status").textContent = "";
    $("preview").replaceChildren();
    showError(e.message);
  }
}

function readForm() {
  const body = {};
  for (const key of SETTINGS) {
    const text = $(key).value.trim();
    // An empty field keeps the model's default; anything else goes as typed (the server
    // names a value it cannot use).
    if (text !== "") body[key] = INTEGERS.has(key) && /^-?\d+$/.test(text) ? parseInt(text, 10)
                                                                          : Number(text);
  }
  if ($("source-clip").checked) {
    body.clip = Number($("clip").value);
  } else {
    if (!upload) throw new Error("choose a video file first (or pick a test clip)");
    body.upload = upload;
  }
  return body;
}

function clearResults() {
  showError("");
  $("download").hidden = true;
  for (const p of ["context", ...PANELS]) $(`strip-${p}`).replaceChildren();
  for (const p of PANELS) $(`now-${p}`).removeAttribute("src");
}

function setBusy(busy) {
  $("start").disabled = busy;
  $("now").hidden = false;
  $("strips").hidden = false;
}

function follow(job) {
  const events = new EventSource(job.events);
  let total = 0;
  events.addEventListener("context", (ev) => {
    const data = JSON.parse(ev.data);
    total = data.total;
    fillStrip("strip-context", data.frames);
    setStatus(`predicting frame 1 of ${total}...`);
  });
  events.addEventListener("frame", (ev) => {
    const data = JSON.parse(ev.data);
    for (const p of PANELS) {
      if (!data[p]) continue;
      $(`now-${p}`).src = data[p];
      $(`strip-${p}`).append(image(data[p], `frame ${data.index + 1}`));
    }
    const next = data.index + 2;
    setStatus(next <= total ? `predicting frame ${next} of ${total}...` : "writing the MP4...");
  });
  events.addEventListener("done", (ev) => {
    events.close();  // or the browser reconnects and asks for the job again
    const data = JSON.parse(ev.data);
    $("download").href = data.download;
    $("download").hidden = false;
    setStatus(`${total} frames in ${data.seconds} s`);
    setBusy(false);
  });
  events.addEventListener("failed", (ev) => {
    events.close();
    showError(JSON.parse(ev.data).message);
    setStatus("");
    setBusy(false);
  });
  events.onerror = () => {  // the connection itself: the server stopped or was restarted
    if (events.readyState === EventSource.CLOSED || !$("start").disabled) return;
    events.close();
    showError("lost the connection to the server (is `canvasmar serve` still running?)");
    setStatus("");
    setBusy(false);
  };
}

async function start(event) {
  event.preventDefault();
  clearResults();
  setBusy(true);
  setStatus("starting...");
  try {
    follow(await api("/api/jobs", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(readForm()),
    }));
  } catch (e) {
    showError(e.message);
    setStatus("");
    setBusy(false);
  }
}

window.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", start);
  $("clip").addEventListener("change", () => { $("source-clip").checked = true; previewClip(); });
  $("context").addEventListener("change", previewClip);
  $("source-clip").addEventListener("change", previewClip);
  $("file").addEventListener("change", uploadFile);
  loadInfo().catch((e) => showError(e.message));
});
