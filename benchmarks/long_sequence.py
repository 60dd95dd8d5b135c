"""Long-sequence encoders: time and peak memory, tfmodels vs transformers PyTorch.

Longformer-base shape (12 layers, hidden 768, 12 heads, window 512) and
BigBird-base shape (12 layers, hidden 768, 12 heads, block-sparse attention,
blocks of 64, 3 random blocks), random weights, batch 1, sequences of 1024,
2048, 4096 (and 8192 with `--lengths`) tokens, float32.

Two modes:

- default: one forward pass (inference, no gradients) of `<Prefix>Model`:
  tfmodels XLA (`tf.function(jit_compile=True)`), transformers PyTorch
  (`torch.no_grad()`), and tfmodels' full-attention RoBERTa of the same width
  and depth (what the sparse attention saves; `--no-full-attention` skips it);
- `--train`: one training step of `<Prefix>ForMaskedLM` with labels (15 % of
  the tokens, the rest -100): forward, backward and an AdamW update.
  tfmodels: `compile(optimizer=AdamW)` + `train_on_batch` with XLA
  (`jit_compile=True`) and in graph mode (`jit_compile=False`); PyTorch:
  `loss.backward()` + `torch.optim.AdamW.step()`. Default length 4096.

What is measured (every measurement in a fresh Python process, one after the
other, so a measurement never competes with another for the CPU and peak
memory is never shared between them). Memory is resident set size read from
`/proc/self/status`: `VmRSS` (now) and `VmHWM` (the peak), the peak reset to
the current RSS with `/proc/self/clear_refs` (Linux >= 4.0). "Settle" below
means `gc.collect()` then glibc `malloc_trim(0)`, which hands freed heap pages
back to the OS so that RSS counts live memory, not what the allocator keeps.

1. Build: the model's weights are created (tfmodels: `build_from_dummy_inputs()`,
   a 4-token eager call; PyTorch: the constructor), the inputs made and, with
   `--train`, the optimizer state created (tfmodels `optimizer.build`, PyTorch
   one AdamW step on zero gradients, which allocates its moments). Settle.
   `base` = RSS now; the peak is reset.
2. First call: one forward pass / training step. `first call` = peak RSS during
   it - `base`. For tfmodels this includes the trace and the XLA (or graph)
   compilation as well as the execution; for PyTorch it is the execution (plus
   one-off thread-pool and allocator set-up).
3. Settle. `held` = RSS now - `base`: what the first call leaves behind
   (tfmodels: the compiled program and TF's caches; PyTorch: allocator caches).
   The peak is reset.
4. `--repeats` more calls (timed; the median is shown). `execution` = peak RSS
   during them - RSS before them: the transient memory one call needs on top
   of what the process holds between calls (activations, gradients,
   workspace). For PyTorch this is the peak activation memory. Not for
   tfmodels: TF's XLA launch on CPU keeps the program's temporary buffer
   allocated from the first call on (checked: a program with one 256 MiB
   temporary shows ~317 MiB `held` and ~0 MiB `execution`), and in graph
   mode TF keeps what the first step allocated too (a Longformer training
   step: ~10 GiB `held`, under 1 GiB `execution`), so tfmodels' `execution`
   only shows what the later calls add and its activations sit in `held`.
5. tfmodels XLA only: XLA's own buffer assignment of the compiled program
   (`--xla_dump_to` in a temporary directory, `*buffer-assignment.txt`):
   `XLA buffers` = its preallocated temporaries + outputs not aliased to
   inputs, i.e. what one execution allocates beyond its inputs (weights
   included in those inputs). A static figure, independent of the allocator,
   and tfmodels XLA's peak activation memory.

`activation` (what the ratios compare) is `XLA buffers` for tfmodels XLA,
`first call` for tfmodels graph mode (an upper bound: it includes building
the graph, small next to a step's activations) and `execution` for PyTorch;
`first call` is compared too (for tfmodels it includes compilation:
`first call` - `held` approximates the compiler's transient memory under
XLA, `held` - `XLA buffers` the compiled program and caches).

Memory figures do not depend on the load of the machine; times do (a shared
machine gives noisy, pessimistic times: rerun them on a quiet machine with
`--repeats 5`). The header prints the CPU model, its SIMD flags, the thread
counts and the library versions. Each process builds its own random model
(the numbers do not depend on the weights; parity is what
tests/test_longformer_parity.py and tests/test_big_bird_parity.py check).

    python benchmarks/long_sequence.py                     # 1024, 2048, 4096 tokens
    python benchmarks/long_sequence.py --lengths 2048 4096 --repeats 1 --no-full-attention
    python benchmarks/long_sequence.py --train             # one training step at 4096 tokens
    python benchmarks/long_sequence.py --quick             # 2-layer narrow models, 256/512 tokens (smoke test)
"""

import argparse
import ctypes
import gc
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's tfmodels

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
FRAMEWORKS = {"tfmodels-xla": "tfmodels XLA", "tfmodels-graph": "tfmodels graph", "pytorch": "transformers PyTorch"}
MIB = 1024 * 1024


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


