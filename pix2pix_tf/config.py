"""Frozen configuration dataclasses: the one source of truth for every option.

Defaults follow the paper (Isola et al., 2017) and the authors' PyTorch reference. Each field
carries its help text (and, for enumerations, its choices) in its metadata; the command-line
flags are generated from these fields, so a flag and its config field can never disagree.
The resolved config is written to ``workdir/config.json`` and read back on resume.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from pix2pix_tf.files import write_text_atomically
from pix2pix_tf.palettes import CUSTOM_PALETTE_PREFIX, LABEL_PALETTES

# Every list of choices, once: the config fields validate against these and the modules that
# implement them import them from here (so a new choice is added in one place).
GENERATORS = ("unet", "resnet", "unet_mobile")  # models/generators.py; unet_mobile: the distillation student
NORMS = ("batch", "sync_batch", "instance", "none")
UPSAMPLES = ("transpose", "resize")
MOBILE_CONVS = ("plain", "separable")  # the levels of the unet_mobile student (models/generators.py)
DIRECTIONS = ("AtoB", "BtoA")
# Pairs made from plain photos (data/tasks.py), and the channels of the input each makes from a photo.
TASK_INPUT_CHANNELS = {"colorize": 1, "edges": 3, "inpaint": 3, "superres": 3}
TASKS = tuple(TASK_INPUT_CHANNELS)
PREPROCESSES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
GAN_LOSSES = ("vanilla", "lsgan", "hinge")
RECON_LOSSES = ("l1", "l2")
UPDATE_ORDERS = ("reference", "simultaneous")
MIXED_PRECISIONS = ("none", "float16", "bfloat16", "auto")
KERNEL_POLICIES = ("auto", "keras", "cpu")  # kernels/policy.py
NONFINITE_MODES = ("stop", "skip")
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
BEST_METRICS = ("l1", "psnr", "ssim", "fcn_class_iou")  # fcn_*: with val_segmenter (evaluation/realism.py)
INFERENCE_MODES = ("paper", "eval")  # models/inference.py
TFLITE_PRECISIONS = ("float32", "float16", "dynamic_int8", "int8")  # deploy/tflite.py
COMBINE_FORMATS = ("jpg", "png")  # data/tools.py: A|B files made from A/ and B/
LABEL_PALETTE_NAMES = ("none", *LABEL_PALETTES)  # palettes.py; or colors:#rrggbb,... (palettes.check_palette)


def check_choice(name: str, value: Any, choices: tuple | dict) -> None:
    """Raises ValueError naming the option (a field or --flag), the bad value and the allowed ones."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of: {', '.join(map(str, choices))}")


def check_palette(name: str) -> None:
    """ValueError naming the palette unless it is one of ``LABEL_PALETTE_NAMES`` or
    ``colors:#rrggbb,#rrggbb,...`` (your own classes, named by number)."""
    if not name.startswith(CUSTOM_PALETTE_PREFIX):
        check_choice("palette", name, LABEL_PALETTE_NAMES)
        return
    colours = name[len(CUSTOM_PALETTE_PREFIX):].split(",")
    if not all(len(colour) == 7 and colour[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in colour[1:])
               for colour in colours):
        raise ValueError(f"palette={name!r}: expected colors:#rrggbb,#rrggbb,...")


