"""The benchmark programs report what they claim (their figures are for people; no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import REPO, TINY, run_cli, tiny_config, write_pairs

from pix2pix_tf import hardware, speed
from pix2pix_tf.config import ModelConfig
from pix2pix_tf.models import generators
from pix2pix_tf.models.discriminators import build_discriminator

TRAIN_KEYS = {"median_step_s", "min_step_s", "max_step_s", "images_per_s", "first_step_s", "peak_rss_mib",
              "step_gflop", "achieved_gflop_per_s", "matmul_gflop_per_s", "fraction_of_matmul", "mixed_precision"}


def test_flop_count_of_the_paper_networks_matches_the_design():
    """12.1 GFLOP for the U-Net and 6.4 for the PatchGAN at 256 px: the 87 GFLOP step of DESIGN.md."""
    config = ModelConfig()
    assert speed.model_flops(generators.build_generator(config, 256), 256) / 1e9 == pytest.approx(12.10, abs=0.01)
    assert speed.model_flops(build_discriminator(config), 256) / 1e9 == pytest.approx(6.39, abs=0.01)
    paper = tiny_config().replace(model=config).replace(data=tiny_config().data.__class__(image_size=256))
    assert speed.step_flops(paper) / 1e9 == pytest.approx(87.4, abs=0.1)
    # The simultaneous order (and the tutorial) judges the generated batch once: 2 D passes fewer.
    simultaneous = paper.replace(train=dict(update_order="simultaneous"))
    assert speed.step_flops(simultaneous) / 1e9 == pytest.approx(87.4 - 2 * 6.39, abs=0.1)


@pytest.mark.slow
def test_benchmark_train_times_the_real_step(paired_folder, monkeypatch):
    """The figures come from timing the step: a step made 80 ms slower is reported at least that slow."""
    from pix2pix_tf.training import step

    class SlowerPix2Pix(step.Pix2Pix):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            compiled = self.compiled_train_step

            def slower(*batch):
                time.sleep(0.08)
                return compiled(*batch)

            self.compiled_train_step = slower

    monkeypatch.setattr(step, "Pix2Pix", SlowerPix2Pix)
    results = speed.benchmark_train(tiny_config(paired_folder), steps=3, warmup=1, source="data")
    assert TRAIN_KEYS | {"input_images_per_s"} <= set(results)
    assert 0.08 <= results["min_step_s"] <= results["median_step_s"] <= results["max_step_s"]
    assert results["images_per_s"] == pytest.approx(2 / results["median_step_s"], rel=0.01)
    assert results["achieved_gflop_per_s"] == pytest.approx(
        results["step_gflop"] / results["median_step_s"], rel=0.05)
    assert results["first_step_s"] > results["median_step_s"]  # the first call traces the graph
    assert 0 < results["peak_rss_mib"] and 0 < results["fraction_of_matmul"]


@pytest.mark.slow
def test_benchmark_command_ends_with_a_json_line_of_the_figures():
    result = run_cli("benchmark", "--what=train", "--sources=synthetic", "--steps=2", *TINY)
    assert result.returncode == 0, result.stderr
    # The default --mixed_precision=auto: the line names the precision this machine resolves it to.
    resolved = hardware.resolve_mixed_precision("auto")[0]
    assert f"train step (synthetic, 32 px, batch 2, {'float32' if resolved == 'none' else resolved})" in result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert TRAIN_KEYS <= set(figures["synthetic"])
    assert figures["synthetic"]["mixed_precision"] == resolved


@pytest.mark.slow
def test_inference_benchmark_maps_each_generator_to_its_cost_and_every_precision():
    config = tiny_config().replace(data=tiny_config().data.__class__(image_size=32))
    results = speed.benchmark_inference(config, runs=2, generators=["unet:8", "unet_mobile:4", "unet_mobile:4:separable"])
    assert list(results) == ["unet:8", "unet_mobile:4", "unet_mobile:4:separable"]
    for figures in results.values():
        assert {"params", "gmacs", "mode", "fp32", "fp16", "dynamic_int8", "int8"} <= set(figures)
        for key in ("fp32", "fp16", "dynamic_int8", "int8"):
            assert figures[key]["size_mb"] > 0 and figures[key]["latency_ms"] > 0
    # A quarter of the width: a fraction of the work (the 3-channel first and last levels shrink only
    # linearly); separable levels cut it further.
    assert results["unet:8"]["gmacs"] > 3 * results["unet_mobile:4"]["gmacs"] > 3 * results["unet_mobile:4:separable"]["gmacs"]
    assert results["unet:8"]["fp32"]["size_mb"] > 3 * results["unet_mobile:4"]["fp32"]["size_mb"]
    with pytest.raises(ValueError, match="unet_mobile:FILTERS:CONV"):
        speed.generator_models(config, ["unet_mobile:4:depthwise"])


@pytest.mark.slow
def test_benchmark_command_times_several_generators_and_ends_with_their_json():
    result = run_cli("benchmark", "--what=inference", "--generators=unet,unet_mobile:4", "--runs=1", *TINY)
    assert result.returncode == 0, result.stderr
    assert "faster than the first" in result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == {"unet", "unet_mobile:4"} and figures["unet"]["params"] > figures["unet_mobile:4"]["params"]


# A stand-in for the tutorial module (tensorflow/examples .../pix2pix/pix2pix.py): absl flags of
# its own at import, one of them the benchmark's --batch_size, and a Pix2pix class whose
# train_step returns (gen_loss, disc_loss).
TUTORIAL_MODULE = '''
from absl import flags
import tensorflow as tf

flags.DEFINE_integer("batch_size", 1, "Batch Size")
flags.DEFINE_integer("epochs", 1, "Number of epochs")
CALLS = []


class Pix2pix(object):
    def __init__(self, epochs, enable_function):
        self.scale = tf.Variable(1.0)

    def train_step(self, input_image, target_image):
        self.scale.assign_add(1.0)
        loss = tf.reduce_mean(tf.abs(input_image - target_image)) * self.scale
        return loss, loss
'''


@pytest.mark.slow
def test_tutorial_benchmark_ends_with_ratios_cpu_flags_and_matmul_rates(tmp_path):
    """benchmarks/tf_tutorial_step.py: every variant's median, ratio to the tutorial and share of
    the matmul rate, the tutorial module's own code beside the rebuild, peak RSS per process."""
    module = tmp_path / "pix2pix.py"
    module.write_text(TUTORIAL_MODULE)
    command = [sys.executable, str(REPO / "benchmarks" / "tf_tutorial_step.py"), "--steps=1", "--batch_size=1",
               "--variants=bfloat16:simultaneous", f"--tutorial_code={module}", "--memory"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("tf_tutorial", "tf_tutorial_code", "bfloat16:simultaneous"):
        assert {"median_step_s", "speedup_over_tutorial", "share_of_matmul", "peak_rss_mib"} <= set(figures[name])
        assert figures[name]["peak_rss_mib"] > 100
    assert figures["tf_tutorial"]["speedup_over_tutorial"] == 1.0
    ours = figures["bfloat16:simultaneous"]
    assert (ours["precision"], ours["update_order"]) == ("bfloat16", "simultaneous")
    assert ours["speedup_over_tutorial"] == pytest.approx(
        figures["tf_tutorial"]["median_step_s"] / ours["median_step_s"], rel=0.01)
    assert set(figures["matmul_gflop_per_s"]) == {"float32", "bfloat16"}
    assert isinstance(figures["cpu"]["flags"], list) and figures["cpu"]["model"]
    assert figures["image_size"] == 256 and figures["batch_size"] == 1

    bad = subprocess.run(command[:4] + ["--variants=float64"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "'float64' is not PRECISION" in bad.stderr


def _benchmark_figures(script: str, *flags: str) -> dict:
    """Runs benchmarks/SCRIPT with FLAGS; the JSON object on its last line."""
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *flags],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_step_profile_splits_the_step_into_tensorflow_ops_and_onednn_primitives():
    """benchmarks/profile_step.py: the categories add up to the step; convolutions are found in
    both views, and oneDNN's reorders are counted apart."""
    figures = _benchmark_figures("profile_step.py", "--variant=bfloat16", "--image_size=64", "--profiled_steps=2")
    ops = figures["tensorflow_ops_ms"]
    assert sum(ops.values()) == pytest.approx(figures["wall_ms"], rel=0.1)
    assert min(ops["conv forward"], ops["conv backward: input"], ops["conv backward: filter"]) > 0
    assert ops["batch norm"] > 0 and ops["optimizer"] > 0 and ops["casts"] > 0  # bf16: casts exist
    assert {"convolution forward_training", "convolution backward_weights", "reorder (layout / dtype conversion)"} \
        <= set(figures["onednn_ms"])
    assert 0 < sum(figures["onednn_ms"].values()) < 1.1 * figures["onednn_step_ms"]  # per step, not summed


def test_tutorial_benchmark_variants_name_pix2pixhds_options():
    """tf_tutorial_step.py's variant names map onto configs: scales, feature matching, the hd preset,
    the kernels (checked in a process of its own: the module defines absl flags)."""
    import textwrap

    script = textwrap.dedent("""
        import json
        import tf_tutorial_step
        config = tf_tutorial_step.variant_config("float32:scales=3:fm", 128, 2)
        hd = tf_tutorial_step.variant_config("float32:hd", 256, 1)
        kernels = [tf_tutorial_step.variant_config(f"float32{option}", 64, 1).train.kernels
                   for option in ("", ":kernels=keras", ":kernels=cpu")]
        errors = []
        for bad in ("float32:scales=x", "float32:scales=2:scales=3", "float32:fast", "float32:kernels=gpu"):
            try:
                tf_tutorial_step.variant_config(bad, 64, 1)
            except ValueError as error:
                errors.append(str(error))
        print(json.dumps([config.model.disc_scales, config.train.feature_matching_weight,
                          config.train.mixed_precision, hd.model.disc_scales, hd.model.norm, hd.train.gan_loss,
                          kernels, errors]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO / "benchmarks",
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    *figures, errors = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures == [3, 10.0, "none", 2, "instance", "lsgan", ["auto", "keras", "cpu"]]
    assert len(errors) == 4 and all("is not PRECISION" in error for error in errors)


def test_small_level_benchmark_times_every_level_both_ways_and_names_the_matmul_ones():
    """benchmarks/small_conv_gradients.py: a line and a JSON entry per U-Net level and precision,
    marking exactly the levels the layers take as matmuls."""
    figures = _benchmark_figures("small_conv_gradients.py", "--image_size=64", "--runs=1", "--precisions=none")
    levels = figures["layers"]
    assert len(levels) == 12  # 6 encoder convs and 6 transposed convs at 64 px
    assert all(row["onednn_ms"] > 0 and row["ours_ms"] > 0 for row in levels.values())
    matmul = {name for name, row in levels.items() if row["matmul_gradient"]}
    # 64 px, 64 filters: the levels of at most 8 x 8 positions; those of 16 x 16 are too narrow
    assert matmul == {"none/down2_conv", "none/down3_conv", "none/down4_conv", "none/down5_conv",
                      "none/up5_convt", "none/up4_convt", "none/up3_convt", "none/up2_convt"}


@pytest.mark.slow
def test_export_memory_benchmark_gives_every_stage_its_time_and_peak():
    """benchmarks/export_memory.py: a stage per format and the parity check, each with its own peak."""
    figures = _benchmark_figures("export_memory.py", "--image_size=32", "--filters=8")
    assert [stage["stage"] for stage in figures["stages"]][:5] == [
        "SavedModel", "TFLite float32", "TFLite float16", "TFLite dynamic_int8",
        "TFLite int8 (calibrated on 16 training images)"]
    assert figures["stages"][-1]["stage"].startswith("parity of each TFLite file")
    for stage in figures["stages"]:
        assert stage["peak_rss_mib"] >= stage["rss_mib_at_start"] > 100 and stage["seconds"] >= 0
    assert set(figures["files_mb"]) == {"saved_model", "model_float32.tflite", "model_float16.tflite",
                                        "model_dynamic_int8.tflite", "model_int8.tflite"}


@pytest.mark.slow
def test_page_latency_times_strokes_in_chromium_and_compares_the_page_with_the_server():
    """benchmarks/page_latency.py: a figure per model and engine, the page's pictures within a level
    of the server's translation, and the page never showing less than the time measured from outside."""
    import os

    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    figures = _benchmark_figures("page_latency.py", "--models=unet_mobile", "--image_size=32", "--strokes=2",
                                 "--rounds=1", "--engines=browser,server")
    assert set(figures["results"]) == {"unet_mobile/browser", "unet_mobile/server"}
    for result in figures["results"].values():
        assert result["strokes"] == 2 and result["max_level_difference"] <= 1
        assert result["page_shows_median_ms"] >= result["stroke_to_picture_median_ms"] - 1
    assert figures["machine"]["litert_js"] and figures["machine"]["runtime_bytes"] > 5e6


@pytest.mark.slow
def test_facades_benchmark_trains_scores_exports_and_reports(tmp_path):
    data = tmp_path / "facades"
    write_pairs(data, "train", 4, size=32, seed=1)
    write_pairs(data, "val", 3, size=32, seed=2)
    workdir = tmp_path / "results"
    command = [sys.executable, str(REPO / "benchmarks" / "facades_benchmark.py"), f"--data={data}",
               f"--workdir={workdir}", "--image_size=32", "--ablation_size=32", "--epochs=1",
               "--ablation_epochs=1", "--filters=8", "--grid_images=2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    for name in ("labels2photo", "photo2labels", "ablation_l1", "ablation_cgan", "ablation_l1_cgan"):
        scores = json.loads((workdir / name / "scores.json").read_text())
        assert scores["steps"] == 4 and scores["images"] == 3, name
        assert (workdir / name / "eval_val" / "index.html").exists()
    # The ablation really changed the losses: G's adversarial term is off in the L1-only run.
    assert json.loads((workdir / "ablation_l1" / "config.json").read_text())["train"]["gan_weight"] == 0.0
    assert json.loads((workdir / "ablation_cgan" / "config.json").read_text())["train"]["l1_weight"] == 0.0
    assert "pixel_accuracy" in json.loads((workdir / "photo2labels" / "scores.json").read_text())
    export = json.loads((workdir / "export" / "export.json").read_text())
    assert set(export["scores"]) == {"saved_model", "float32", "float16", "int8"}
    assert (workdir / "ablation_grid.png").stat().st_size > 0
    assert (workdir / "facades_grid.png").stat().st_size > 0
    report = (workdir / "results.md").read_text()
    for row in ("| labels2photo | 32 | 4 |", "| ablation_cgan | 32 | 4 |", "| TFLite int8 |", "| SavedModel |"):
        assert row in report

    # Every stage resumes: a second run trains nothing more and rewrites the same scores.
    again = subprocess.run(command[:-1] + ["--stages=labels2photo"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((workdir / "labels2photo" / "scores.json").read_text())["steps"] == 4


@pytest.mark.slow
def test_facades_benchmark_names_a_folder_without_train_split(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "facades_benchmark.py"), f"--data={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert str(tmp_path) in done.stderr and "train/" in done.stderr


@pytest.mark.slow
def test_data_memory_reads_every_file_and_reports_its_peak():
    """benchmarks/data_memory.py: the files it writes are read by training's pipeline and measured."""
    figures = _benchmark_figures("data_memory.py", "--width=200", "--height=100", "--files=3", "--image_size=32")
    assert (figures["width"], figures["height"], figures["files"]) == (200, 100, 3)
    assert figures["peak_rss_mib"] >= figures["rss_mib_at_start"] > 0 and figures["seconds"] >= 0


@pytest.mark.slow
def test_sketch_drawings_are_drawn_on_the_page_and_translated_by_each_model(paired_folder, tmp_path):
    """benchmarks/sketch_drawings.py: every drawing at every pen size, black strokes on white (the
    thick pen inking more), and a grid of each model's pictures of them."""
    import numpy as np
    from PIL import Image

    import os

    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    workdir = tmp_path / "run"
    trained = run_cli("train", f"--data={paired_folder}", f"--workdir={workdir}", "--steps=1", *TINY)
    assert trained.returncode == 0, trained.stderr[-2000:]
    out, grid = tmp_path / "drawings", tmp_path / "grid.png"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "sketch_drawings.py"), f"--out={out}",
                             f"--runs=tiny:{workdir},again:{workdir}@ckpt-1", "--drawings=handbag,boot",
                             "--pens=1,4", f"--grid={grid}"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    drawings = sorted(out.glob("*.png"))
    assert [path.name for path in drawings] == ["boot_pen1.png", "boot_pen4.png", "handbag_pen1.png", "handbag_pen4.png"]
    for name in ("boot", "handbag"):
        thin, thick = (np.asarray(Image.open(out / f"{name}_pen{pen}.png").convert("L")) for pen in (1, 4))
        assert thin.shape == (32, 32) and np.median(thin) == 255
        assert 0 < (thin < 128).sum() < (thick < 128).sum()
    assert grid.stat().st_size > 0


@pytest.mark.slow
def test_freehand_val_scores_each_run_on_the_data_and_on_redrawn_sketches(paired_folder, tmp_path):
    """benchmarks/freehand_val.py: every val image scored twice per run, the redrawn inputs differing."""
    workdir = tmp_path / "run"
    trained = run_cli("train", f"--data={paired_folder}", f"--workdir={workdir}", "--steps=1", *TINY)
    assert trained.returncode == 0, trained.stderr[-2000:]
    figures = _benchmark_figures("freehand_val.py", f"--runs=a:{workdir},b:{workdir}@ckpt-1", "--mode=eval")
    assert set(figures) == {"a", "b"} and figures["a"]["mode"] == "eval"
    for run in figures.values():
        assert run["data"]["images"] == run["redrawn"]["images"] == 3
        assert run["data"]["l1"] != run["redrawn"]["l1"]
    assert figures["a"]["data"] == figures["b"]["data"]  # the latest checkpoint is ckpt-1
