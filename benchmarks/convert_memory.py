"""Peak memory of converting a BERT-base-sized safetensors checkpoint, and of `save_pretrained`.

A child process writes a random BERT-base checkpoint with transformers (so
PyTorch's memory is not counted); a second, fresh process imports
TensorFlow and tfmodels, records its resident memory (the baseline), then
loads the checkpoint with `from_pretrained` and writes Keras weights (what
`tfmodels convert` does), recording the peak resident memory (`VmHWM`).
Prints (peak - baseline) / checkpoint size. Target: <= 1.3.

Then, in the same process, the peak is reset (`/proc/self/clear_refs`) and
`save_pretrained` writes the model back as one `model.safetensors` (the
default `max_shard_size`). Printed, over the model size (the checkpoint's):
the process's peak RSS during the save over the baseline (target <= 1.3x:
the model plus at most ~0.3x), and the memory the save adds to the process
holding the model (peak during the save - RSS just before it).

    python benchmarks/convert_memory.py [--layers 12]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

WRITE = """
import sys, torch, transformers
torch.manual_seed(0)
transformers.BertModel(transformers.BertConfig(num_hidden_layers=int(sys.argv[2]))).save_pretrained(sys.argv[1])
"""

MEASURE = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

import tensorflow as tf
import tfmodels
from tfmodels.converters import save_keras_weights
baseline = status("VmRSS:")
model = tfmodels.BertModel.from_pretrained(sys.argv[1], progress=False)
after_load = status("VmHWM:")
save_keras_weights(model, sys.argv[2])
peak_convert = status("VmHWM:")
import ctypes, gc
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the current RSS
before_save = status("VmRSS:")
model.save_pretrained(sys.argv[3])
print(json.dumps({"baseline": baseline, "peak_load": after_load, "peak_convert": peak_convert,
                  "before_save": before_save, "peak_save": status("VmHWM:")}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="2 layers (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.layers = 2
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = os.path.join(tmp, "bert")
        subprocess.run([sys.executable, "-c", WRITE, checkpoint, str(args.layers)], check=True)
        size = os.path.getsize(os.path.join(checkpoint, "model.safetensors"))
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(MEASURE), checkpoint, os.path.join(tmp, "out"),
             os.path.join(tmp, "saved")],
            check=True, capture_output=True, text=True,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    mib = 1024 * 1024
    print(f"checkpoint model.safetensors: {size / mib:.0f} MiB (BERT-base shape, {args.layers} layers)")
    print(f"RSS after importing TensorFlow + tfmodels: {figures['baseline'] / mib:.0f} MiB")
    for phase in ("peak_load", "peak_convert"):
        extra = figures[phase] - figures["baseline"]
        print(f"{phase:13s}: +{extra / mib:.0f} MiB over baseline = {extra / size:.2f}x the checkpoint size "
              f"(target <= 1.30x)")
    held = figures["before_save"] - figures["baseline"]
    peak = figures["peak_save"] - figures["baseline"]
    added = figures["peak_save"] - figures["before_save"]
    print(f"save_pretrained peak : +{peak / mib:.0f} MiB over baseline = {peak / size:.2f}x the model size "
          f"(target <= 1.30x; the process held {held / size:.2f}x before the save)")
    print(f"save_pretrained added: +{added / mib:.0f} MiB over the process holding the model = {added / size:.2f}x "
          f"the model size")


if __name__ == "__main__":
    main()
