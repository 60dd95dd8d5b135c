"""Encoder inference throughput: tfmodels (graph, XLA) vs transformers PyTorch.

BERT-base shape (12 layers, hidden 768, 12 heads, random weights), batch 8 x
128 tokens with padding, float32, on the CPU. Both frameworks run in this
process on the same weights (the PyTorch model is saved and loaded into
tfmodels), with their default thread pools. The three runs are interleaved
in rounds and each figure is the median over rounds, so a change in machine
load hits all of them alike. Prints tokens/s and the ratios to PyTorch.

It also prints a roofline: the model's matmul FLOPs per batch and the
fastest float32 matmul this machine runs (PyTorch/MKL and XLA on the
model's feed-forward shape). Time spent outside matmuls is what a framework
can win back; the "ceiling" is the ratio to PyTorch if tfmodels did only
its matmuls, at the best measured matmul rate.

With `--bf16` (CPUs with `avx512_bf16` or `amx_bf16`) it also times
`mixed_bfloat16` and bfloat16 variables against float32 tfmodels, and prints
the bf16 ceiling: the rate of the model's weight matmuls in bfloat16 over
float32 (graph mode, the same oneDNN kernels), the most bf16 can gain where
matmuls dominate. AVX512-BF16 alone (no AMX) at best doubles the multiply-adds
per instruction; AMX tiles go much further.

    python benchmarks/encoder_inference.py [--batch-size 8] [--seq-len 128] [--rounds 5] [--quick]
"""

import argparse
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from timing import seconds_per_call  # noqa: E402


def _matmul_rates(tokens, hidden, intermediate, repeats=10):
    """Best-of float32 GFLOP/s of a (tokens, hidden) x (hidden, intermediate) matmul in PyTorch and XLA."""
    import numpy as np
    import tensorflow as tf
    import torch

    rng = np.random.RandomState(0)
    a = rng.rand(tokens, hidden).astype("float32")
    b = rng.rand(hidden, intermediate).astype("float32")
    flops = 2 * tokens * hidden * intermediate
    ta, tb, out = torch.from_numpy(a), torch.from_numpy(b), torch.empty(tokens, intermediate)
    xa, xb = tf.constant(a), tf.constant(b)
    xla = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=True)
    runs = {"PyTorch": lambda: torch.matmul(ta, tb, out=out), "XLA": lambda: xla(xa, xb)}
    rates = {}
    for name, fn in runs.items():
        fn()
        rates[name] = flops / min(seconds_per_call(fn, 5) for _ in range(repeats)) / 1e9
    return rates


