"""One `fit()` train step of BERT-base (batch 8 x 128): tfmodels vs PyTorch `transformers`.

Measures, in one process and on the same host, interleaved in rounds (each
round times every configuration in turn, so a change in machine load hits
all of them alike; figures are medians over all timed steps):

- tfmodels `BertForSequenceClassification`, `fit()` step, graph mode (`jit_compile=False`);
- the same with XLA (`jit_compile=True`);
- `transformers` `BertForSequenceClassification` (PyTorch, eager): forward with
  labels, backward, AdamW step;
- tfmodels under `MirroredStrategy` over `--devices` logical CPU devices with
  the same per-replica batch (weak scaling, global batch 8 x devices).

Ratios are PyTorch time / tfmodels time (above 1: tfmodels is faster), as in
every benchmark here. Scaling efficiency = single-device step time / mirrored
step time (1.0 is perfect weak scaling). Logical CPU devices share the host's
cores, so on a machine with few cores the replicas compete for the same cores
and the efficiency is close to 1 / devices; it measures the overhead of the
distributed step, not a speed-up.

XLA evidence: one more step of each tfmodels configuration runs under the
TensorFlow profiler, and the benchmark prints the XLA modules whose HLO ops
ran in it (`a_inference_one_step_on_data_...` is Keras' train step compiled by
XLA) with their share of the step. The graph-mode step must show none.

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 layers, 2 rounds of 1 step (smoke run)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per configuration and round")
    parser.add_argument("--devices", type=int, default=2, help="logical CPU devices for MirroredStrategy (0: skip)")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    if args.quick:
        BERT_BASE["num_hidden_layers"] = 2
        args.rounds, args.steps = 2, 1
    return args


def make_batch(batch_size, seq_len, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    return {"input_ids": rng.randint(1, BERT_BASE["vocab_size"], (batch_size, seq_len)).astype("int32"),
            "attention_mask": np.ones((batch_size, seq_len), "int32"),
            "token_type_ids": np.zeros((batch_size, seq_len), "int32")}, rng.randint(0, 2, batch_size).astype("int32")


class TfmodelsTrainer:
    """A compiled tfmodels classifier and its dataset; `steps(n)` returns the seconds of n `fit()` steps."""

    def __init__(self, args, jit_compile, strategy=None, batch_size=None):
        import keras
        import tensorflow as tf

        import tfmodels

        inputs, labels = make_batch(batch_size or args.batch_size, args.seq_len)
        self.dataset = tf.data.Dataset.from_tensors((inputs, {"labels": labels})).repeat().prefetch(2)
        with (strategy or tf.distribute.get_strategy()).scope():
            self.model = tfmodels.BertForSequenceClassification(**BERT_BASE, num_labels=2)
            self.model.build_from_dummy_inputs()
            self.model.compile(optimizer=keras.optimizers.AdamW(1e-5), jit_compile=jit_compile)
        start = time.perf_counter()
        self.model.fit(self.dataset, steps_per_epoch=1, epochs=1, verbose=0)  # trace/compile + first step
        self.first_call = time.perf_counter() - start

    def steps(self, count):
        ends = StepEnds()
        self.model.fit(self.dataset, steps_per_epoch=count + 1, epochs=1, verbose=0, callbacks=[ends])
        # Between consecutive batch ends: one whole step, without fit()'s per-call set-up (data adapter,
        # iterator, callbacks), which a real epoch amortises over thousands of steps; PyTorch's side times
        # its step alone too.
        return [b - a for a, b in zip(ends.times, ends.times[1:])]

    def xla_modules(self):
        """{XLA module name: seconds of its HLO ops} in one profiled `fit()` step (empty without XLA)."""
        import glob
        import tempfile

        import tensorflow as tf
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

        with tempfile.TemporaryDirectory() as directory:
            tf.profiler.experimental.start(directory)
            try:
                self.model.fit(self.dataset, steps_per_epoch=1, epochs=1, verbose=0)
            finally:
                tf.profiler.experimental.stop()
            space = xplane_pb2.XSpace()
            for path in glob.glob(os.path.join(directory, "**", "*.xplane.pb"), recursive=True):
                with open(path, "rb") as file:
                    space.MergeFromString(file.read())
        modules = {}
        for plane in space.planes:
            stat_names = {key: meta.name for key, meta in plane.stat_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    for stat in event.stats:
                        if stat_names.get(stat.metadata_id) == "hlo_module":
                            name = stat.str_value or plane.stat_metadata[stat.ref_value].name
                            modules[name] = modules.get(name, 0.0) + event.duration_ps * 1e-12
        return modules


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


class TorchTrainer:
    """`transformers` BertForSequenceClassification with AdamW; `steps(n)` returns the seconds of n steps."""

    def __init__(self, args):
        import torch
        import transformers

        torch.manual_seed(0)
        config = transformers.BertConfig(**BERT_BASE, num_labels=2)
        self.model = transformers.BertForSequenceClassification(config).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-5)
        inputs, labels = make_batch(args.batch_size, args.seq_len)
        self.inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in inputs.items()}
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.step()  # warm-up

    def step(self):
        loss = self.model(**self.inputs, labels=self.labels).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def steps(self, count):
        times = []
        for _ in range(count):
            start = time.perf_counter()
            self.step()
            times.append(time.perf_counter() - start)
        return times


def main():
    args = parse_args()
    from tfmodels.training.distribute import configure_logical_cpus

    devices = configure_logical_cpus(args.devices) if args.devices > 1 else None  # before TF initialises
    import tensorflow as tf

    from machine import machine_description

    for line in machine_description():
        print(line)
    print(f"BERT-base shape, {BERT_BASE['num_hidden_layers']} layers, batch {args.batch_size} x {args.seq_len}, "
          f"AdamW; {args.rounds} interleaved rounds x {args.steps} timed steps (medians); host CPUs: {os.cpu_count()}")
    trainers = {"tfmodels graph": TfmodelsTrainer(args, jit_compile=False),
                "tfmodels XLA": TfmodelsTrainer(args, jit_compile=True)}
    print(f"first fit() call (trace/compile + one step): graph {trainers['tfmodels graph'].first_call:.1f} s, "
          f"XLA {trainers['tfmodels XLA'].first_call:.1f} s")
    if not args.skip_torch:
        trainers["PyTorch transformers"] = TorchTrainer(args)
    samples = {name: [] for name in trainers}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            samples[name] += trainer.steps(args.steps)
    results = {name: statistics.median(values) for name, values in samples.items()}
    for name, seconds in results.items():
        line = f"  {name:22s} {seconds * 1000:9.1f} ms/step"
        if "PyTorch transformers" in results and name != "PyTorch transformers":
            line += f"   ratio vs PyTorch {results['PyTorch transformers'] / seconds:5.2f}x"
        print(line)
    for name in ("tfmodels graph", "tfmodels XLA"):
        modules = trainers[name].xla_modules()
        found = ", ".join(f"{module} ({seconds * 1000:.0f} ms of HLO ops)" for module, seconds in modules.items())
        print(f"XLA evidence, {name} (one profiled step): {found or 'no XLA module ran'}")
    if devices:
        strategy = tf.distribute.MirroredStrategy(devices)
        mirrored = TfmodelsTrainer(args, jit_compile=False, strategy=strategy, batch_size=args.batch_size * len(devices))
        seconds = statistics.median(mirrored.steps(args.steps * args.rounds))
        efficiency = results["tfmodels graph"] / seconds
        print(f"Mirrored x{len(devices)} logical CPUs (graph, global batch {args.batch_size * len(devices)}): "
              f"{seconds * 1000:.1f} ms/step; weak-scaling efficiency {efficiency:.2f} "
              f"(1.0 = perfect; ~{1 / len(devices):.2f} expected when the devices share the same cores)")


if __name__ == "__main__":
    main()
