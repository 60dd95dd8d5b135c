"""Encoder inference throughput: tfmodels (graph, XLA) vs transformers PyTorch.

BERT-base shape (12 layers, hidden 768, 12 heads, random weights), batch 8 x
128 tokens with padding, float32, on the CPU. Both frameworks run in this
process on the same weights (the PyTorch model is saved and loaded into
tfmodels), with their default thread pools. Prints tokens/s and the ratios
to PyTorch.

    python benchmarks/encoder_inference.py [--batch-size 8] [--seq-len 128] [--iterations 10] [--quick]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _time(fn, iterations, warmup):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 layers, 3 iterations (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.iterations = 2, 3

    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    import tfmodels

    config = transformers.BertConfig(num_hidden_layers=args.layers)  # BERT-base otherwise
    torch.manual_seed(0)
    reference = transformers.BertModel(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        model = tfmodels.BertModel.from_pretrained(directory)

    rng = np.random.RandomState(0)
    shape = (args.batch_size, args.seq_len)
    inputs = {
        "input_ids": rng.randint(1, config.vocab_size, shape).astype("int32"),
        "attention_mask": np.ones(shape, dtype="int32"),
        "token_type_ids": np.zeros(shape, dtype="int32"),
    }
    inputs["attention_mask"][1::2, args.seq_len // 2:] = 0
    tf_inputs = {k: tf.constant(v) for k, v in inputs.items()}
    torch_inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in inputs.items()}

    graph = tf.function(lambda x: model(x, training=False)["last_hidden_state"])
    xla = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=True)

    def run_torch():
        with torch.no_grad():
            return reference(**torch_inputs).last_hidden_state

    # Same weights: the outputs must agree before timing means anything.
    diff = np.abs(xla(tf_inputs).numpy() - run_torch().numpy())[inputs["attention_mask"].astype(bool)].max()

    tokens = args.batch_size * args.seq_len
    seconds = {
        "transformers PyTorch": _time(run_torch, args.iterations, 2),
        "tfmodels graph": _time(lambda: graph(tf_inputs).numpy(), args.iterations, 2),
        "tfmodels XLA": _time(lambda: xla(tf_inputs).numpy(), args.iterations, 2),
    }
    print(f"BERT ({args.layers} layers, hidden 768), batch {args.batch_size} x {args.seq_len} tokens, float32, "
          f"CPU threads: torch {torch.get_num_threads()}, cores {os.cpu_count()}; max abs diff {diff:.1e}")
    base = seconds["transformers PyTorch"]
    for name, value in seconds.items():
        print(f"  {name:22s} {tokens / value:10.0f} tokens/s   {value * 1000:8.1f} ms/batch   "
              f"ratio vs PyTorch {base / value:5.2f}x")


if __name__ == "__main__":
    main()
