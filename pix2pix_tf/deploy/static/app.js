// The drawing page: a canvas at the model's input size, tools that fit its inputs (class swatches
// for label maps, pen and eraser for sketches, upload for photos), and the output refreshed as you
// draw: debounced, at most one request in flight, the latest drawing wins. It talks to the same
// HTTP API a script would (GET /v1/models, POST /translate).

const canvas = document.getElementById("input");
const context = canvas.getContext("2d", { willReadFrequently: true });
const output = document.getElementById("output");
const latency = document.getElementById("latency");
const errorLine = document.getElementById("error");
const download = document.getElementById("download");
const tool = document.getElementById("tool");
const size = document.getElementById("size");

const DEBOUNCE_MS = 120;
let palette = [];
let colour = "#000000";
let background = "#ffffff";
const undoStack = [];
let inFlight = false;
let pending = false;
let timer = null;
let requests = 0;

async function start() {
  const response = await fetch("/v1/models");
  const model = await response.json();
  canvas.width = canvas.height = model.input_size;
  palette = model.palette || [];
  document.getElementById("model").textContent =
    `${model.name}: ${model.input_size} px, ${model.mode || "unknown"} mode` +
    (palette.length ? `, ${palette.length} classes` : "");
  if (palette.length) {
    background = palette[0].color;
    makeSwatches();
  } else {
    colour = "#000000";
  }
  drawExample();
  refresh();
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

function classColour(name, fallback) {
  const entry = palette.find((item) => item.name === name);
  return entry ? entry.color : fallback;
}

// The first view already shows a result: a façade in the model's palette, or a sketch.
function drawExample() {
  const n = canvas.width;
  const box = (name, fallback, x, y, w, h) => {
    context.fillStyle = classColour(name, fallback);
    context.fillRect(Math.round(x * n), Math.round(y * n), Math.round(w * n), Math.round(h * n));
  };
  context.fillStyle = background;
  context.fillRect(0, 0, n, n);
  if (!palette.length) {
    context.fillStyle = "#000000";
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

let start_ = null;
let last = null;
canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  remember();
  start_ = last = point(event);
  if (tool.value !== "rectangle") stamp(...last);
});
canvas.addEventListener("pointermove", (event) => {
  if (!last || tool.value === "rectangle") return;
  const next = point(event);
  line(last, next);
  last = next;
  schedule();
});
canvas.addEventListener("pointerup", (event) => {
  if (!last) return;
  if (tool.value === "rectangle") {
    const [x0, y0] = start_;
    const [x1, y1] = point(event);
    context.fillStyle = colour;
    context.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0) + 1, Math.abs(y1 - y0) + 1);
  }
  last = start_ = null;
  schedule();
});

function remember() {
  undoStack.push(context.getImageData(0, 0, canvas.width, canvas.height));
  if (undoStack.length > 50) undoStack.shift();
}

document.getElementById("undo").addEventListener("click", () => {
  if (!undoStack.length) return;
  context.putImageData(undoStack.pop(), 0, 0);
  schedule();
});
document.getElementById("clear").addEventListener("click", () => {
  remember();
  context.fillStyle = background;
  context.fillRect(0, 0, canvas.width, canvas.height);
  schedule();
});

function load(file) {
  if (!file) return;
  const image = new Image();
  image.onload = () => {
    remember();
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(image.src);
    schedule();
  };
  image.onerror = () => { errorLine.textContent = `${file.name} is not an image this browser can read`; };
  image.src = URL.createObjectURL(file);
}
document.getElementById("upload").addEventListener("change", (event) => load(event.target.files[0]));
canvas.addEventListener("dragover", (event) => { event.preventDefault(); canvas.classList.add("dropping"); });
canvas.addEventListener("dragleave", () => canvas.classList.remove("dropping"));
canvas.addEventListener("drop", (event) => {
  event.preventDefault();
  canvas.classList.remove("dropping");
  load(event.dataTransfer.files[0]);
});

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, DEBOUNCE_MS);
}

// One request in flight; a drawing made meanwhile is sent when it returns (the latest wins).
async function refresh() {
  if (inFlight) {
    pending = true;
    return;
  }
  inFlight = true;
  try {
    const body = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const started = performance.now();
    const response = await fetch("/translate", { method: "POST", body, headers: { "Content-Type": "image/png" } });
    if (!response.ok) {
      errorLine.textContent = (await response.json()).error;
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    await new Promise((resolve, reject) => {
      output.onload = resolve;
      output.onerror = () => reject(new Error("the output is not an image"));
      output.src = url;
    });
    if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href); // the previous output
    download.href = url;
    latency.textContent = `${Math.round(performance.now() - started)} ms`;
    errorLine.textContent = "";
    requests += 1;
    output.dataset.requests = String(requests);
  } catch (error) {
    errorLine.textContent = `the server did not answer (${error})`;
  } finally {
    inFlight = false;
    if (pending) {
      pending = false;
      refresh();
    }
  }
}

start();