def _settle():
    """Frees what is garbage and hands free heap pages back to the OS (glibc), so RSS counts live memory."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def xla_buffers(dump_dir):
    """XLA's buffer assignment of the largest compiled module: bytes of temporaries and of fresh outputs."""
    best = None
    for path in glob.glob(os.path.join(dump_dir, "*buffer-assignment.txt")):
        temp = output = parameters = 0
        with open(path) as f:
            for line in f:
                match = re.match(r"allocation \d+: size (\d+), (.*)", line)
                if not match:
                    if line.startswith("Total bytes used"):
                        break
                    continue
                size, kinds = int(match.group(1)), match.group(2)
                if "parameter" in kinds:
                    parameters += size
                elif "preallocated-temp" in kinds:
                    temp += size
                elif "output" in kinds or "live-out" in kinds:
                    output += size
        if best is None or temp + output > best["temp"] + best["output"]:
            best = {"temp": temp, "output": output, "parameters": parameters}
    return best


def _masked_lm_labels(ids):
    import numpy as np

    labels = np.full_like(ids, -100)
    keep = np.random.RandomState(1).rand(*ids.shape) < 0.15
    labels[keep] = ids[keep]
    return labels


def _pytorch_step(name, config, ids, mask, train):
    import torch
    import transformers

    torch.manual_seed(0)
    inputs = {"input_ids": torch.as_tensor(ids), "attention_mask": torch.as_tensor(mask)}
    if not train:
        model = getattr(transformers, CLASS_PREFIX[name] + "Model")(config).eval()

        def forward():
            with torch.no_grad():
                return model(**inputs).last_hidden_state.numpy()
        return forward
    model = getattr(transformers, CLASS_PREFIX[name] + "ForMaskedLM")(config).train()
    labels = torch.as_tensor(_masked_lm_labels(ids))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    for p in model.parameters():  # creates AdamW's moments before the measured steps, as optimizer.build does
        p.grad = torch.zeros_like(p)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

    def train_step():
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()
    return train_step


def _tfmodels_step(name, config, ids, mask, train, jit_compile):
    import keras
    import tensorflow as tf

    import tfmodels

    inputs = {"input_ids": tf.constant(ids, tf.int32), "attention_mask": tf.constant(mask, tf.int32)}
    if not train:
        model = getattr(tfmodels, CLASS_PREFIX[name] + "Model").from_config(config.to_dict())
        model.build_from_dummy_inputs()
        compiled = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=jit_compile)

        def forward():
            return compiled(inputs).numpy()
        return forward
    model = getattr(tfmodels, CLASS_PREFIX[name] + "ForMaskedLM").from_config(config.to_dict())
    model.build_from_dummy_inputs()
    model.compile(optimizer=keras.optimizers.AdamW(1e-5), jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
    batch = {**inputs, "labels": tf.constant(_masked_lm_labels(ids), tf.int32)}

    def train_step():
        return float(model.train_on_batch(batch, return_dict=True)["loss"])
    return train_step


def worker(spec):
    """One measurement in this process: prints a JSON line with the times and the memory figures."""
    import time

    import numpy as np

    name, framework, seq_len, repeats, quick, train = (spec[k] for k in ("model", "framework", "seq_len",
                                                                         "repeats", "quick", "train"))
    dump_dir = None
    if framework == "tfmodels-xla":  # before TensorFlow reads XLA_FLAGS
        dump_dir = tempfile.mkdtemp(prefix="xla_dump_")
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump_dir}".strip()
    import transformers

    config_class, _ = MODELS[name]
    config = getattr(transformers, config_class)(**config_fields(name, seq_len, quick))
    ids = np.random.RandomState(0).randint(5, config.vocab_size, (1, seq_len)).astype("int64")
    mask = np.ones_like(ids)
    if framework == "pytorch":
        step = _pytorch_step(name, config, ids, mask, train)
    else:
        step = _tfmodels_step(name, config, ids, mask, train, jit_compile=framework == "tfmodels-xla")

    _settle()
    base = _status("VmRSS:")
    exact_peak = _reset_peak()
    start = time.perf_counter()
    step()  # first call: trace, compile (tfmodels), thread pools
    first = time.perf_counter() - start
    first_peak = _status("VmHWM:") - base
    _settle()
    before = _status("VmRSS:")
    _reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    result = {"framework": framework, "seconds": times, "first": first, "first_peak": first_peak, "held": before - base,
              "execution": _status("VmHWM:") - before, "exact_peak": exact_peak}
    if dump_dir:
        result["xla"] = xla_buffers(dump_dir)
        shutil.rmtree(dump_dir, ignore_errors=True)
    print(json.dumps(result))


