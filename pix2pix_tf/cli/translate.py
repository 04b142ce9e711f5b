"""pix2pix-tf translate: images or a folder of images -> translated PNGs of the same sizes.

  pix2pix-tf translate --model=runs/facades --input=photo.jpg --output=out
  pix2pix-tf translate --model=saved_models/facades --input=photos/ --output=out
  pix2pix-tf translate --model=saved_models/facades/model_float16.tflite --input=photos/ --output=out
"""

from __future__ import annotations

import time

from absl import app, flags

from pix2pix_tf.cli import errors
from pix2pix_tf.config import INFERENCE_MODES

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder, a SavedModel or export folder, or a .tflite file.")
flags.DEFINE_string("input", None, "An image file, or a folder whose image files are all translated.")
flags.DEFINE_string("output", None, "Folder for the outputs: <input stem>.png, each the input's size.")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of a run folder (default: the run's "
                  "eval_mode, the mode it was scored in); an export keeps the mode it was exported in.")
flags.DEFINE_integer("tile_size", None, "Translate images larger than this in overlapping tiles of this "
                     "side, blended without seams (bounds memory). A .tflite always tiles at its input size.")
flags.DEFINE_bool("skip_bad_images", False, "Leave out unreadable images (with a warning) instead of stopping.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    for name in ("model", "input", "output"):
        if not FLAGS[name].value:
            errors.fail("translate", f"--{name} is required")
    with errors.reported_errors("translate"):
        from pix2pix_tf.deploy.translator import Translator, list_images

        translator = Translator.load(FLAGS.model, FLAGS.mode, FLAGS.tile_size)
        inputs = list_images(FLAGS.input)
        print(f"model: {translator.source} ({translator.mode or 'unknown'} mode), {len(inputs)} image(s)")
        start = time.perf_counter()

        def show_progress(index: int, written) -> None:
            print(f"[{index + 1}/{len(inputs)}] {written}", flush=True)

        written = translator.translate_files(inputs, FLAGS.output, FLAGS.skip_bad_images, show_progress)
    seconds = time.perf_counter() - start
    skipped = len(inputs) - len(written)
    print(f"translated {len(written)} image(s) into {FLAGS.output} in {seconds:.1f} s"
          + (f"; skipped {skipped} unreadable" if skipped else ""))


def run(argv: list[str]) -> None:
    app.run(main, argv=argv)
