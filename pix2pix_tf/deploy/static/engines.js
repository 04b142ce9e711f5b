// Where the drawing page's pictures are computed: in the browser, where LiteRT.js (./litert/,
// vendored) runs the model's .tflite file on WebAssembly, or on the server through :predict. An
// engine is { where, says, debounce, translate(), close() }: translate() reads the input canvas and
// gives the picture, an ImageData (browser) or an ImageBitmap (server), both of the model's input
// size; close() lets go of the model (the page calls it when another model or engine takes over).

const SERVER_DEBOUNCE_MS = 120; // while a stroke goes on, the server gets at most one drawing per this
let runtime = null; // LiteRT.js, loaded once for all the models the page opens (it cannot load twice)

function loadRuntime() {
  runtime ??= (async () => {
    const litert = await import("./litert/litert.js");
    await litert.loadLiteRt(new URL("litert/", import.meta.url).href);
    return litert;
  })().catch((error) => {
    runtime = null;
    throw error;
  });
  return runtime;
}

// The browser when it can run the model's .tflite file, else the server, else an error naming why.
export async function chooseEngine(page, canvas) {
  let reason = page.browser_unavailable;
  if (page.model) {
    try {
      return await browserEngine(page, canvas);
    } catch (error) {
      reason = `this browser could not run ${page.model.file} (${error.message || error})`;
    }
  }
  if (page.predict) return serverEngine(page, canvas, reason);
  throw new Error(`Nothing can compute the pictures: ${reason}, and there is no server to ask.`);
}

async function browserEngine(page, canvas) {
  if (typeof WebAssembly !== "object") throw new Error("it has no WebAssembly");
  const litert = await loadRuntime();
  const response = await fetch(page.model.url);
  if (!response.ok) throw new Error(`${page.model.url}: HTTP ${response.status}`);
  const model = await litert.loadAndCompile(new Uint8Array(await response.arrayBuffer()), { accelerator: "wasm" });
  const n = page.input_size;
  const shape = [1, n, n, page.input_channels];
  const [input] = model.getInputDetails();
  if (input.dtype !== "float32" || Array.from(input.shape).join() !== shape.join()) {
    throw new Error(`its input is ${input.dtype} [${Array.from(input.shape)}], not float32 [${shape}]`);
  }
  return {
    where: "browser",
    says: `Computed in your browser: LiteRT.js runs ${page.model.file} (${(page.model.bytes / 1e6).toFixed(1)} MB) ` +
      "on WebAssembly",
    debounce: 0,
    async translate() {
      const pixels = canvas.getContext("2d").getImageData(0, 0, n, n);
      const tensor = new litert.Tensor(toModelInput(page, pixels), shape);
      let outputs;
      try {
        outputs = await model.run(tensor);
      } finally {
        tensor.delete();
      }
      try {
        return toImageData(page, outputs[0].toTypedArray());
      } finally {
        for (const result of outputs) result.delete();
      }
    },
    close() {
      model.delete();
    },
  };
}

export function serverEngine(page, canvas, reason) {
  return {
    where: "server",
    says: `Computed on the server, since ${reason}`,
    debounce: SERVER_DEBOUNCE_MS,
    async translate() {
      // toDataURL, not toBlob: right after drawing, Chromium's toBlob can take a second.
      const b64 = canvas.toDataURL("image/png").split(",", 2)[1];
      const response = await fetch(page.predict, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ instances: [{ b64 }] }),
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error);
      const png = Uint8Array.from(atob(answer.predictions[0].b64), (character) => character.charCodeAt(0));
      return createImageBitmap(new Blob([png], { type: "image/png" }),
        { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    },
    close() {}, // the server holds the model
  };
}

// Canvas pixels 0..255 -> the model's float32 input in [-1, 1], as the server computes it
// (float32 arithmetic: each step rounded with Math.fround; gray as tf.image.rgb_to_grayscale).
function toModelInput(page, { data }) {
  const count = page.input_size * page.input_size;
  const channels = page.input_channels;
  const input = new Float32Array(count * channels);
  const scale = (level) => Math.fround(Math.fround(level / 127.5) - 1);
  const [red, green, blue] = [0.2989, 0.587, 0.114].map(Math.fround);
  for (let i = 0; i < count; i++) {
    const r = data[4 * i], g = data[4 * i + 1], b = data[4 * i + 2];
    if (channels === 3) {
      input[3 * i] = scale(r);
      input[3 * i + 1] = scale(g);
      input[3 * i + 2] = scale(b);
    } else {
      input[i] = scale(Math.fround(Math.fround(Math.fround(r * red) + Math.fround(g * green)) + Math.fround(b * blue)));
    }
  }
  return input;
}

// The model's output in [-1, 1] -> pixels, rounded half to even like the server's tf.round.
function toImageData(page, values) {
  const n = page.input_size;
  const channels = page.output_channels;
  const image = new ImageData(n, n);
  const level = (value) => {
    const x = Math.min(255, Math.max(0, Math.fround(Math.fround(value + 1) * 127.5)));
    const below = Math.floor(x);
    return x - below > 0.5 || (x - below === 0.5 && below % 2 === 1) ? below + 1 : below;
  };
  for (let i = 0; i < n * n; i++) {
    for (let c = 0; c < 3; c++) image.data[4 * i + c] = level(values[channels * i + (channels === 3 ? c : 0)]);
    image.data[4 * i + 3] = 255;
  }
  return image;
}