def option(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field with its help text and, for enumerations, the allowed values."""
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = choices
    return dataclasses.field(default=default, metadata=metadata)


_FIELD_KINDS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}
# What each field type takes: a float field takes an integer too (2 for 2.0), no field takes a bool
# but a bool one (True is an int to Python).
_FIELD_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


class _Validated:
    """Checks every field's type and enumerated fields against their choices when the dataclass is built."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = _FIELD_TYPES.get(field.type, object)
            if not isinstance(value, expected) or (isinstance(value, bool) and field.type in ("int", "float")):
                raise ValueError(f"{field.name}={value!r} is not valid; expected {_FIELD_KINDS[field.type]}")
            if "choices" in field.metadata:
                check_choice(field.name, value, field.metadata["choices"])
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value}")
        self.validate()

    def validate(self) -> None:
        """Checks relations between fields; raises ValueError naming the field."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Validated):
    """Generator and discriminator architecture."""

    generator: str = option("unet", "Generator architecture.", GENERATORS)
    filters: int = option(64, "Generator base width (ngf); doubles per level up to 8x.")
    norm: str = option(
        "batch", "Normalization in both networks; sync_batch: batch statistics over all replicas of --strategy.",
        NORMS,
    )
    dropout: float = option(
        0.5, "Dropout rate in the U-Net decoder blocks next to the innermost, and in each ResNet residual block "
        "(as the reference trains pix2pix); 0: none."
    )
    upsample: str = option(
        "transpose",
        "U-Net decoder upsampling: transposed conv (paper) or resize + conv (no checkerboard).",
        UPSAMPLES,
    )
    mobile_conv: str = option(
        "plain", "Levels of the unet_mobile student: plain (the U-Net's 4x4 convs and transposed convs) or "
        "separable (3x3 depthwise + 1x1 convs, bilinear upsampling: 7x fewer MACs, lower quality).", MOBILE_CONVS,
    )
    resnet_blocks: int = option(9, "Residual blocks of the ResNet generator (6 or 9 usual).")
    disc_layers: int = option(
        3, "PatchGAN depth: 0 = 1x1 PixelGAN, 1 = 16x16, 3 = 70x70 (paper), 5 = 286x286."
    )
    disc_filters: int = option(64, "Discriminator base width (ndf).")
    disc_scales: int = option(
        1, "PatchGANs of the same depth on the image and its 2x, 4x, ... average-pooled copies (pix2pixHD's "
        "multi-scale discriminator: the coarser ones judge larger structures); their GAN losses are summed. "
        "1: the paper's single PatchGAN."
    )
    conditional: bool = option(True, "Discriminator sees input and output (cGAN); False: output only.")
    input_channels: int = option(3, "Channels of the generator input (1 = gray, 3 = RGB).")
    output_channels: int = option(3, "Channels of the generator output (1 = gray, 3 = RGB).")

    def validate(self) -> None:
        _require(self.filters >= 1, f"filters must be >= 1, got {self.filters}")
        _require(self.disc_filters >= 1, f"disc_filters must be >= 1, got {self.disc_filters}")
        _require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        _require(self.disc_layers >= 0, f"disc_layers must be >= 0, got {self.disc_layers}")
        _require(self.disc_scales >= 1, f"disc_scales must be >= 1, got {self.disc_scales}")
        _require(self.resnet_blocks >= 1, f"resnet_blocks must be >= 1, got {self.resnet_blocks}")
        for name in ("input_channels", "output_channels"):
            value = getattr(self, name)
            _require(value in (1, 3), f"{name} must be 1 or 3, got {value}")


@dataclasses.dataclass(frozen=True)
class DataConfig(_Validated):
    """Where the paired images come from and how they are jittered."""

    data: str = option(
        "",
        "Paired images: a folder (A|B files in train/ and val/, or A/ and B/ folders), "
        "tfds:pix2pix/NAME for a TFDS build, or empty for the built-in synthetic façades.",
    )
    direction: str = option("AtoB", "Translate A (left half or A/) to B, or back.", DIRECTIONS)
    task: str = option(
        "none",
        "Make pairs from plain photos in --data: colorize (gray -> colour), edges (sketch -> photo), "
        "inpaint (photo with holes -> photo), superres (4x downscaled -> photo); none: --data holds pairs.",
        ("none", *TASKS),
    )
    image_size: int = option(256, "Training crop size in pixels (a power of two, 32 to 1024).")
    load_size: int = option(
        0, "Resize to this before the random crop; 0: image_size * 286 / 256 (286 at 256 px)."
    )
    preprocess: str = option(
        "resize_and_crop",
        "resize_and_crop: resize to load_size, random crop (paper); crop: random crop at native "
        "resolution (keeps fine detail); scale_width: width to load_size, keep aspect; "
        "scale_width_and_crop: that, then random crop; none: native size. The last two without "
        "crop pad to the network's multiple and need batch_size 1.",
        PREPROCESSES,
    )
    flip: bool = option(True, "Random horizontal mirror, identical on both sides of a pair.")
    cache: bool = option(False, "Keep decoded images in memory after the first epoch.")
    deterministic: bool = option(
        False, "Reproducible runs: fixed element order through parallel decoding and deterministic ops "
        "(with the same --seed, a run and an interrupted-then-resumed run end with identical weights; slower)."
    )
    palette: str = option(
        "none",
        "Colours of the classes in label-map inputs, offered as swatches by pix2pix-tf serve's drawing page: "
        "synthetic (the built-in façades), facades (CMP façades), colors:#rrggbb,#rrggbb,... (your own "
        "classes, named by number), or none (sketches, photos).",
    )
    skip_bad_images: bool = option(
        False, "Skip unreadable images (reporting how many) instead of stopping before training."
    )
    freehand_lines: bool = option(
        False, "Redraw edge-drawing inputs as a person would while training (solid black lines of a random pen "
        "width, wobbling, with gaps; data/freehand.py), so the model reads pen strokes as well as the data's "
        "edge-detector lines. Validation keeps the data's own drawings."
    )

    def validate(self) -> None:
        size = self.image_size
        _require(
            32 <= size <= 1024 and size & (size - 1) == 0,
            f"image_size must be a power of two from 32 to 1024, got {size}",
        )
        _require(
            self.load_size == 0 or self.load_size >= size,
            f"load_size must be 0 (auto) or >= image_size ({size}), got {self.load_size}",
        )
        check_palette(self.palette)

    @property
    def variable_size(self) -> bool:
        """Whether images keep their own size (padded to the network's multiple) rather than a crop."""
        return self.preprocess in ("scale_width", "none")

    @property
    def resolved_load_size(self) -> int:
        """The resize target before cropping, in pixels."""
        return self.load_size or round(self.image_size * 286 / 256)


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Validated):
    """Optimisation, schedule, losses and bookkeeping."""

    batch_size: int = option(1, "Images per step (the paper uses 1 for most tasks).")
    epochs: int = option(100, "Epochs at the initial learning rate.")
    decay_epochs: int = option(100, "Epochs of linear learning-rate decay to zero after those.")
    steps: int = option(0, "Stop after this many steps in total; 0: epochs + decay_epochs.")
    learning_rate: float = option(2e-4, "Adam learning rate of both networks.")
    beta1: float = option(0.5, "Adam beta1.")
    beta2: float = option(0.999, "Adam beta2.")
    gan_loss: str = option("vanilla", "Adversarial loss.", GAN_LOSSES)
    recon_loss: str = option("l1", "Reconstruction loss against the target.", RECON_LOSSES)
    gan_weight: float = option(1.0, "Weight of the adversarial term in G's loss (0: L1-only ablation).")
    l1_weight: float = option(100.0, "Weight of the reconstruction term (lambda; 0: cGAN-only ablation).")
    feature_matching_weight: float = option(
        0.0, "Weight of pix2pixHD's discriminator feature matching in G's loss: the L1 distance between D's "
        "intermediate features on the real and the generated pair, summed over layers and scales (weighted "
        "4 / layers and 1 / scales, as pix2pixHD; it uses 10). 0: off (the paper)."
    )
    perceptual_weights: str = option(
        "", "Local weights file of keras.applications.VGG19(include_top=False) (.h5 or .weights.h5), or "
        "'imagenet' (Keras downloads them): adds pix2pixHD's VGG perceptual loss. Empty: off (the paper)."
    )
    perceptual_weight: float = option(
        10.0, "Weight of the VGG perceptual loss (L1 between VGG19 relu1_1 ... relu5_1 features of the output "
        "and the target, weighted 1/32 ... 1 as pix2pixHD) when --perceptual_weights is set."
    )
    update_order: str = option(
        "reference",
        "reference: update D, then G against the updated D (the authors' code); simultaneous: both "
        "updates from one pass of D (the TF tutorial's; about 10% less work per step).",
        UPDATE_ORDERS,
    )
    jit_compile: bool = option(False, "Compile the train step with XLA.")
    kernels: str = option(
        "auto",
        "Layers the train step runs: keras (Keras' own), cpu (the fused batch norm and the matmul levels of "
        "pix2pix_tf.kernels, faster on CPUs with oneDNN), auto (cpu on a CPU with oneDNN, keras on GPUs and "
        "TPUs). The same variables either way: checkpoints and exports do not depend on it.",
        KERNEL_POLICIES,
    )
    mixed_precision: str = option(
        "auto",
        "Compute in float16 (with loss scaling for both optimizers), bfloat16, or none (float32); variables "
        "and losses stay float32. auto: bfloat16 on TPUs and on CPUs with native bfloat16 (avx512_bf16, "
        "amx_bf16), float16 on GPUs of compute capability >= 7.0, none elsewhere; the choice is printed and "
        "saved in config.json, and a resumed run keeps the one it started in. CPUs without bfloat16 units run "
        "bfloat16 slower than float32.",
        MIXED_PRECISIONS,
    )
    nonfinite: str = option(
        "stop",
        "When a loss or gradient is NaN or infinite: stop (the last good checkpoint stays the newest) "
        "or skip that update and count it.",
        NONFINITE_MODES,
    )
    steps_per_call: int = option(
        1, "Train steps run by one tf.function call (fewer Python round trips; for GPUs and TPUs)."
    )
    strategy: str = option(
        "default",
        "tf.distribute strategy: default (one device), mirrored (all local GPUs), multiworker (hosts in "
        "TF_CONFIG), tpu. The batch size is the global batch.",
        STRATEGIES,
    )
    seed: int = option(0, "Seed of weights, data order and jitter.")
    log_every: int = option(50, "Steps between TensorBoard scalars and progress lines.")
    sample_every: int = option(500, "Steps between sample grids (PNG and TensorBoard).")
    checkpoint_every: int = option(1000, "Steps between checkpoints (one is always written at the end).")
    keep_checkpoints: int = option(3, "Most recent checkpoints kept.")
    num_samples: int = option(4, "Fixed validation images shown in the sample grids.")
    val_every: int = option(
        1000, "Steps between validations on a fixed val subset (TensorBoard, validation.csv, best checkpoint); 0: off."
    )
    val_images: int = option(50, "Images of the fixed val subset scored every val_every steps.")
    val_segmenter: str = option(
        "", "A photo -> label-map model (run folder, export or .tflite) that also scores validation's "
        "outputs for realism (the paper's FCN score: fcn_pixel_accuracy, fcn_class_accuracy, fcn_class_iou), "
        "for models that make photos from label maps. Empty: off."
    )
    best_metric: str = option(
        "l1", "Validation metric that picks the best checkpoint (checkpoints/best); fcn_class_iou needs "
        "val_segmenter.", BEST_METRICS
    )
    eval_mode: str = option(
        "paper",
        "Inference for samples and metrics: paper = dropout on and per-image batch statistics "
        "(as the paper evaluates); eval = moving statistics, no dropout.",
        INFERENCE_MODES,
    )

    def validate(self) -> None:
        for name in ("batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                     "steps_per_call"):
            _require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("epochs", "decay_epochs", "steps", "num_samples", "val_every"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        _require(
            self.epochs + self.decay_epochs > 0 or self.steps > 0,
            "nothing to train: epochs + decay_epochs is 0 and steps is 0",
        )
        _require(self.val_images >= 1, f"val_images must be >= 1, got {self.val_images}")
        _require(0 <= self.seed < 2**32, f"seed must be from 0 to 2**32 - 1, got {self.seed}")
        _require(not self.best_metric.startswith("fcn_") or bool(self.val_segmenter),
                 f"best_metric={self.best_metric} is measured by a segmenter: set val_segmenter too")
        _require(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("beta1", "beta2"):
            _require(0 <= getattr(self, name) < 1, f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("gan_weight", "l1_weight", "feature_matching_weight", "perceptual_weight"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        _require(
            self.gan_weight > 0 or self.l1_weight > 0 or self.uses_perceptual,
            "gan_weight and l1_weight are both 0 (and no perceptual loss): the generator would have no loss",
        )
        _require(
            self.feature_matching_weight == 0 or self.gan_weight > 0,
            "feature_matching_weight needs a discriminator: it matches D's features, and with gan_weight=0 "
            "D is not trained; set gan_weight > 0 or feature_matching_weight=0",
        )

    @property
    def uses_perceptual(self) -> bool:
        """Whether G's loss has the VGG perceptual term (weights given and a positive weight)."""
        return bool(self.perceptual_weights) and self.perceptual_weight > 0


# The student pix2pix-tf distill trains unless --generator/--filters/--mobile_conv say otherwise:
# 0.41 GMAC per 256 px image against the paper U-Net's 6.0 (docs/student.md).
STUDENT_MODEL = {"generator": "unet_mobile", "filters": 16, "mobile_conv": "plain"}
TEACHER_CHECKPOINTS = ("latest", "best")  # which checkpoint of the teacher run a student learns from


@dataclasses.dataclass(frozen=True)
class DistillConfig(_Validated):
    """Distillation from a trained teacher run (``pix2pix-tf distill``); no teacher: plain training."""

    teacher: str = option(
        "", "Run folder of a trained teacher: the generator learns to match the teacher's outputs (in the "
        "teacher's eval_mode) as well as the targets, on the same data. Empty: no teacher."
    )
    teacher_checkpoint: str = option("latest", "Which checkpoint of the teacher run to learn from.",
                                     TEACHER_CHECKPOINTS)
    teacher_weight: float = option(
        100.0, "Weight of the L1 distance between the generator's output and the teacher's, beside "
        "l1_weight's distance to the target."
    )
    teacher_discriminator: bool = option(
        True, "Start the discriminator from the teacher's (and fine-tune it, as GAN Compression); False: a new one."
    )

    def validate(self) -> None:
        _require(self.teacher_weight >= 0, f"teacher_weight must be >= 0, got {self.teacher_weight}")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a run needs; written to ``workdir/config.json``."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        """Checks that span sections; raises ValueError naming the flags involved."""
        if self.data.variable_size and self.train.batch_size != 1:
            raise ValueError(
                f"--preprocess={self.data.preprocess} keeps each image's own size, so a batch cannot be "
                f"stacked: use --batch_size=1 (got {self.train.batch_size}) or a cropping --preprocess"
            )
        task_channels = TASK_INPUT_CHANNELS.get(self.data.task)
        if task_channels is not None and self.model.input_channels != task_channels:
            raise ValueError(
                f"--task={self.data.task} makes {task_channels}-channel inputs: set "
                f"--input_channels={task_channels} (got {self.model.input_channels})"
            )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, dict[str, Any]]) -> Config:
        """Builds a config; unknown sections or keys raise ValueError naming them."""
        sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "distill": DistillConfig}
        if not isinstance(values, dict):
            raise ValueError(f"expected a JSON object of sections ({', '.join(sections)}), each an object of "
                             f"settings; got {json.dumps(values)[:80]}")
        for name, section in values.items():
            if not isinstance(section, dict):
                raise ValueError(f"config section {name!r} is {json.dumps(section)[:40]}; expected an object of "
                                 "settings such as {\"image_size\": 256}")
        unknown = set(values) - set(sections)
        if unknown:
            raise ValueError(f"unknown config sections: {sorted(unknown)}")
        built = {}
        for name, section_cls in sections.items():
            section = values.get(name, {})
            known = {field.name for field in dataclasses.fields(section_cls)}
            extra = set(section) - known
            if extra:
                raise ValueError(f"unknown keys in config section {name!r}: {sorted(extra)}")
            built[name] = section_cls(**section)
        return cls(**built)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike) -> None:
        """Writes the JSON atomically: a crash never leaves half a config."""
        write_text_atomically(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Config:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        try:
            return cls.from_json(text)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{os.fspath(path)}: {error}") from error

    def replace(self, **sections: Any) -> Config:
        """A copy with sections replaced: each keyword is a section (``model``, ``data``, ``train``,
        ``distill``) given whole, or as a dict of the fields that change, e.g.
        ``config.replace(train=dict(steps=100), data=dict(image_size=64))``."""
        return dataclasses.replace(self, **{
            name: dataclasses.replace(getattr(self, name), **value) if isinstance(value, dict) else value
            for name, value in sections.items()})

    @classmethod
    def for_data(cls, data: str = "", preset: str | None = None, task: str = "none") -> Config:
        """The recipe ``pix2pix-tf train --data=DATA [--preset=PRESET] [--task=TASK]`` trains (before
        its other flags): ``preset`` (default ``quick`` for the built-in façades, ``paper`` for your own
        data) on ``data``, the built-in façades' palette when ``data`` is empty, and the input channels
        ``task`` makes from a photo (1 for colorize)."""
        config = get_preset(preset or ("paper" if data else "quick"))
        channels = TASK_INPUT_CHANNELS.get(task, config.model.input_channels)
        return config.replace(data=dict(data=data, task=task, palette=config.data.palette if data else "synthetic"),
                              model=dict(input_channels=channels))


def _quick_preset() -> Config:
    """The built-in synthetic façades at 64 px with half-width networks (32 filters), batch 4,
    12 + 8 epochs (2,000 steps): 5 to 8 minutes on a 2-core CPU."""
    return Config(
        model=ModelConfig(filters=32, disc_filters=32),
        data=DataConfig(image_size=64),
        train=TrainConfig(
            batch_size=4, epochs=12, decay_epochs=8, sample_every=250, checkpoint_every=500, val_every=500
        ),
    )


def _hd_preset() -> Config:
    """pix2pixHD's recipe (Wang et al., CVPR 2018) where it fits our models: LSGAN, instance norm,
    two PatchGAN scales, discriminator feature matching with weight 10 and no L1 term (pix2pixHD has
    none); the generator, 256 px, batch 1 and the schedule stay the paper's. Add
    ``--perceptual_weights=FILE`` for its VGG loss (weight 10)."""
    return Config(
        model=ModelConfig(norm="instance", disc_scales=2),
        train=TrainConfig(gan_loss="lsgan", feature_matching_weight=10.0, l1_weight=0.0),
    )


# Named starting points for a run: ``paper`` is the paper's recipe (256 px, batch 1, 100 + 100
# epochs) for real datasets; ``quick`` is what ``pix2pix-tf train`` runs when no --data is given;
# ``hd`` is pix2pixHD's losses and discriminators on the paper's generator.
PRESETS = {"paper": Config, "quick": _quick_preset, "hd": _hd_preset}


def get_preset(name: str) -> Config:
    """The config of preset ``name`` (see ``PRESETS``); ValueError naming the choices otherwise."""
    check_choice("preset", name, PRESETS)
    return PRESETS[name]()
