// The drawing page: a canvas at the model's input size, the tools that fit its inputs (tools.js),
// and the output redrawn as you draw. page.json (beside the page) says what the model is and which
// models the server (or the static site) has: the page offers them in a list, and choosing one loads
// its page.json, tools, example and engine in place (the URL's ?model=NAME keeps the choice on reload).
// When page.json names a .tflite file, the page runs it here with LiteRT.js on WebAssembly;
// otherwise, or when this browser cannot, the server computes through the same :predict a script
// would use (engines.js). One picture at a time, the latest drawing wins; the time shown runs from
// the end of a stroke to the frame that paints its picture.

import { chooseEngine, serverEngine } from "./engines.js";
import { setUpTools } from "./tools.js";

const canvas = document.getElementById("input");
const output = document.getElementById("output");
const outputContext = output.getContext("2d");
const latency = document.getElementById("latency");
const errorLine = document.getElementById("error");
const models = document.getElementById("models");

let page = null; // page.json of the model shown
let engine = null; // where its pictures are computed: { where, says, debounce, translate(), close() }
let opening = 0; // counts the models opened: work for a model no longer shown is dropped
let changedAt = 0; // performance.now() time of the latest change to the drawing
let changedByStroke = false; // whether that change was the end or a move of a stroke
let inFlight = false;
let running = Promise.resolve(); // settles when the picture being computed is done
let pending = false;
let timer = null;
let pictures = 0;
let notice = ""; // what the error line says while all is well (a model asked for that the site lacks)

// Shows model ``name`` (or the one the server or static site opens on, when null): its
// page.json, tools and first input, then its pictures, from the server until the browser can.
async function open(name) {
  const opened = ++opening;
  retire(engine);
  engine = null;
  delete output.dataset.engine;
  errorLine.textContent = notice = "";
  let next;
  let missing = ""; // a model the static site does not have: the page opens on its first one and says so
  try {
    next = await readJson(name ? `page.json?model=${encodeURIComponent(name)}` : "page.json");
    // A static host ignores the query and answers the page.json of the model it opens on, which
    // says where each other model's is.
    if (name && next.name !== name) {
      const listed = (next.models || []).find((model) => model.name === name);
      if (listed && listed.page) {
        next = await readJson(listed.page);
      } else {
        const names = (next.models || []).map((model) => `'${model.name}'`).join(", ") || `'${next.name}'`;
        missing = `no model '${name}': this site has ${names}`;
      }
    }
  } catch (error) {
    errorLine.textContent = `the page could not read page.json (${error.message})`;
    return;
  }
  if (opened !== opening) return;
  page = next;
  showModels();
  errorLine.textContent = notice = missing;
  canvas.width = canvas.height = output.width = output.height = page.input_size;
  const classes = page.input === "label_map" && page.palette.length ? `, ${page.palette.length} classes` : "";
  document.getElementById("model").textContent = `${page.description} · ${page.input_size} px${classes}`;
  await setUpTools(page, changed);
  if (opened !== opening) return;
  const choosing = chooseEngine(page, canvas);
  if (page.model && page.predict) { // the server draws while LiteRT.js and the model load
    use(serverEngine(page, canvas, `LiteRT.js and ${page.model.file} are loading`));
  }
  try {
    const chosen = await choosing;
    if (opened !== opening) {
      chosen.close();
      return;
    }
    use(chosen);
    output.dataset.engine = engine.where; // for tests and benchmarks: where pictures are computed now
    output.dataset.model = page.name || page.source;
  } catch (error) {
    if (opened === opening) errorLine.textContent = error.message;
  }
}

async function readJson(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

// The list of the models served (or on the static site), shown when there is a choice.
function showModels() {
  const served = page.models || [];
  document.getElementById("models-choice").hidden = served.length < 2;
  models.replaceChildren(...served.map(({ name, title }) => new Option(title, name, false, name === page.name)));
}

models.addEventListener("change", () => {
  history.replaceState(null, "", `?model=${encodeURIComponent(models.value)}`);
  open(models.value);
});

// Computes the pictures with ``next`` from now on, and the current drawing's at once.
function use(next) {
  retire(engine);
  engine = next;
  const model = page.shipped ? `the model shipped with pix2pix_tf (${page.source})` : `the model “${page.source}”`;
  document.getElementById("where").textContent = `${engine.says}; ${model}.`;
  changed(null, true);
}

// An engine no longer used lets go of its model once the picture it may be computing is done.
function retire(old) {
  if (old) running.then(() => old.close());
}

// A drawing changed (event: the input event, or null for undo, clear, upload): compute its picture
// now, or, for the server while a stroke goes on, after a short pause.
function changed(event, now) {
  changedAt = event ? event.timeStamp : performance.now();
  changedByStroke = Boolean(event);
  clearTimeout(timer);
  if (!engine) return;
  if (now || engine.debounce === 0) refresh();
  else timer = setTimeout(refresh, engine.debounce);
}

const nextPaint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function refresh() {
  if (inFlight) {
    pending = true;
    return;
  }
  inFlight = true;
  let done;
  running = new Promise((resolve) => { done = resolve; });
  output.setAttribute("aria-busy", "true");
  const [since, byStroke, computing] = [changedAt, changedByStroke, engine];
  try {
    const picture = await computing.translate();
    if (computing !== engine) return; // another model or engine took over meanwhile
    if (picture instanceof ImageData) outputContext.putImageData(picture, 0, 0);
    else outputContext.drawImage(picture, 0, 0);
    await nextPaint();
    const elapsed = performance.now() - since;
    latency.textContent = `${byStroke ? "stroke → picture" : "picture in"} ${Math.round(elapsed)} ms`;
    output.dataset.latencyMs = elapsed.toFixed(1);
    pictures += 1;
    output.dataset.pictures = String(pictures);
    if (pictures === 1) output.dataset.firstPictureMs = performance.now().toFixed(0); // since the page was asked for
    errorLine.textContent = notice;
  } catch (error) {
    if (computing !== engine) return;
    errorLine.textContent = computing.where === "server" ? `the server did not answer (${error.message})`
      : `the model failed in the browser (${error.message})`;
  } finally {
    inFlight = false;
    done();
    if (pending && engine) {
      pending = false;
      refresh();
    } else {
      pending = false;
      output.setAttribute("aria-busy", "false");
    }
  }
}

document.getElementById("download").addEventListener("click", (event) => {
  event.currentTarget.href = output.toDataURL("image/png"); // the picture shown, when asked for
});

open(new URLSearchParams(location.search).get("model"));
