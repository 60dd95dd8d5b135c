"""Long-sequence encoders: forward time and peak memory, tfmodels XLA vs transformers PyTorch.

Longformer-base shape (12 layers, hidden 768, 12 heads, window 512) and
BigBird-base shape (12 layers, hidden 768, 12 heads, block-sparse attention,
blocks of 64, 3 random blocks), random weights, batch 1, sequences of 1024,
2048, 4096 (and 8192 with `--lengths`) tokens, float32, one forward pass
(inference, no gradients). For each model and length:

- tfmodels XLA (`tf.function(jit_compile=True)`) and transformers PyTorch
  (`torch.no_grad()`): the median wall time of `--repeats` forward passes
  after a warm-up (which includes the trace and the XLA compile), and the
  peak resident memory of those passes above the memory held before them
  (weights, inputs, compiled program): `VmHWM` after resetting it with
  `/proc/self/clear_refs`, so the figure is what the forward pass itself adds;
- the same for tfmodels' full-attention RoBERTa (same width and depth,
  a position table of the needed length): what the sparse attention saves.

Every measurement runs in a fresh Python process (peak memory cannot be
shared between runs), one after the other, so a measurement never competes
with another for the CPU; each process builds its own random model (the
numbers do not depend on the weights; parity is what tests/test_longformer_parity.py
and tests/test_big_bird_parity.py check). The header prints the CPU model,
its SIMD flags, the thread counts and the library versions.

    python benchmarks/long_sequence.py                     # 1024, 2048, 4096 tokens
    python benchmarks/long_sequence.py --lengths 1024 8192 --models longformer
    python benchmarks/long_sequence.py --quick             # 2-layer narrow models, 256/512 tokens (smoke test)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# name -> (transformers config class, its fields; the model class is `<prefix>Model` in both packages)
MODELS = {
    "longformer": ("LongformerConfig", dict(attention_window=512)),
    "big_bird": ("BigBirdConfig", dict(attention_type="block_sparse", block_size=64, num_random_blocks=3)),
    "roberta": ("RobertaConfig", dict()),
}
CLASS_PREFIX = {"longformer": "Longformer", "big_bird": "BigBird", "roberta": "Roberta"}
BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
QUICK = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
QUICK_MODEL = {"longformer": dict(attention_window=64), "big_bird": dict(block_size=16, num_random_blocks=2)}


def config_fields(name, seq_len, quick):
    _, fields = MODELS[name]
    fields = {**(QUICK if quick else BASE), **fields, **(QUICK_MODEL.get(name, {}) if quick else {})}
    # Positions: RoBERTa and Longformer count from pad_token_id + 1 = 2; BigBird from 0.
    fields["max_position_embeddings"] = max(seq_len + 2, 514 if name != "big_bird" else 4096)
    return fields


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak():
    """Resets `VmHWM` to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def worker(spec):
    """One measurement in this process: prints a JSON line with the times and the peak memory."""
    import time

    import numpy as np
    import transformers

    name, framework, seq_len, repeats, quick = (spec[k] for k in ("model", "framework", "seq_len", "repeats",
                                                                   "quick"))
    config_class, _ = MODELS[name]
    config = getattr(transformers, config_class)(**config_fields(name, seq_len, quick))
    ids = np.random.RandomState(0).randint(5, config.vocab_size, (1, seq_len)).astype("int64")
    mask = np.ones_like(ids)
    if framework == "pytorch":
        import torch

        torch.manual_seed(0)
        model = getattr(transformers, CLASS_PREFIX[name] + "Model")(config).eval()
        inputs = {"input_ids": torch.as_tensor(ids), "attention_mask": torch.as_tensor(mask)}

        def forward():
            with torch.no_grad():
                return model(**inputs).last_hidden_state.numpy()
    else:
        import tensorflow as tf

        import tfmodels

        model = getattr(tfmodels, CLASS_PREFIX[name] + "Model").from_config(config.to_dict())
        inputs = {"input_ids": tf.constant(ids, tf.int32), "attention_mask": tf.constant(mask, tf.int32)}
        compiled = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=True)

        def forward():
            return compiled(inputs).numpy()

    start = time.perf_counter()
    forward()  # warm-up: trace, compile, thread pools
    first = time.perf_counter() - start
    before = _status("VmRSS:")
    exact_peak = _reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": times, "first": first, "extra": _status("VmHWM:") - before,
                      "exact_peak": exact_peak}))


def measure(model, framework, seq_len, repeats, quick):
    spec = dict(model=model, framework=framework, seq_len=seq_len, repeats=repeats, quick=quick)
    result = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                            text=True)
    if result.returncode:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"error": tail[0][:160]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["longformer", "big_bird"], choices=["longformer", "big_bird"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes per measurement")
    parser.add_argument("--quick", action="store_true", help="2-layer hidden-64 models, 256/512 tokens, 2 repeats")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.quick:
        args.lengths, args.repeats = [256, 512], 2

    from machine import machine_description  # benchmarks/machine.py: the header every benchmark prints

    for line in machine_description():
        print(line)
    shape = "2 layers, hidden 64 (--quick)" if args.quick else "12 layers, hidden 768"
    print(f"batch 1, float32, forward pass only; {shape}; median of {args.repeats} passes after a warm-up; "
          "memory: peak RSS the passes add over what the process held before them")
    mib = 1024 * 1024

    def cell(result):
        if "error" in result:
            return f"failed: {result['error']}"
        approx = "" if result["exact_peak"] else " (peak since start: clear_refs unavailable)"
        return (f"{statistics.median(result['seconds']) * 1000:9.1f} ms  {result['extra'] / mib:8.1f} MiB"
                f"  (first call {result['first']:.1f} s){approx}")

    for model in args.models:
        print(f"\n{CLASS_PREFIX[model]}Model")
        for seq_len in args.lengths:
            results = {
                "tfmodels XLA": measure(model, "tfmodels", seq_len, args.repeats, args.quick),
                "transformers PyTorch": measure(model, "pytorch", seq_len, args.repeats, args.quick),
                "tfmodels RoBERTa (full attention) XLA": measure("roberta", "tfmodels", seq_len, args.repeats,
                                                                 args.quick),
            }
            print(f"  {seq_len} tokens")
            for name, result in results.items():
                print(f"    {name:38s} {cell(result)}")
            if not any("error" in r for r in results.values()):
                print("    " + ratios(results))


def ratios(results):
    """PyTorch / tfmodels and full attention / tfmodels, time and memory (memory ratios need >= 1 MiB each)."""
    mib = 1024 * 1024
    t = {k: statistics.median(r["seconds"]) for k, r in results.items()}
    m = {k: r["extra"] for k, r in results.items()}
    ours, torch_, full = "tfmodels XLA", "transformers PyTorch", "tfmodels RoBERTa (full attention) XLA"

    def memory(other):
        return f"{m[other] / m[ours]:.2f}x" if min(m[other], m[ours]) >= mib else "n/a (< 1 MiB)"

    return (f"PyTorch / tfmodels: time {t[torch_] / t[ours]:.2f}x, memory {memory(torch_)}; "
            f"full attention / tfmodels: time {t[full] / t[ours]:.2f}x, memory {memory(full)}")


if __name__ == "__main__":
    main()
