"""pix2pix-tf serve: draw on a page and watch your model's output appear; the same model over
TensorFlow Serving's REST API.

  pix2pix-tf serve                                              # the shipped façades model: open http://127.0.0.1:8000
  pix2pix-tf serve --model=saved_models/facades                 # your own run, export, SavedModel or .tflite
  curl -s localhost:8000/v1/models/pix2pix
  curl -s --data-binary @labels.png localhost:8000/translate > photo.png

Binds 127.0.0.1 unless --host says otherwise. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

from absl import flags

from pix2pix_tf.cli import errors
from pix2pix_tf.config import INFERENCE_MODES

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder, a SavedModel or export folder, a .tflite file, or the name of a "
                    "model shipped in the package. Default: facades_label2photo (label map → façade photo, 256 px).")
flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; 0.0.0.0 makes the model reachable from other machines.")
flags.DEFINE_integer("port", 8000, "Port to listen on (0: any free port, printed at start).")
flags.DEFINE_string("model_name", "pix2pix", "The NAME in /v1/models/NAME.")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of a run folder (default: the run's "
                  "eval_mode); an export keeps the mode it was exported in.")
flags.DEFINE_integer("tile_size", None, "Translate images larger than this in overlapping tiles (bounds memory).")


def main(argv: list[str]) -> None:
    with errors.reported_errors("serve"):
        from pix2pix_tf.deploy import pretrained
        from pix2pix_tf.deploy.serve import ModelServer, ModelService, serve_until_stopped
        from pix2pix_tf.deploy.translator import Translator

        translator = Translator.load(FLAGS.model or pretrained.DEFAULT, FLAGS.mode, FLAGS.tile_size)
        server = ModelServer(ModelService(translator, FLAGS.model_name), FLAGS.host, FLAGS.port)
    host, port = server.server_address[:2]
    print(f"serving {translator.source} ({translator.mode or 'unknown'} mode, {translator.config.data.image_size} px) "
          f"as {FLAGS.model_name!r}: open http://{host}:{port}/ to draw\n"
          f"  GET  http://{host}:{port}/v1/models/{FLAGS.model_name}\n"
          f"  POST http://{host}:{port}/v1/models/{FLAGS.model_name}:predict   {{\"instances\": [{{\"b64\": ...}}]}}\n"
          f"  POST http://{host}:{port}/translate   (a PNG or JPEG body)", flush=True)
    stopped_by = serve_until_stopped(server)
    print(f"stopped by {stopped_by}", flush=True)
