"""pix2pix-tf benchmark: print speed figures, ending with one JSON line.

  pix2pix-tf benchmark --what=train --preset=paper --batch_size=1 --steps=20 # train step: time, img/s, memory
  pix2pix-tf benchmark --what=input --data=path/to/facades --image_size=256   # input pipeline images/s
  pix2pix-tf benchmark --what=inference --preset=paper                        # TFLite size and latency
  pix2pix-tf benchmark --what=inference --preset=paper --generators=unet,unet_mobile  # teacher vs student
  pix2pix-tf benchmark --what=inference --workdir=runs/facades                 # ... of a trained run
"""

from __future__ import annotations

import json

from absl import flags

from pix2pix_tf import hardware
from pix2pix_tf.cli import config_flags, errors
from pix2pix_tf.config import PRESETS, Config

FLAGS = flags.FLAGS
flags.DEFINE_enum("what", "input", ["train", "input", "inference"], "What to time: train = the train step "
                  "(--steps timed steps, default 20); input = the training input pipeline alone; inference = "
                  "each TFLite precision's size and latency (2 threads).")
flags.DEFINE_list("sources", ["synthetic", "data"], "--what=train: time the step on fixed random tensors "
                  "(synthetic: the step alone) and/or on batches of the dataset (data: step + input).")
flags.DEFINE_string("workdir", None, "--what=inference: time this run's generator (default: a new one).")
flags.DEFINE_list("generators", None, "--what=inference: time these generators in one process, taking turns: "
                  "names of --generator (unet at --filters, unet_mobile at the student's width) or NAME:FILTERS, "
                  "e.g. unet,unet_mobile or unet_mobile:16,unet_mobile:24. Default: --generator.")
flags.DEFINE_integer("runs", 10, "--what=inference: timed runs per precision (after one warm-up).")
flags.DEFINE_integer("batches", 200, "Batches to time (after 20 of warm-up).")
flags.DEFINE_enum("preset", None, list(PRESETS), "Starting config before the flags apply (default: "
                  "quick without --data, paper with it).")
config_flags.define_config_flags()


def main(argv: list[str]) -> None:
    with errors.reported_errors("benchmark"):
        config = config_flags.apply_flags(Config.for_data(FLAGS.data, FLAGS.preset, FLAGS.task))
        from pix2pix_tf import speed

        if FLAGS.what == "train":
            results = {source: speed.benchmark_train(config, steps=config.train.steps or 20, source=source)
                       for source in FLAGS.sources}
        elif FLAGS.what == "input":
            results = speed.benchmark_input(config, FLAGS.batches)
        else:
            results = speed.benchmark_inference(config, runs=FLAGS.runs, workdir=FLAGS.workdir,
                                                generators=FLAGS.generators)
    if FLAGS.what == "train":
        for source, figures in results.items():
            print(_train_line(source, figures))
    elif FLAGS.what == "input":
        print(f"input pipeline: {results['images_per_s']:.1f} images/s "
              f"({results['batches']} batches of {results['batch_size']} at {results['image_size']} px, "
              f"{results['preprocess']})")
    else:
        _print_inference(results, config.data.image_size)
    print(json.dumps(results, sort_keys=True))


def _print_inference(results: dict, image_size: int) -> None:
    """A line per generator and precision; with several generators, each one's speed-up over the first."""
    from pix2pix_tf.speed import PRECISION_KEYS

    print(f"{hardware.cpu_info()['model']}, 2 threads, {image_size} px, one image per call")
    first = next(iter(results.values()))
    for name, figures in results.items():
        print(f"{name}: {figures['params']:,} parameters, {figures['gmacs']:.3f} GMAC per image "
              f"({figures['mode']} mode)")
        for key in PRECISION_KEYS.values():
            if key in figures:
                line = (f"  tflite {key:>12}: {figures[key]['size_mb']:8.2f} MB, {figures[key]['latency_ms']:8.2f} ms "
                        f"median ({figures[key]['min_ms']:.2f} min)")
                if figures is not first:
                    line += f", {first[key]['latency_ms'] / figures[key]['latency_ms']:.1f}x faster than the first"
                print(line)


def _train_line(source: str, figures: dict) -> str:
    precision = {"none": "float32"}.get(figures["mixed_precision"], figures["mixed_precision"])
    line = (f"train step ({source}, {figures['image_size']} px, batch {figures['batch_size']}, {precision}): median "
            f"{figures['median_step_s']:.3f} s (min {figures['min_step_s']:.3f}, max {figures['max_step_s']:.3f}), "
            f"{figures['images_per_s']:.2f} images/s, first step {figures['first_step_s']:.1f} s, peak RSS "
            f"{figures['peak_rss_mib']:.0f} MiB, {figures['achieved_gflop_per_s']:.0f} GFLOP/s = "
            f"{100 * figures['fraction_of_matmul']:.0f}% of this machine's {precision} matmul rate "
            f"({figures['matmul_gflop_per_s']:.0f} GFLOP/s; {figures['step_gflop']:.1f} GFLOP per step)")
    if "peak_device_mib" in figures:
        line += f", peak device memory {figures['peak_device_mib']:.0f} MiB"
    if "input_images_per_s" in figures:
        line += f"; input pipeline alone {figures['input_images_per_s']:.0f} images/s"
    return line
