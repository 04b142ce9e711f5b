// The drawing page: a canvas at the model's input size, tools that fit its inputs (class swatches
// for label maps, a colour picker otherwise, upload for photos), and the output redrawn as you draw.
// page.json (beside the page) says what the model is. When it names a .tflite file, the page runs
// it here with LiteRT.js on WebAssembly; otherwise, or when this browser cannot, the server
// computes through the same :predict a script would use (engines.js). One picture at a time, the
// latest drawing wins; the time shown runs from the end of a stroke to the frame that paints its
// picture.

import { chooseEngine, serverEngine } from "./engines.js";

const canvas = document.getElementById("input");
const context = canvas.getContext("2d", { willReadFrequently: true });
const output = document.getElementById("output");
const outputContext = output.getContext("2d");
const latency = document.getElementById("latency");
const errorLine = document.getElementById("error");
const tool = document.getElementById("tool");
const size = document.getElementById("size");
const picker = document.getElementById("colour");

let page = null; // page.json
let engine = null; // where pictures are computed: { where, says, debounce, translate() }
let palette = [];
let colour = "#000000";
let background = "#ffffff";
const undoStack = [];
let changedAt = 0; // performance.now() time of the latest change to the drawing
let changedByStroke = false; // whether that change was the end or a move of a stroke
let inFlight = false;
let pending = false;
let timer = null;
let pictures = 0;

async function start() {
  try {
    const response = await fetch("page.json");
    if (!response.ok) throw new Error(`page.json: HTTP ${response.status}`);
    page = await response.json();
  } catch (error) {
    errorLine.textContent = `the page could not read page.json (${error.message})`;
    return;
  }
  canvas.width = canvas.height = output.width = output.height = page.input_size;
  palette = page.palette || [];
  document.getElementById("model").textContent = `${page.description} · ${page.input_size} px` +
    (palette.length ? `, ${palette.length} classes` : "");
  if (palette.length) {
    background = palette[0].color;
    makeSwatches();
  } else {
    document.getElementById("picker").hidden = false;
  }
  await drawFirstInput();
  const choosing = chooseEngine(page, canvas);
  if (page.model && page.predict) { // the server draws while LiteRT.js and the model load
    use(serverEngine(page, canvas, `LiteRT.js and ${page.model.file} are loading`));
  }
  try {
    use(await choosing);
    output.dataset.engine = engine.where; // for tests and benchmarks: where pictures are computed now
  } catch (error) {
    errorLine.textContent = error.message;
  }
}

// Computes the pictures with ``next`` from now on, and the current drawing's at once.
function use(next) {
  engine = next;
  const model = page.shipped ? `the model shipped with pix2pix_tf (${page.source})` : `the model “${page.source}”`;
  document.getElementById("where").textContent = `${engine.says}; ${model}.`;
  changed(null, true);
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
  output.setAttribute("aria-busy", "true");
  const [since, byStroke] = [changedAt, changedByStroke];
  try {
    const picture = await engine.translate();
    if (picture instanceof ImageData) outputContext.putImageData(picture, 0, 0);
    else outputContext.drawImage(picture, 0, 0);
    await nextPaint();
    const elapsed = performance.now() - since;
    latency.textContent = `${byStroke ? "stroke → picture" : "picture in"} ${Math.round(elapsed)} ms`;
    output.dataset.latencyMs = elapsed.toFixed(1);
    pictures += 1;
    output.dataset.pictures = String(pictures);
    if (pictures === 1) output.dataset.firstPictureMs = performance.now().toFixed(0); // since the page was asked for
    errorLine.textContent = "";
  } catch (error) {
    errorLine.textContent = engine.where === "server" ? `the server did not answer (${error.message})`
      : `the model failed in the browser (${error.message})`;
  } finally {
    inFlight = false;
    if (pending) {
      pending = false;
      refresh();
    } else {
      output.setAttribute("aria-busy", "false");
    }
  }
}

function makeSwatches() {
  const swatches = document.getElementById("swatches");
  palette.forEach((entry, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "radio");
    button.dataset.color = entry.color;
    button.innerHTML = `<i style="background:${entry.color}"></i>${entry.name}`;
    button.addEventListener("click", () => choose(button));
    swatches.appendChild(button);
    if (index === Math.min(2, palette.length - 1)) choose(button);
  });
}

function choose(button) {
  for (const other of document.querySelectorAll("#swatches button")) other.setAttribute("aria-checked", "false");
  button.setAttribute("aria-checked", "true");
  colour = button.dataset.color;
  if (tool.value === "eraser") tool.value = "brush";
}

picker.addEventListener("input", () => {
  colour = picker.value;
  if (tool.value === "eraser") tool.value = "brush";
});
size.addEventListener("input", () => { document.getElementById("size-value").textContent = size.value; });

function classColour(name, fallback) {
  const entry = palette.find((item) => item.name === name);
  return entry ? entry.color : fallback;
}

