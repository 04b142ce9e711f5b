"""pix2pix-tf evaluate: score a model on a split; write metrics.json, index.html and grid.png.

  pix2pix-tf evaluate --workdir=runs/facades --split=val
  pix2pix-tf evaluate --model=saved_models/facades --data=path/to/facades --output=reports/facades
  pix2pix-tf evaluate --workdir=runs/photo2labels --palette=facades   # label maps: class accuracy, IoU
  pix2pix-tf evaluate --workdir=runs/facades --segmenter=runs/photo2labels  # realism: the paper's FCN score
"""

from __future__ import annotations

from absl import flags

from pix2pix_tf.cli import errors
from pix2pix_tf.cli.output import define_output_flag, output_flag
from pix2pix_tf.config import INFERENCE_MODES, LABEL_PALETTE_NAMES

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training run folder (latest checkpoint).")
flags.DEFINE_string("model", None, "Instead of --workdir: a SavedModel or export folder, or a .tflite file.")
flags.DEFINE_string("data", None, "Dataset to score on; default the one in the model's config.")
flags.DEFINE_string("split", "val", "Split folder of the dataset (val, train, test, ...).")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of a run folder: paper (dropout on, "
                  "per-image statistics) or eval (moving statistics). Default: the run's eval_mode.")
flags.DEFINE_string("checkpoint", None, "Of a run folder: latest (default), best (the best by validation, "
                    "checkpoints/best) or a checkpoint path.")
define_output_flag("Report folder; default <model folder>/eval_<split>.")
flags.DEFINE_integer("max_images", 0, "Score the first N images only (0: all).")
flags.DEFINE_string("palette", "none", f"Also score generated label maps snapped to this palette: "
                    f"{', '.join(LABEL_PALETTE_NAMES[1:])} or colors:#rrggbb,#rrggbb,... (your own classes); "
                    "pixel accuracy, class accuracy, class IoU (photo -> labels). none: off.")
flags.DEFINE_string("segmenter", None, "A photo -> label-map model (run folder, export, .tflite or shipped model) "
                    "that segments every generated photo and the real one; their label maps are scored against the "
                    "input label map (the paper's FCN score: fcn_pixel_accuracy, fcn_class_accuracy, "
                    "fcn_class_iou; fcn_real_* for the real photos, the ceiling). --palette: its label palette.")
flags.DEFINE_string("inception_weights", None, "Also compute FID and KID on Inception-v3 features: "
                    "'imagenet' (downloaded once by Keras) or a local InceptionV3(include_top=False) weights file.")
flags.DEFINE_integer("grid_images", 8, "Images in grid.png.")


def main(argv: list[str]) -> None:
    if bool(FLAGS.workdir) == bool(FLAGS.model):
        errors.fail("evaluate", "give one of --workdir (a run folder) or --model (an export or .tflite)")
    with errors.reported_errors("evaluate"):
        from pix2pix_tf.evaluation.evaluate import evaluate_model, summary_lines

        result, paths = evaluate_model(
            FLAGS.workdir or FLAGS.model, output_flag("evaluate"), data=FLAGS.data, split=FLAGS.split, mode=FLAGS.mode,
            checkpoint=FLAGS.checkpoint,
            max_images=FLAGS.max_images, palette=FLAGS.palette, segmenter=FLAGS.segmenter,
            inception_weights=FLAGS.inception_weights,
            grid_images=FLAGS.grid_images,
        )
    print("\n".join(summary_lines(result.summary)))
    print("report: " + "   ".join(f"{path}" for path in paths.values()))
