"""pix2pix-tf serve: draw on a page and watch your model's output appear; the same model over
TensorFlow Serving's REST API.

  pix2pix-tf serve                                              # the shipped models: open http://127.0.0.1:8000
  pix2pix-tf serve --model=saved_models/facades                 # your own run, export, SavedModel or .tflite
  curl -s localhost:8000/v1/models                              # the models served
  curl -s localhost:8000/v1/models/facades_label2photo          # (with --model: /v1/models/pix2pix)
  curl -s --data-binary @labels.png localhost:8000/translate > photo.png

Binds 127.0.0.1 unless --host says otherwise. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

from absl import flags

from pix2pix_tf.cli import errors
from pix2pix_tf.config import INFERENCE_MODES

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder, a SavedModel or export folder, a .tflite file, or the name of a "
                    "model shipped in the package. Default: every shipped model, each under its own name, the "
                    "page opening on facades_label2photo (label map → façade photo, 256 px).")
flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; 0.0.0.0 makes the model reachable from other machines.")
flags.DEFINE_integer("port", 8000, "Port to listen on (0: any free port, printed at start).")
flags.DEFINE_string("model_name", "pix2pix", "The NAME in /v1/models/NAME of the --model served.")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of a run folder (default: the run's "
                  "eval_mode); an export keeps the mode it was exported in.")
flags.DEFINE_integer("tile_size", None, "Translate images larger than this in overlapping tiles (bounds memory).")


def main(argv: list[str]) -> None:
    if FLAGS["model_name"].present and not FLAGS.model:
        errors.fail("serve", "--model_name names the model of --model; without --model each shipped model is "
                             "served under its own name (GET /v1/models lists them)")
    with errors.reported_errors("serve"):
        from pix2pix_tf.deploy.drain import serve_until_stopped
        from pix2pix_tf.deploy.serve import ModelServer
        from pix2pix_tf.deploy.service import ModelService, shipped_services
        from pix2pix_tf.deploy.translator import Translator

        if FLAGS.model:
            services = [ModelService(Translator.load(FLAGS.model, FLAGS.mode, FLAGS.tile_size), FLAGS.model_name)]
        else:
            services = shipped_services(FLAGS.mode, FLAGS.tile_size)
        server = ModelServer(services, FLAGS.host, FLAGS.port)
    host, port = server.server_address[:2]
    served = [f"serving {service.translator.source} ({service.translator.mode or 'unknown'} mode, "
              f"{service.translator.config.data.image_size} px) as {service.name!r}" for service in services]
    name = services[0].name
    print(f"{served[0]}: open http://{host}:{port}/ to draw\n" + "".join(f"{line}\n" for line in served[1:]) +
          f"  GET  http://{host}:{port}/v1/models/{name}\n"
          f"  POST http://{host}:{port}/v1/models/{name}:predict   {{\"instances\": [{{\"b64\": ...}}]}}\n"
          f"  POST http://{host}:{port}/translate   (a PNG or JPEG body, to {name!r})", flush=True)
    stopped_by = serve_until_stopped(server)
    print(f"stopped by {stopped_by}", flush=True)
