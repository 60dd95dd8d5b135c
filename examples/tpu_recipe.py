"""Fine-tune a tfmodels classifier on TPUs (or any tf.distribute strategy), bfloat16, XLA.

Every piece used here is tested on CPU in this repository:

- `make_strategy("tpu", tpu=...)`: `TPUClusterResolver` + `TPUStrategy`
  (`"mirrored"` / `"multi_worker"` / `"default"` run the same script on GPUs,
  several workers or one device; tests/test_distribute.py);
- `from_pretrained(..., dtype="mixed_bfloat16")` inside `strategy.scope()`:
  float32 variables, bfloat16 matmuls, float32 softmax / LayerNorm / loss
  (tests/test_mixed_precision.py);
- `compile(jit_compile=True)` on one device: the whole train step is one XLA
  program, no host fallback (tests/test_xla_train_step.py), which is what the
  TPU compiler needs; `TPUStrategy` XLA-compiles each replica's step itself.
  (Under `MirroredStrategy` Keras cannot XLA-compile the multi-device step:
  "Trying to access resource ... located in device CPU:1 from device CPU:0".)
- `prepare_tf_dataset(..., max_length=..., drop_remainder=True)`: one static
  batch shape, so the step compiles once;
- the task loss is scaled for the number of replicas, so the gradients are
  those of the global-batch mean (tests/test_distribute.py checks Mirrored
  and two-worker runs against one device);
- `export_saved_model(..., tokenizer=...)` for serving (tests/test_tokenizer_export.py).

Usage (on a TPU VM, `--tpu ""`; elsewhere pass `--strategy default`):

    python examples/tpu_recipe.py --model /path/to/hf-bert-checkpoint --tpu "" --out exported/
"""

import argparse
from pathlib import Path

import keras
import tensorflow as tf
import tokenizers

import tfmodels
from tfmodels.export import export_saved_model
from tfmodels.training.data import prepare_tf_dataset
from tfmodels.training.distribute import make_strategy

SENTIMENT = Path(tfmodels.__file__).parent / "data" / "sentiment.tsv"


def load_texts():
    rows = [line.split("\t", 1) for line in SENTIMENT.read_text(encoding="utf-8").splitlines()[1:]]
    return [text for _, text in rows], [int(label) for label, _ in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="Hugging Face BERT-family checkpoint directory (or Hub id)")
    parser.add_argument("--tpu", default=None, help='TPU name or address ("" on a TPU VM)')
    parser.add_argument("--strategy", default="auto", choices=["auto", "tpu", "mirrored", "multi_worker", "default"])
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (a multiple of 8 per TPU core)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--precision", default="mixed_bfloat16", choices=["mixed_bfloat16", "mixed_float16", "float32"])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N examples (smoke test)")
    parser.add_argument("--out", default=None, help="export a SavedModel with an in-graph tokenizer here")
    args = parser.parse_args()

    strategy = make_strategy(args.strategy, tpu=args.tpu)
    print(f"strategy: {type(strategy).__name__}, replicas: {strategy.num_replicas_in_sync}")

    tokenizer = tokenizers.Tokenizer.from_file(str(Path(args.model) / "tokenizer.json"))
    tokenizer.enable_truncation(args.max_length)
    tokenizer.no_padding()  # prepare_tf_dataset pads (tokenizer.json may ask for fixed padding)
    texts, labels = load_texts()
    texts, labels = texts[: args.limit], labels[: args.limit]
    dataset = prepare_tf_dataset(
        tokenizer.encode_batch(texts), labels,
        batch_size=args.batch_size, max_length=args.max_length,  # static (batch, max_length) for XLA/TPU
        shuffle=True, seed=0, drop_remainder=True,
    )

    with strategy.scope():  # variables (and optimizer slots) are created on every replica
        model = tfmodels.BertForSequenceClassification.from_pretrained(
            args.model, num_labels=2, ignore_mismatched_sizes=True, dtype=args.precision)
        # One device: compile the whole step with XLA (tested). TPUStrategy compiles each replica's step
        # with XLA itself. Mirrored/multi-worker: Keras cannot XLA-compile the multi-device step (variables
        # on other devices), so keep its default there.
        single_device = strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.TPUStrategy)
        model.compile(optimizer=keras.optimizers.AdamW(3e-5), jit_compile=True if single_device else "auto")
    model.fit(dataset, epochs=args.epochs)

    if args.out:
        export_saved_model(model, args.out, tokenizer=args.model, max_length=args.max_length, overwrite=True)
        print(f"SavedModel with serving_default, classify, serve_text and classify_text signatures: {args.out}")


if __name__ == "__main__":
    main()
