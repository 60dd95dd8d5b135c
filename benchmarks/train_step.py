"""One `fit()` train step of BERT-base (batch 8 x 128): tfmodels vs PyTorch `transformers`.

Measures, in one process and on the same host:

- tfmodels `BertForSequenceClassification`, `fit()` step, graph mode (`jit_compile=False`);
- the same with XLA (`jit_compile=True`);
- `transformers` `BertForSequenceClassification` (PyTorch, eager): forward with
  labels, backward, AdamW step;
- tfmodels under `MirroredStrategy` over `--devices` logical CPU devices with
  the same per-replica batch (weak scaling, global batch 8 x devices).

Ratios are tfmodels time / PyTorch time (below 1: tfmodels is faster).
Scaling efficiency = single-device step time / mirrored step time (1.0 is
perfect weak scaling). Logical CPU devices share the host's cores, so on a
machine with few cores the replicas compete for the same cores and the
efficiency is close to 1 / devices; it measures the overhead of the
distributed step, not a speed-up.

Usage:
    python benchmarks/train_step.py            # BERT-base, 12 layers
    python benchmarks/train_step.py --quick    # 2 layers, fewer steps
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 layers, 1 warm-up + 2 timed steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per configuration (the median is reported)")
    parser.add_argument("--devices", type=int, default=2, help="logical CPU devices for MirroredStrategy (0: skip)")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    if args.quick:
        BERT_BASE["num_hidden_layers"] = 2
        args.steps = min(args.steps, 2)
    return args


def make_batch(batch_size, seq_len, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    return {"input_ids": rng.randint(1, BERT_BASE["vocab_size"], (batch_size, seq_len)).astype("int32"),
            "attention_mask": np.ones((batch_size, seq_len), "int32"),
            "token_type_ids": np.zeros((batch_size, seq_len), "int32")}, rng.randint(0, 2, batch_size).astype("int32")


def time_tfmodels(args, jit_compile, strategy=None, batch_size=None):
    """Seconds per `fit()` step (median of `args.steps` step times after one warm-up step), and the first
    `fit()` call's seconds (trace/compile + one step)."""
    import keras
    import tensorflow as tf

    import tfmodels

    batch_size = batch_size or args.batch_size
    inputs, labels = make_batch(batch_size, args.seq_len)
    dataset = tf.data.Dataset.from_tensors((inputs, {"labels": labels})).repeat().prefetch(2)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = tfmodels.BertForSequenceClassification(**BERT_BASE, num_labels=2)
        model.build_from_dummy_inputs()
        model.compile(optimizer=keras.optimizers.AdamW(1e-5), jit_compile=jit_compile)
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # trace/compile + first step
    first = time.perf_counter() - start
    ends = StepEnds()
    model.fit(dataset, steps_per_epoch=args.steps + 1, epochs=1, verbose=0, callbacks=[ends])
    # Between consecutive batch ends: one whole step, without fit()'s per-call set-up (data adapter, iterator,
    # callbacks), which a real epoch amortises over thousands of steps; PyTorch's side times its step alone too.
    return statistics.median(b - a for a, b in zip(ends.times, ends.times[1:])), first


def StepEnds():
    """A Keras callback recording `time.perf_counter()` at the end of every training batch."""
    import keras

    class _StepEnds(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    return _StepEnds()


def time_torch(args):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(**BERT_BASE, num_labels=2)
    model = transformers.BertForSequenceClassification(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    inputs, labels = make_batch(args.batch_size, args.seq_len)
    inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in inputs.items()}
    labels = torch.as_tensor(labels, dtype=torch.long)

    def step():
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    args = parse_args()
    from tfmodels.training.distribute import configure_logical_cpus

    devices = configure_logical_cpus(args.devices) if args.devices > 1 else None  # before TF initialises
    import tensorflow as tf

    print(f"BERT-base shape, {BERT_BASE['num_hidden_layers']} layers, batch {args.batch_size} x {args.seq_len}, "
          f"{args.steps} timed steps after 1 warm-up (medians); host CPUs: {os.cpu_count()}")
    results = {}
    results["tfmodels graph"], first_graph = time_tfmodels(args, jit_compile=False)
    results["tfmodels XLA"], first_xla = time_tfmodels(args, jit_compile=True)
    print(f"first step (trace/compile): graph {first_graph:.1f} s, XLA {first_xla:.1f} s")
    if not args.skip_torch:
        results["PyTorch transformers"] = time_torch(args)
    for name, seconds in results.items():
        line = f"{name:22s} {seconds * 1000:9.1f} ms/step"
        if "PyTorch transformers" in results and name != "PyTorch transformers":
            line += f"   ratio vs PyTorch: {seconds / results['PyTorch transformers']:.2f}"
        print(line)
    if devices:
        strategy = tf.distribute.MirroredStrategy(devices)
        mirrored, _ = time_tfmodels(args, jit_compile=False, strategy=strategy,
                                    batch_size=args.batch_size * len(devices))
        efficiency = results["tfmodels graph"] / mirrored
        print(f"Mirrored x{len(devices)} logical CPUs (graph, global batch {args.batch_size * len(devices)}): "
              f"{mirrored * 1000:.1f} ms/step; weak-scaling efficiency {efficiency:.2f} "
              f"(1.0 = perfect; ~{1 / len(devices):.2f} expected when the devices share the same cores)")


if __name__ == "__main__":
    main()
