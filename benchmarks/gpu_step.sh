#!/bin/bash
# The train step on a GPU machine, in one run: float32 / float16 / bfloat16, XLA on and off,
# several steps per call, batch 1 and 16, the TF tutorial's step beside ours in each process.
# Prints the device, then each batch size's lines and JSON (benchmarks/tf_tutorial_step.py);
# copies the JSON lines to $OUT/gpu_step.jsonl when $OUT is set.
#   bash benchmarks/gpu_step.sh            (after: pip install -e . ; TensorFlow with CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
"$PYTHON" -c "import tensorflow as tf; print('TensorFlow', tf.__version__, tf.config.list_physical_devices('GPU'))"
VARIANTS=float32,float32:xla,float16,float16:xla,bfloat16,bfloat16:xla,float16:xla:calls=10,float32:simultaneous,auto
for batch in 1 16; do
  "$PYTHON" benchmarks/tf_tutorial_step.py --batch_size=$batch --steps=20 --variants=$VARIANTS | tee /tmp/gpu_step_$batch.txt
  if [ -n "${OUT:-}" ]; then tail -n 1 /tmp/gpu_step_$batch.txt >> "$OUT/gpu_step.jsonl"; fi
done
