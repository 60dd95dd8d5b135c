"""Where a decoding step's time goes: XLA op profile of GPT-2 `generate()` at batch 1, against the memory ceiling.

Batch-1 decoding reads every weight once per token, so it is bound by memory
bandwidth. This script measures, in one process on this machine:

- the read bandwidth ceiling on the machine's threads: PyTorch (MKL)
  matrix-vector products over 377 MB of 768x3072 matrices, and a 400 MB sum
  (in a separate process that imports only torch);
- tfmodels' XLA `generate()` of a GPT-2 small shape (random weights), with
  XLA's per-op trace (`--xla_cpu_enable_xprof_traceme` + the TensorFlow
  profiler): time per token, the share spent in dots (the weight
  projections and the LM head) and everything else, and the bandwidth the
  dots reach (weight bytes per token / dot time per token).

    python benchmarks/profile_decoding.py            # GPT-2 small, 64 new tokens
    python benchmarks/profile_decoding.py --quick    # 2 layers, 8 tokens (smoke test)

Run it on a quiet machine: other processes take both bandwidth and cores.
"""

import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import tfmodels  # noqa: E402
from timing import fastest_call  # noqa: E402


_CEILING = """
import sys, time, torch
count, size = (4, 10_000_000) if sys.argv[1] == "quick" else (40, 100_000_000)
def best(fn):  # this snippet runs in its own interpreter (torch only), so it keeps its own timer
    times = []
    for _ in range(5):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)
matrices = [torch.randn(768, 3072) for _ in range(count)]
vector = torch.randn(768)
gemv = best(lambda: [vector @ m for m in matrices])
data = torch.randn(size)
total = best(lambda: data.sum())
print(count * 768 * 3072 * 4 / gemv / 1e9, size * 4 / total / 1e9, torch.get_num_threads())
"""


def bandwidth_ceiling(quick):
    """GB/s of PyTorch/MKL matrix-vector products and of a plain sum (reads only), and torch's threads.

    Measured in a separate process that imports only torch, so that nothing of
    TensorFlow's (its thread pools, XLA's buffers) is in the way.
    """
    result = subprocess.run([sys.executable, "-c", _CEILING, "quick" if quick else "full"], check=True,
                            capture_output=True, text=True)
    gemv, stream, threads = result.stdout.split()
    return float(gemv), float(stream), int(threads)


def op_times(logdir):
    """{op category: seconds} summed over XLA's CPU threads from the profiler's trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if "Eigen" not in line.name:  # XLA's intra-op threads
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if not name or name.startswith(("ThunkExecutor", "end:", "ThreadpoolListener")):
                    continue
                totals[re.sub(r"\.\d+$", "", name)] += event.duration_ps / 1e12
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2-layer model, 8 tokens (smoke test)")
    args = parser.parse_args()
    layers, new_tokens = (2, 8) if args.quick else (12, 64)
    from machine import machine_description

    for line in machine_description():
        print(line)
    gemv, stream, threads = bandwidth_ceiling(args.quick)
    print(f"read bandwidth, {threads} threads: PyTorch/MKL vector x 768x3072 matrices {gemv:.1f} GB/s; "
          f"sum of {'40' if args.quick else '400'} MB {stream:.1f} GB/s")

    config = transformers.GPT2Config(n_layer=layers, n_embd=768, n_head=12, n_positions=1024, eos_token_id=None,
                                     bos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        model = tfmodels.GPT2LMHeadModel.from_pretrained(directory)
    ids = np.random.RandomState(0).randint(1, config.vocab_size, (1, 32))
    kwargs = dict(attention_mask=np.ones_like(ids), max_new_tokens=new_tokens, eos_token_id=[], pad_token_id=0)
    model.generate(ids, **kwargs)  # trace + compile
    seconds = fastest_call(lambda: model.generate(ids, **kwargs).numpy(), 3)
    weight_bytes = sum(int(np.prod(v.shape)) * 4 for v in model.weights if "wpe" not in v.path)
    print(f"GPT-2 shape, {layers} layers: {weight_bytes / 1e6:.0f} MB of weights read per token; "
          f"{seconds / new_tokens * 1e3:.2f} ms per token ({weight_bytes * new_tokens / seconds / 1e9:.1f} GB/s "
          f"overall, incl. the 32-token prompt)")

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        model.generate(ids, **kwargs).numpy()
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    dots = sum(v for k, v in totals.items() if "dot" in k.lower() or k == "MatMul")
    other = sum(totals.values()) - dots
    print(f"profiled run (tracing adds overhead): dots {dots / new_tokens * 1e3:.2f} ms per token "
          f"({weight_bytes * new_tokens / dots / 1e9:.1f} GB/s), other ops {other / new_tokens * 1e3:.2f} ms per token")
    for name, value in totals.most_common(8):
        print(f"  {name:45s} {value / new_tokens * 1e3:7.3f} ms per token")


if __name__ == "__main__":
    main()
