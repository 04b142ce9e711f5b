"""Run an exported .tflite generator on one image, as a phone app would.

Introduction
------------
This is the whole inference path an Android or iOS app mirrors, with no TensorFlow: the LiteRT
interpreter, the tensor spec, and the pre- and post-processing in plain numpy.

    python examples/tflite_inference.py --model=saved_models/synthetic/model_int8.tflite --image=in.jpg

The model has a fixed input of 1 x S x S x C (S = the training image size). Larger images are
resized here for simplicity; ``pix2pix-tf translate`` tiles them instead.
"""

from __future__ import annotations

import numpy as np
from absl import app, flags
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

MODEL = flags.DEFINE_string("model", None, "A .tflite file from pix2pix-tf export.", required=True)
IMAGE = flags.DEFINE_string("image", None, "Input image (any format PIL reads).", required=True)
OUTPUT = flags.DEFINE_string("output", "translated.png", "Where the result is written.")


def preprocess(pixels: np.ndarray, details: dict) -> np.ndarray:
    """uint8 [S, S, C] -> the input tensor: [-1, 1] floats, quantized when the tensor is int8/uint8."""
    values = pixels.astype(np.float32) / 127.5 - 1.0
    if details["dtype"] in (np.int8, np.uint8):
        scale, zero_point = details["quantization"]
        info = np.iinfo(details["dtype"])
        values = np.clip(np.round(values / scale + zero_point), info.min, info.max)
    return values.astype(details["dtype"])[np.newaxis]


def postprocess(tensor: np.ndarray, details: dict) -> np.ndarray:
    """The output tensor -> uint8 [S, S, C]: dequantize if needed, then [-1, 1] -> [0, 255]."""
    values = tensor[0].astype(np.float32)
    if details["dtype"] in (np.int8, np.uint8):
        scale, zero_point = details["quantization"]
        values = scale * (values - zero_point)
    return np.clip(np.round((values + 1.0) * 127.5), 0, 255).astype(np.uint8)


def main(argv: list[str]) -> None:
    del argv
    # 1. Load the model; two threads, as on a mid-range phone's big cores.
    interpreter = Interpreter(model_path=MODEL.value, num_threads=2)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()[0]
    output_details = interpreter.get_output_details()[0]
    _, size, _, channels = input_details["shape"]
    print(f"input  {input_details['shape']} {np.dtype(input_details['dtype']).name} "
          f"quantization (scale, zero point) {input_details['quantization']}")
    print(f"output {output_details['shape']} {np.dtype(output_details['dtype']).name} "
          f"quantization {output_details['quantization']}")

    # 2. The image: RGB (or gray for 1-channel models), resized to the model's fixed size.
    image = Image.open(IMAGE.value).convert("L" if channels == 1 else "RGB")
    original_size = image.size
    pixels = np.asarray(image.resize((size, size), Image.BICUBIC)).reshape(size, size, channels)

    # 3. Run.
    interpreter.set_tensor(input_details["index"], preprocess(pixels, input_details))
    interpreter.invoke()
    result = postprocess(interpreter.get_tensor(output_details["index"]), output_details)

    # 4. Back to the input's size and save.
    Image.fromarray(result.squeeze()).resize(original_size, Image.BICUBIC).save(OUTPUT.value)
    print(f"wrote {OUTPUT.value} ({original_size[0]}x{original_size[1]})")


if __name__ == "__main__":
    app.run(main)
