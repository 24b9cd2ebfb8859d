// Play mode of `canvasmar serve` (web/play.py): start a play, then one POST per tick with the
// action held now (a key or a button; the idle action otherwise) at the game's frame rate.
// Each answer is the model's next frame (and the real emulator's); the measured rate is shown.
// Uses $, api and showError from app.js.
"use strict";

const PLAY = { spec: null, id: null, running: false, held: null, times: [], steps: 0 };

function playAction() {
  return PLAY.held === null ? PLAY.spec.idle : PLAY.held;
}

function setHeld(action) {
  PLAY.held = action;
  for (const b of $("play-buttons").children) {
    b.classList.toggle("held", Number(b.dataset.action) === action);
  }
}

function keyName(key) { return key === " " ? "Space" : key; }

function setupPlay(spec) {
  PLAY.spec = spec;
  $("play").hidden = false;
  $("play-game").textContent = spec.game ? `(${spec.game})` : "";
  const keys = Object.entries(spec.keys).map(([k, a]) => `${keyName(k)}: ${spec.actions[a]}`);
  $("play-help").textContent = (spec.help ? `${spec.help} ` : "") + `Keys: ${keys.join(", ")}; nothing held: ` +
    `${spec.actions[spec.idle]}. ${spec.fps} frames per second` +
    (spec.emulator ? "; the real emulator runs beside the model." :
      "; the emulator is not installed, so plays start from the recorded frames.");
  $("play-emulator").disabled = !spec.emulator;
  $("play-emulator").checked = spec.emulator;
  $("play-buttons").replaceChildren(...spec.actions.map((name, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = name;
    b.dataset.action = i;
    b.addEventListener("pointerdown", () => setHeld(i));
    b.addEventListener("pointerup", () => setHeld(null));
    b.addEventListener("pointerleave", () => { if (PLAY.held === i) setHeld(null); });
    return b;
  }));
  $("play-start").addEventListener("click", startPlay);
  $("play-stop").addEventListener("click", stopPlay);
  window.addEventListener("keydown", (ev) => {
    if (!PLAY.running || !(ev.key in spec.keys)) return;
    ev.preventDefault();  // arrows and space would scroll the page
    setHeld(spec.keys[ev.key]);
  });
  window.addEventListener("keyup", (ev) => {
    if (ev.key in spec.keys && PLAY.held === spec.keys[ev.key]) setHeld(null);
  });
}

function measuredFps() {
  // frames shown in the last two seconds (or since the start), per second
  const t = PLAY.times, now = t[t.length - 1];
  const recent = t.filter((x) => now - x <= 2000);
  return recent.length < 2 ? 0 : (recent.length - 1) / ((now - recent[0]) / 1000);
}

function showStep(out) {
  $("play-frame").src = out.frame;
  if (out.real) $("play-real").src = out.real;
  PLAY.steps = out.step;
  PLAY.times.push(performance.now());
  const fps = measuredFps(), all = PLAY.times.length;
  const mean = all < 2 ? 0 : (all - 1) / ((PLAY.times[all - 1] - PLAY.times[0]) / 1000);
  $("play-status").dataset.steps = all;
  $("play-status").dataset.fps = mean.toFixed(2);
  $("play-status").textContent = `frame ${out.step}: ${fps.toFixed(1)} frames/s ` +
    `(model ${out.ms} ms)` + (out.game_over ? "; the real game is over" : "");
}

async function playLoop(id) {
  const period = 1000 / PLAY.spec.fps;
  while (PLAY.running && PLAY.id === id) {
    const began = performance.now();
    try {
      showStep(await api(`/api/play/${id}/step`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ action: playAction() }),
      }));
    } catch (e) {
      showError(e.message);
      stopPlay();
      return;
    }
    // a steady rate: wait out the rest of the tick (none when the model was slower)
    const rest = period - (performance.now() - began);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
}

async function startPlay() {
  showError("");
  $("play-start").disabled = true;
  $("play-download").hidden = true;
  $("play-status").textContent = "starting...";
  try {
    const started = await api("/api/play", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seed: Number($("play-seed").value),
                             emulator: $("play-emulator").checked }),
    });
    Object.assign(PLAY, { id: started.play, running: true, times: [], steps: 0 });
    setHeld(null);
    $("play-frame").src = started.context[started.context.length - 1];
    $("play-real-figure").hidden = !started.emulator;
    if (started.emulator) $("play-real").src = started.context[started.context.length - 1];
    $("play-stop").disabled = false;
    playLoop(started.play);
  } catch (e) {
    showError(e.message);
    $("play-status").textContent = "";
    $("play-start").disabled = false;
  }
}

function stopPlay() {
  PLAY.running = false;
  $("play-start").disabled = false;
  $("play-stop").disabled = true;
  if (PLAY.id) {
    $("play-download").href = `/api/play/${PLAY.id}/video.mp4`;
    $("play-download").hidden = false;
  }
}
