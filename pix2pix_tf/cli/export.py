"""pix2pix-tf export: a trained run -> SavedModel and TFLite files, verified against each other.

  pix2pix-tf export --workdir=runs/facades --output=saved_models/facades
  pix2pix-tf export --workdir=runs/facades --formats=saved_model,tflite_fp32,tflite_fp16,tflite_int8
  pix2pix-tf export --workdir=runs/facades --formats=web --output=site     # the drawing page, any static host
  pix2pix-tf export --model=saved_models/facades --formats=web --output=site
  pix2pix-tf export --model=facades_label2photo,edges2shoes_bags --formats=web --output=site  # these two
  pix2pix-tf export --formats=web --output=site                  # every model shipped in the package, to choose from
"""

from __future__ import annotations

import pathlib
import sys

from absl import flags

from pix2pix_tf.cli import errors
from pix2pix_tf.cli.output import define_output_flag, output_flag
from pix2pix_tf.config import INFERENCE_MODES

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder to export (its config.json and latest checkpoint).")
flags.DEFINE_list("model", None, "Instead of --workdir, with --formats=web: exported models to put in a web site, "
                  "comma-separated (each a folder holding model_<precision>.tflite and config.json, the .tflite "
                  "file, or a shipped model's name; a path holding a comma cannot be given here); the page opens "
                  "on the first and offers the others.")
define_output_flag("Output folder; default saved_models/<workdir name>.")
flags.DEFINE_list("formats", ["saved_model", "tflite_fp16", "tflite_int8"],
                  "Any of saved_model, tflite_fp32, tflite_fp16, tflite_dynamic_int8, tflite_int8, web (the "
                  "float16 file with the drawing page and its runtime: a static site that computes in the browser).")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode baked into the export; default: "
                  "the run's eval_mode, the mode its metrics were scored in. eval = moving statistics, no "
                  "dropout; paper = per-image statistics, fixed dropout mask. Both are deterministic and "
                  "batch-independent.")
flags.DEFINE_integer("representative_images", 64, "Training images that calibrate full-integer int8.")
flags.DEFINE_integer("verify_images", 16, "Validation images for the parity check of each TFLite file.")
flags.DEFINE_string("data", None, "Where the run's data is now, if it moved (calibration and parity images); "
                    "default the path in its config.json. Refused when it clearly is other data.")
flags.DEFINE_string("checkpoint", None, "latest (default), best (the best by validation, checkpoints/best) "
                    "or a checkpoint path.")


def main(argv: list[str]) -> None:
    if FLAGS.model and (FLAGS.workdir or FLAGS.formats != ["web"]):
        errors.fail("export", "--model goes with --formats=web (and no --workdir): it puts an exported model in a web site")
    models = [model for model in FLAGS.model or [] if model]
    if FLAGS.model is not None and not models:
        errors.fail("export", f"--model={','.join(FLAGS.model)} names no model: give one or more, comma-separated")
    if not (FLAGS.workdir or models):
        if FLAGS.formats != ["web"]:
            errors.fail("export", "--workdir is required: the training run to export (--formats=web alone makes "
                                  "a web site of the models shipped in the package)")
        from pix2pix_tf.deploy import pretrained

        models = [str(pretrained.folder(name)) for name in pretrained.names_default_first()]
        if not models:
            errors.fail("export", f"no model is shipped in {pretrained.FOLDER}: give --workdir or --model")
        out = pathlib.Path(output_flag("export") or "saved_models/shipped_web")
    elif models:
        model = pathlib.Path(models[0]).resolve()
        out = pathlib.Path(output_flag("export") or f"saved_models/{(model.parent if model.is_file() else model).name}_web")
    else:
        out = pathlib.Path(output_flag("export") or f"saved_models/{pathlib.Path(FLAGS.workdir).resolve().name}")
    with errors.reported_errors("export"):
        from pix2pix_tf.deploy import export as exporter

        if models:
            report = exporter.export_site(models, out)
        else:
            report = exporter.export_run(FLAGS.workdir, out, FLAGS.formats, FLAGS.mode,
                                       FLAGS.representative_images, FLAGS.verify_images,
                                       FLAGS.checkpoint, FLAGS.data, say=lambda line: print(line, flush=True))
    for name, size in report["files"].items():
        print(f"{out / name}: {size / 1e6:.1f} MB")
    for line in exporter.parity_lines(report.get("parity", {})):
        print(line)
    if "web" in report:
        print(exporter.site_line(out, report["web"]))
    sys.exit(0 if report["passed"] else 1)