def measure(model, framework, seq_len, repeats, quick, train=False):
    spec = dict(model=model, framework=framework, seq_len=seq_len, repeats=repeats, quick=quick, train=train)
    result = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                            text=True)
    if result.returncode:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"error": tail[0][:160]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def cell(result):
    if "error" in result:
        return f"failed: {result['error']}"
    approx = "" if result["exact_peak"] else " (peaks since process start: clear_refs unavailable)"
    xla = ""
    if result.get("xla"):
        xla = f"  XLA buffers {(result['xla']['temp'] + result['xla']['output']) / MIB:7.1f} MiB"
    return (f"{statistics.median(result['seconds']) * 1000:9.1f} ms  first call {result['first']:6.1f} s "
            f"{result['first_peak'] / MIB:7.1f} MiB  held {result['held'] / MIB:7.1f} MiB  "
            f"execution {result['execution'] / MIB:7.1f} MiB{xla}{approx}")


def activation(result):
    """Peak activation memory of one call: XLA's buffer assignment (XLA), the first call (tfmodels graph mode,
    whose allocator keeps its memory), the later calls' peak (PyTorch); see the docstring."""
    xla = result.get("xla")
    if xla:
        return xla["temp"] + xla["output"]
    return result["first_peak"] if result.get("framework") == "tfmodels-graph" else result["execution"]


def ratios(results, ours="tfmodels XLA"):
    """PyTorch / tfmodels and full attention / tfmodels: time, activation and first-call memory."""
    torch_, full = "transformers PyTorch", "tfmodels RoBERTa (full attention) XLA"
    t = {k: statistics.median(r["seconds"]) for k, r in results.items()}

    def memory(other, figure):
        a, b = figure(results[other]), figure(results[ours])
        return f"{a / b:.2f}x" if min(a, b) >= MIB else "n/a (< 1 MiB)"

    def compare(other):
        return (f"time {t[other] / t[ours]:.2f}x, activation memory {memory(other, activation)}, "
                f"first-call memory {memory(other, lambda r: r['first_peak'])}")

    parts = [f"PyTorch / {ours}: {compare(torch_)}"]
    if full in results:
        parts.append(f"full attention / {ours}: {compare(full)}")
    return "; ".join(parts)


def growth(by_length, lengths):
    """Activation and first-call memory of each length over the previous length's, per framework."""
    lines = []
    for previous, current in zip(lengths, lengths[1:]):
        for framework in by_length[current]:
            a, b = by_length[previous].get(framework, {}), by_length[current][framework]
            if "error" in a or "error" in b or not a:
                continue
            figures = [f"{label} {f(b) / f(a):.2f}x" for label, f in
                       (("activation", activation), ("first call", lambda r: r["first_peak"])) if f(a) >= MIB]
            lines.append(f"    {current}/{previous} tokens, {framework}: " + ", ".join(figures))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["longformer", "big_bird"], choices=["longformer", "big_bird"])
    parser.add_argument("--lengths", nargs="+", type=int, help="default 1024 2048 4096 (4096 with --train)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement after the first")
    parser.add_argument("--train", action="store_true", help="one training step of <Prefix>ForMaskedLM")
    parser.add_argument("--no-full-attention", action="store_true", help="skip the full-attention RoBERTa")
    parser.add_argument("--quick", action="store_true", help="2-layer hidden-64 models, 256/512 tokens, 2 repeats")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.quick:
        args.lengths, args.repeats = args.lengths or [256, 512], 2
    args.lengths = args.lengths or ([4096] if args.train else [1024, 2048, 4096])

    from machine import machine_description  # benchmarks/machine.py: the header every benchmark prints

    for line in machine_description():
        print(line)
    shape = "2 layers, hidden 64 (--quick)" if args.quick else "12 layers, hidden 768"
    task = "one training step (ForMaskedLM, AdamW)" if args.train else "forward pass only"
    print(f"batch 1, float32, {task}; {shape}; median of {args.repeats} calls after the first; memory: peak RSS "
          "of the first call and of the later calls over the RSS before them (see the docstring)")
    frameworks = ["tfmodels-xla", "tfmodels-graph", "pytorch"] if args.train else ["tfmodels-xla", "pytorch"]
    for model in args.models:
        print(f"\n{CLASS_PREFIX[model]}{'ForMaskedLM' if args.train else 'Model'}")
        by_length = {}
        for seq_len in args.lengths:
            results = {FRAMEWORKS[f]: measure(model, f, seq_len, args.repeats, args.quick, args.train)
                       for f in frameworks}
            if not args.train and not args.no_full_attention:
                results["tfmodels RoBERTa (full attention) XLA"] = measure("roberta", "tfmodels-xla", seq_len,
                                                                           args.repeats, args.quick)
            by_length[seq_len] = results
            print(f"  {seq_len} tokens")
            for name, result in results.items():
                print(f"    {name:38s} {cell(result)}", flush=True)
            if not any("error" in r for r in results.values()):
                print("    " + ratios(results))
                if args.train:
                    print("    " + ratios(results, ours="tfmodels graph"))
        for line in growth(by_length, args.lengths):
            print(line)


if __name__ == "__main__":
    main()