def _graph_matmul_rates(tokens, hidden, intermediate, dtypes=("float32", "bfloat16"), repeats=5):
    """Best-of GFLOP/s of the model's weight matmuls (all four shapes, in its proportions) in graph mode
    (TensorFlow's oneDNN kernels, what the graph path runs), for each dtype: {dtype: GFLOP/s}."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.RandomState(0)
    shapes = [(hidden, hidden)] * 4 + [(hidden, intermediate), (intermediate, hidden)]  # q, k, v, out; FFN in, out
    flops = sum(2 * tokens * k * n for k, n in shapes)
    rates = {}
    for dtype in dtypes:
        inputs = {k: tf.constant(rng.rand(tokens, k), dtype=dtype) for k in (hidden, intermediate)}
        weights = [tf.Variable(tf.constant(rng.rand(k, n) * 0.01, dtype=dtype)) for k, n in shapes]
        run = tf.function(lambda: [tf.matmul(inputs[w.shape[0]], w) for w in weights])
        run()
        rates[dtype] = flops / min(seconds_per_call(run, 5) for _ in range(repeats)) / 1e9
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=3, help="calls per timing (one round)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 layers, 2 rounds (smoke run)")
    parser.add_argument("--bf16", action="store_true",
                        help="also time mixed_bfloat16 (graph and XLA) and bfloat16 variables (graph, inference only) "
                             "where the CPU has avx512_bf16 or amx_bf16")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.rounds = 2, 2

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
        packed_model = tfmodels.BertModel.from_pretrained(directory).use_packed_tokens()

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
    packed = tf.function(lambda x: packed_model(x, training=False)["last_hidden_state"])

    def run_torch():
        with torch.no_grad():
            return reference(**torch_inputs).last_hidden_state

    # Same weights: the outputs must agree before timing means anything.
    real = inputs["attention_mask"].astype(bool)
    reference_states = run_torch().numpy()
    diff = np.abs(xla(tf_inputs).numpy() - reference_states)[real].max()
    packed_diff = np.abs(packed(tf_inputs).numpy() - reference_states)[real].max()

    runs = {
        "transformers PyTorch": run_torch,
        "tfmodels graph": lambda: graph(tf_inputs).numpy(),
        "tfmodels XLA": lambda: xla(tf_inputs).numpy(),
        "tfmodels packed graph": lambda: packed(tf_inputs).numpy(),
    }
    for fn in runs.values():  # warm-up (traces, compiles, thread pools)
        fn()
        fn()
    samples = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            samples[name].append(seconds_per_call(fn, args.iterations))
    seconds = {name: statistics.median(values) for name, values in samples.items()}

    tokens = args.batch_size * args.seq_len
    h, i = config.hidden_size, config.intermediate_size
    matmul_flops = 2 * args.layers * (tokens * (4 * h * h + 2 * h * i) + 2 * args.batch_size * args.seq_len ** 2 * h)
    rates = _matmul_rates(tokens, h, i)
    best_rate = max(rates.values())
    floor = matmul_flops / (best_rate * 1e9)

    from machine import machine_description

    for line in machine_description():
        print(line)
    print(f"BERT ({args.layers} layers, hidden {h}), batch {args.batch_size} x {args.seq_len} tokens, float32, "
          f"{real.mean():.0%} real tokens, CPU threads: torch {torch.get_num_threads()}, cores {os.cpu_count()}; "
          f"max abs diff over real tokens: XLA {diff:.1e}, packed {packed_diff:.1e}; "
          f"median of {args.rounds} interleaved rounds x {args.iterations} calls")
    base = seconds["transformers PyTorch"]
    for name, value in seconds.items():
        print(f"  {name:22s} {tokens / value:10.0f} tokens/s   {value * 1000:8.1f} ms/batch   "
              f"ratio vs PyTorch {base / value:5.2f}x   matmul rate {matmul_flops / value / 1e9:5.0f} GFLOP/s")
    print(f"Roofline: {matmul_flops / 1e9:.0f} GFLOP of matmuls per batch; fastest measured matmul "
          f"({tokens}x{h} @ {h}x{i}): PyTorch {rates['PyTorch']:.0f}, XLA {rates['XLA']:.0f} GFLOP/s; "
          f"matmuls alone at {best_rate:.0f} GFLOP/s take {floor * 1000:.0f} ms, so the ratio to PyTorch "
          f"at equal work cannot exceed {base / floor:.2f}x on this machine.")
    if args.bf16:
        bf16_section(args, reference, tf_inputs, torch_inputs, inputs["attention_mask"].astype(bool),
                     graph(tf_inputs).numpy(), seconds["tfmodels graph"])


def bf16_section(args, reference, tf_inputs, torch_inputs, real, float32_states, float32_seconds):
    """mixed_bfloat16 inference (same weights) against float32 tfmodels: speed and error bound."""
    import tempfile

    import keras
    import numpy as np
    import tensorflow as tf
    import torch

    import tfmodels
    from machine import cpu_flags

    flags = cpu_flags() & {"avx512_bf16", "amx_bf16"}
    if not flags:
        print("bf16: skipped, this CPU has neither avx512_bf16 nor amx_bf16.")
        return
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        with tempfile.TemporaryDirectory() as directory:
            reference.save_pretrained(directory)
            model = tfmodels.BertModel.from_pretrained(directory)
            # Inference only: bfloat16 variables, so no float32 -> bfloat16 cast of every kernel per call.
            bf16_model = tfmodels.BertModel.from_pretrained(directory, dtype="bfloat16")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    graph = tf.function(lambda x: tf.cast(model(x, training=False)["last_hidden_state"], tf.float32))
    xla = tf.function(lambda x: tf.cast(model(x, training=False)["last_hidden_state"], tf.float32), jit_compile=True)
    pure = tf.function(lambda x: tf.cast(bf16_model(x, training=False)["last_hidden_state"], tf.float32))

    def run_torch():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return reference(**torch_inputs).last_hidden_state.float()

    runs = {"tfmodels bf16 graph": lambda: graph(tf_inputs).numpy(), "tfmodels bf16 XLA": lambda: xla(tf_inputs).numpy(),
            "bfloat16 variables graph": lambda: pure(tf_inputs).numpy(),
            "PyTorch bf16 autocast": lambda: run_torch().numpy()}
    states = {name: fn() for name, fn in runs.items()}
    for fn in runs.values():
        fn()
    samples = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            samples[name].append(seconds_per_call(fn, args.iterations))
    scale = np.abs(float32_states[real]).max()
    config = reference.config
    rates = _graph_matmul_rates(args.batch_size * args.seq_len, config.hidden_size, config.intermediate_size)
    print(f"mixed_bfloat16 (CPU has {' '.join(sorted(flags))}); float32 tfmodels graph = "
          f"{float32_seconds * 1000:.1f} ms/batch; error = max |bf16 - float32| over real tokens "
          f"(float32 states reach {scale:.2f})")
    print(f"  bf16 ceiling: the model's weight matmuls alone (graph, oneDNN) run at {rates['bfloat16']:.0f} GFLOP/s "
          f"in bfloat16 and {rates['float32']:.0f} in float32 on this CPU, so bf16 inference can gain about "
          f"{rates['bfloat16'] / rates['float32']:.2f}x over float32 where the matmuls are most of the time")
    for name, values in samples.items():
        value = statistics.median(values)
        error = np.abs(states[name][real] - float32_states[real]).max()
        print(f"  {name:22s} {value * 1000:8.1f} ms/batch   {float32_seconds / value:5.2f}x float32 tfmodels   "
              f"error {error:.3f}")


if __name__ == "__main__":
    main()
