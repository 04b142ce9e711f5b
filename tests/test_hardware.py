"""--mixed_precision=auto: what the machine offers decides the precision, printed and recorded."""

from __future__ import annotations

import pytest
from conftest import tiny_config

from pix2pix_tf import hardware
from pix2pix_tf.config import Config
from pix2pix_tf.training.step import Pix2Pix
from pix2pix_tf.training.train import train_and_evaluate, with_resolved_precision

ZEN4_FLAGS = "fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512_vnni avx512_bf16 avx512_vbmi2"
SKYLAKE_FLAGS = "fpu vme sse sse2 avx avx2 fma avx512f avx512dq"


def _cpuinfo(tmp_path, name: str, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text("".join(f"processor\t: {index}\nmodel name\t: {name}\nflags\t\t: {flags}\n\n" for index in range(2)))
    return str(path)


@pytest.fixture
def no_accelerators(monkeypatch):
    """This machine as a CPU-only one, whatever the test machine has."""
    monkeypatch.setattr(hardware, "accelerators", lambda strategy=None: {"tpu": False, "gpus": []})


def test_cpu_info_reads_the_model_and_the_flags_that_matter(tmp_path):
    """The benchmark's JSON and auto's reason name the CPU and its relevant flags."""
    info = hardware.cpu_info(_cpuinfo(tmp_path, "AMD EPYC 9R14", ZEN4_FLAGS))
    assert info == {"model": "AMD EPYC 9R14", "flags": ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"]}
    assert hardware.cpu_info(str(tmp_path / "missing"))["flags"] == []


def test_auto_is_bfloat16_on_a_native_bf16_cpu_and_float32_elsewhere(tmp_path, no_accelerators):
    zen4 = _cpuinfo(tmp_path, "AMD EPYC 9R14", ZEN4_FLAGS)
    precision, reason = hardware.resolve_mixed_precision("auto", cpuinfo=zen4)
    assert precision == "bfloat16" and "avx512_bf16" in reason and "EPYC" in reason
    amx = _cpuinfo(tmp_path, "Intel Xeon Platinum 8480", SKYLAKE_FLAGS + " amx_tile amx_bf16")
    assert hardware.resolve_mixed_precision("auto", cpuinfo=amx)[0] == "bfloat16"
    skylake = _cpuinfo(tmp_path, "Intel Xeon Gold 6148", SKYLAKE_FLAGS)
    precision, reason = hardware.resolve_mixed_precision("auto", cpuinfo=skylake)
    assert precision == "none" and "without native bfloat16" in reason
    for choice in ("none", "float16", "bfloat16"):  # an explicit choice is kept, whatever the machine
        assert hardware.resolve_mixed_precision(choice, cpuinfo=skylake)[0] == choice


@pytest.mark.parametrize("capabilities, expected", [([(8, 0)], "float16"), ([(7, 0), (9, 0)], "float16"),
                                                    ([(6, 1)], "none"), ([(8, 6), (6, 0)], "none"), ([None], "none")])
def test_auto_is_float16_on_gpus_with_tensor_cores(tmp_path, no_accelerators, monkeypatch, capabilities, expected):
    monkeypatch.setattr(hardware, "accelerators", lambda strategy=None: {"tpu": False, "gpus": capabilities})
    zen4 = _cpuinfo(tmp_path, "AMD EPYC 9R14", ZEN4_FLAGS)  # the GPU decides, not the host CPU
    assert hardware.resolve_mixed_precision("auto", cpuinfo=zen4)[0] == expected


def test_auto_is_bfloat16_on_tpus(tmp_path, no_accelerators, monkeypatch):
    monkeypatch.setattr(hardware, "accelerators", lambda strategy=None: {"tpu": True, "gpus": []})
    skylake = _cpuinfo(tmp_path, "Intel Xeon Gold 6148", SKYLAKE_FLAGS)
    assert hardware.resolve_mixed_precision("auto", cpuinfo=skylake) == ("bfloat16", "TPU")


@pytest.mark.parametrize("flags, expected", [(ZEN4_FLAGS, "bfloat16"), (SKYLAKE_FLAGS, "none")])
def test_training_resolves_auto_and_the_step_takes_the_resolved_precision(tmp_path, no_accelerators, monkeypatch,
                                                                         flags, expected):
    monkeypatch.setattr(hardware, "CPUINFO", _cpuinfo(tmp_path, "test CPU", flags))
    with pytest.raises(ValueError, match="resolved mixed_precision"):
        Pix2Pix(tiny_config(mixed_precision="auto"), steps_per_epoch=10)
    model = Pix2Pix(with_resolved_precision(tiny_config(mixed_precision="auto")), steps_per_epoch=10)
    assert model.config.train.mixed_precision == expected
    assert model.generator.layers[1].compute_dtype == ("bfloat16" if expected == "bfloat16" else "float32")


@pytest.mark.slow
def test_train_prints_and_records_the_precision_auto_chose_and_a_resume_keeps_it(
        paired_folder, tmp_path, no_accelerators, monkeypatch, capsys):
    workdir = tmp_path / "run"
    monkeypatch.setattr(hardware, "CPUINFO", _cpuinfo(tmp_path, "AMD EPYC 9R14", ZEN4_FLAGS))
    config = tiny_config(paired_folder, steps=2, mixed_precision="auto")
    train_and_evaluate(config, workdir)
    assert "mixed precision: bfloat16 (auto: CPU with avx512_bf16 (AMD EPYC 9R14))" in capsys.readouterr().out
    assert Config.load(workdir / "config.json").train.mixed_precision == "bfloat16"
    # Resumed on a machine without bf16, auto keeps the precision the run started in.
    monkeypatch.setattr(hardware, "CPUINFO", _cpuinfo(tmp_path, "Intel Xeon Gold 6148", SKYLAKE_FLAGS))
    longer = config.replace(train=dict(steps=3))
    assert train_and_evaluate(longer, workdir).step == 3
    assert "mixed precision: bfloat16 (auto: as " in capsys.readouterr().out
    assert Config.load(workdir / "config.json").train.mixed_precision == "bfloat16"
