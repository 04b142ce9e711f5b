"""pix2pix-tf verify: each TFLite file of an export against its SavedModel, on real images.

  pix2pix-tf verify --model=saved_models/facades
  pix2pix-tf verify --model=saved_models/facades --data=path/to/facades   # data moved since export

Prints PSNR and max |difference| per format; exits 1 when one falls below its threshold
(fp32 60 dB, fp16 45 dB, int8 30 dB). `pix2pix-tf export` runs the same check at its end.
"""

from __future__ import annotations

import sys

from absl import flags

from pix2pix_tf.cli import errors

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Export folder (saved_model/, model_*.tflite, config.json).")
flags.DEFINE_string("data", None, "Data for the check images (default: the data the model was trained on).")
flags.DEFINE_integer("verify_images", 16, "Validation images to compare on.")


def main(argv: list[str]) -> None:
    if not FLAGS.model:
        errors.fail("verify", "--model is required: an export folder from pix2pix-tf export")
    with errors.reported_errors("verify"):
        from pix2pix_tf.deploy import export as exporter

        results = exporter.verify_folder(FLAGS.model, FLAGS.data, FLAGS.verify_images)
    for line in exporter.parity_lines(results):
        print(line)
    sys.exit(0 if all(result["passed"] for result in results.values()) else 1)