// The first view already shows a result: the model's example input, or a drawn façade or sketch.
async function drawFirstInput() {
  const n = canvas.width;
  context.fillStyle = background;
  context.fillRect(0, 0, n, n);
  if (page.example) {
    try {
      return drawImage(await loadImage(page.example));
    } catch {
      // the drawn example below, then
    }
  }
  const box = (name, fallback, x, y, w, h) => {
    context.fillStyle = classColour(name, fallback);
    context.fillRect(Math.round(x * n), Math.round(y * n), Math.round(w * n), Math.round(h * n));
  };
  if (!palette.length) {
    for (const [x, y, w, h] of [[0.2, 0.3, 0.6, 0.02], [0.2, 0.3, 0.02, 0.6], [0.78, 0.3, 0.02, 0.6],
                                [0.2, 0.88, 0.6, 0.02], [0.45, 0.65, 0.1, 0.25]]) box("", "#000000", x, y, w, h);
    return;
  }
  const wall = palette.some((item) => item.name === "wall") ? "wall" : "facade";
  box("roof", background, 0.12, 0.14, 0.76, 0.06);
  box(wall, "#ff0000", 0.14, 0.2, 0.72, 0.8);
  box("cornice", classColour(wall, "#ff0000"), 0.14, 0.2, 0.72, 0.02);
  for (const y of [0.28, 0.46, 0.64]) {
    for (const x of [0.2, 0.42, 0.64]) {
      box("window", "#00ffff", x, y, 0.14, 0.1);
      box("balcony", classColour(wall, "#ff0000"), x - 0.01, y + 0.1, 0.16, 0.02);
    }
  }
  box("door", "#ffff00", 0.44, 0.84, 0.12, 0.16);
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`${url} is not an image this browser can read`));
    image.src = url;
  });
}

// Scaled to the canvas; label maps without smoothing, so they keep exactly their class colours.
function drawImage(image) {
  context.imageSmoothingEnabled = !palette.length;
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
}

function point(event) {
  const scale = canvas.width / canvas.clientWidth;
  return [Math.floor(event.offsetX * scale), Math.floor(event.offsetY * scale)];
}

// Axis-aligned integer squares: no anti-aliasing, so a label map keeps exactly its class colours.
function stamp(x, y) {
  const side = Number(size.value);
  context.fillStyle = tool.value === "eraser" ? background : colour;
  context.fillRect(x - Math.floor(side / 2), y - Math.floor(side / 2), side, side);
}

function line([x0, y0], [x1, y1]) {
  const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let step = 0; step <= steps; step++) {
    stamp(Math.round(x0 + ((x1 - x0) * step) / steps), Math.round(y0 + ((y1 - y0) * step) / steps));
  }
}

let strokeStart = null;
let last = null;
canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  remember();
  strokeStart = last = point(event);
  if (tool.value !== "rectangle") stamp(...last);
});
canvas.addEventListener("pointermove", (event) => {
  if (!last || tool.value === "rectangle") return;
  const next = point(event);
  line(last, next);
  last = next;
  changed(event, false);
});
canvas.addEventListener("pointerup", (event) => {
  if (!last) return;
  if (tool.value === "rectangle") {
    const [x0, y0] = strokeStart;
    const [x1, y1] = point(event);
    context.fillStyle = colour;
    context.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0) + 1, Math.abs(y1 - y0) + 1);
  }
  last = strokeStart = null;
  changed(event, true);
});

function remember() {
  undoStack.push(context.getImageData(0, 0, canvas.width, canvas.height));
  if (undoStack.length > 50) undoStack.shift();
}

document.getElementById("undo").addEventListener("click", () => {
  if (!undoStack.length) return;
  context.putImageData(undoStack.pop(), 0, 0);
  changed(null, true);
});
document.getElementById("clear").addEventListener("click", () => {
  remember();
  context.fillStyle = background;
  context.fillRect(0, 0, canvas.width, canvas.height);
  changed(null, true);
});
document.getElementById("download").addEventListener("click", (event) => {
  event.currentTarget.href = output.toDataURL("image/png"); // the picture shown, when asked for
});

async function load(file) {
  if (!file) return;
  const url = URL.createObjectURL(file);
  try {
    const image = await loadImage(url);
    remember();
    drawImage(image);
    changed(null, true);
  } catch {
    errorLine.textContent = `${file.name} is not an image this browser can read`;
  } finally {
    URL.revokeObjectURL(url);
  }
}
document.getElementById("upload").addEventListener("change", (event) => load(event.target.files[0]));
canvas.addEventListener("dragover", (event) => { event.preventDefault(); canvas.classList.add("dropping"); });
canvas.addEventListener("dragleave", () => canvas.classList.remove("dropping"));
canvas.addEventListener("drop", (event) => {
  event.preventDefault();
  canvas.classList.remove("dropping");
  load(event.dataTransfer.files[0]);
});

start();
