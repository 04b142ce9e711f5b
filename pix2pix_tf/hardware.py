"""What the machine offers for training precision: CPU flags, GPU compute capability, TPUs, and
the precision ``--mixed_precision=auto`` picks from them."""

from __future__ import annotations

import platform

CPUINFO = "/proc/cpuinfo"
# The /proc/cpuinfo flags that decide how fast the train step can run on a CPU.
CPU_FLAGS_THAT_MATTER = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                         "amx_tile", "amx_bf16", "amx_int8")
# A CPU with any of these multiplies bfloat16 in hardware; elsewhere TensorFlow emulates it, slower than float32.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_info(cpuinfo: str | None = None) -> dict[str, object]:
    """{"model": the CPU's name, "flags": those of ``CPU_FLAGS_THAT_MATTER`` it has}, from
    /proc/cpuinfo (``cpuinfo``: another file of that format); flags empty where it cannot be read."""
    model, flags = "", set()
    try:
        with open(cpuinfo or CPUINFO) as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags":
                    flags.update(value.split())
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return {"model": model, "flags": [flag for flag in CPU_FLAGS_THAT_MATTER if flag in flags]}


def accelerators(strategy=None) -> dict[str, object]:
    """{"tpu": whether the run has TPUs, "gpus": each GPU's compute capability (major, minor), or
    None where TensorFlow does not report it}."""
    import tensorflow as tf

    tpu = isinstance(strategy, tf.distribute.TPUStrategy) or bool(tf.config.list_logical_devices("TPU"))
    gpus = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
            for gpu in tf.config.list_physical_devices("GPU")]
    return {"tpu": tpu, "gpus": [tuple(capability) if capability else None for capability in gpus]}


def resolve_mixed_precision(choice: str, strategy=None, cpuinfo: str | None = None) -> tuple[str, str]:
    """The precision to train in, and why: ``choice`` itself unless it is "auto".

    "auto" picks bfloat16 on TPUs and on CPUs with native bfloat16 (``NATIVE_BF16_FLAGS``),
    float16 where every GPU has compute capability 7.0 or more (tensor cores), and "none"
    (float32) elsewhere.
    """
    if choice != "auto":
        return choice, "as requested"
    found = accelerators(strategy)
    if found["tpu"]:
        return "bfloat16", "TPU"
    if found["gpus"]:
        if None in found["gpus"]:
            return "none", "GPU of unknown compute capability"
        major, minor = min(found["gpus"])
        if (major, minor) >= (7, 0):
            return "float16", f"GPU of compute capability {major}.{minor}"
        return "none", f"GPU of compute capability {major}.{minor} (< 7.0: no tensor cores)"
    info = cpu_info(cpuinfo)
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in info["flags"]]
    if native:
        return "bfloat16", f"CPU with {'/'.join(native)} ({info['model']})"
    return "none", f"CPU without native bfloat16 ({info['model']})"
