// The drawing tools of the page's input canvas, fitted to the kind of input the model takes
// (page.json's "input"): for a label map, one swatch per class and a brush, rectangles and an
// eraser in exact class colours; for a sketch, a black pen and an eraser on white paper; for a
// photo, a colour picker with the same brush, rectangles and eraser. For all: the pen size, undo,
// clear, and an image to upload or drop. Strokes are axis-aligned integer squares, never
// anti-aliased: label maps keep exactly their class colours, sketches stay black on white.

const canvas = document.getElementById("input");
const context = canvas.getContext("2d", { willReadFrequently: true });
const tool = document.getElementById("tool");
const size = document.getElementById("size");
const sizeValue = document.getElementById("size-value");
const picker = document.getElementById("colour");
const swatches = document.getElementById("swatches");
const errorLine = document.getElementById("error");

// What each kind of input offers: its tools (value: label) and the pen size it starts with
// (a sketch model was trained on pen lines 1 to 7 pixels wide at 256 px).
const KINDS = {
  label_map: { tools: { brush: "brush", rectangle: "rectangle", eraser: "eraser" }, size: 4 },
  sketch: { tools: { pen: "pen", eraser: "eraser" }, size: 3 },
  photo: { tools: { brush: "brush", rectangle: "rectangle", eraser: "eraser" }, size: 4 },
};
const UNDO_STEPS = 50;

let palette = []; // the classes of a label map: [{ name, color }]
let colour = "#000000";
let background = "#ffffff";
let changed = () => {}; // told of every change to the drawing: (input event or null, compute now?)
const undoStack = [];

// Fits the tools to ``page`` (page.json), forgets the undo history and draws the first input, the
// model's example or else a drawn one. ``onChange(event, now)`` hears of every change from here on.
export async function setUpTools(page, onChange) {
  changed = onChange;
  const kind = page.input;
  palette = kind === "label_map" ? page.palette || [] : [];
  background = palette.length ? palette[0].color : "#ffffff";
  colour = picker.value = "#000000";
  tool.replaceChildren(...Object.entries(KINDS[kind].tools).map(([value, label]) => new Option(label, value)));
  size.value = sizeValue.textContent = String(KINDS[kind].size);
  swatches.replaceChildren();
  if (palette.length) makeSwatches();
  document.getElementById("picker").hidden = kind !== "photo";
  undoStack.length = 0;
  await drawFirstInput(page.example);
}

function makeSwatches() {
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
  for (const other of swatches.querySelectorAll("button")) other.setAttribute("aria-checked", "false");
  button.setAttribute("aria-checked", "true");
  colour = button.dataset.color;
  if (tool.value === "eraser") tool.value = "brush";
}

picker.addEventListener("input", () => {
  colour = picker.value;
  if (tool.value === "eraser") tool.value = "brush";
});
size.addEventListener("input", () => { sizeValue.textContent = size.value; });

function classColour(name, fallback) {
  const entry = palette.find((item) => item.name === name);
  return entry ? entry.color : fallback;
}

// The first view already shows a result: the model's example input, or a drawn façade or sketch.
async function drawFirstInput(example) {
  const n = canvas.width;
  context.fillStyle = background;
  context.fillRect(0, 0, n, n);
  if (example) {
    try {
      return drawImage(await loadImage(example));
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
  if (undoStack.length > UNDO_STEPS) undoStack.shift();
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
