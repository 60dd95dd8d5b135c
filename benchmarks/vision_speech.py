"""Vision and speech encoder inference: tfmodels (graph, XLA) vs transformers PyTorch.

Two forward passes, random weights, float32, on the CPU:

- ViT-base shapes: 224x224 images in 16x16 patches (197 tokens), 12 layers,
  hidden 768, 12 heads, batch 8 (`ViTModel`);
- wav2vec 2.0 base shapes: 10 s of 16 kHz audio (160,000 samples, 499
  frames after the 7-layer convolutional feature encoder), 12 layers, hidden
  768, batch 4 (`Wav2Vec2Model`, group-norm feature encoder).

Both frameworks run in this process on the same weights (the PyTorch model is
saved and loaded into tfmodels), with their default thread pools; the outputs
are compared before timing. The runs are interleaved in rounds and each figure
is the median over rounds, so a change in machine load hits all of them alike.
Prints images/s (audio seconds/s), ms per batch and the ratios to PyTorch,
after the machine header (CPU model, SIMD flags, threads, versions).

    python benchmarks/vision_speech.py [--vit-batch 8] [--audio-batch 4] [--audio-seconds 10] [--rounds 5] [--quick]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SAMPLING_RATE = 16000


def _seconds(fn, iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations


def _runs(reference, model, tf_inputs, torch_inputs, output):
    """`{name: fn}` for PyTorch, tfmodels graph and XLA, and the max |diff| of `output` (XLA vs PyTorch)."""
    import numpy as np
    import tensorflow as tf
    import torch

    graph = tf.function(lambda x: model(x, training=False)[output])
    xla = tf.function(lambda x: model(x, training=False)[output], jit_compile=True)

    def run_torch():
        with torch.no_grad():
            return reference(**torch_inputs)[output]

    diff = float(np.abs(xla(tf_inputs).numpy() - run_torch().numpy()).max())
    return {
        "transformers PyTorch": run_torch,
        "tfmodels graph": lambda: graph(tf_inputs).numpy(),
        "tfmodels XLA": lambda: xla(tf_inputs).numpy(),
    }, diff


def _load_pair(reference_class, tfmodels_class, config):
    import torch

    torch.manual_seed(0)
    reference = reference_class(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        model = tfmodels_class.from_pretrained(directory)
    return reference, model


def vit_case(args):
    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    import tfmodels

    config = transformers.ViTConfig(num_hidden_layers=args.layers)  # ViT-base otherwise
    reference, model = _load_pair(transformers.ViTModel, tfmodels.ViTModel, config)
    pixels = np.random.RandomState(0).randn(args.vit_batch, 3, config.image_size, config.image_size)
    pixels = pixels.astype("float32")
    runs, diff = _runs(reference, model, {"pixel_values": tf.constant(pixels)},
                       {"pixel_values": torch.from_numpy(pixels)}, "last_hidden_state")
    tokens = (config.image_size // config.patch_size) ** 2 + 1
    title = (f"ViT ({args.layers} layers, hidden {config.hidden_size}, {config.image_size}x{config.image_size} "
             f"images in {config.patch_size}x{config.patch_size} patches = {tokens} tokens), batch "
             f"{args.vit_batch}; max abs diff {diff:.1e}")
    return title, runs, args.vit_batch, "images/s"


def wav2vec2_case(args):
    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    import tfmodels

    config = transformers.Wav2Vec2Config(num_hidden_layers=args.layers)  # wav2vec 2.0 base otherwise
    reference, model = _load_pair(transformers.Wav2Vec2Model, tfmodels.Wav2Vec2Model, config)
    samples = int(args.audio_seconds * SAMPLING_RATE)
    audio = np.random.RandomState(0).randn(args.audio_batch, samples).astype("float32")
    runs, diff = _runs(reference, model, {"input_values": tf.constant(audio)},
                       {"input_values": torch.from_numpy(audio)}, "last_hidden_state")
    frames = model.feature_lengths(samples)
    title = (f"Wav2Vec2 ({args.layers} layers, hidden {config.hidden_size}, {len(config.conv_dim)}-layer conv "
             f"feature encoder), batch {args.audio_batch} x {args.audio_seconds:g} s of 16 kHz audio "
             f"({samples} samples -> {frames} frames); max abs diff {diff:.1e}")
    return title, runs, args.audio_batch * args.audio_seconds, "audio s/s"


def measure(runs, rounds, iterations):
    """Median seconds per call of each run over interleaved rounds (after two warm-up calls each)."""
    for fn in runs.values():  # warm-up (traces, compiles, thread pools)
        fn()
        fn()
    samples = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            samples[name].append(_seconds(fn, iterations))
    return {name: statistics.median(values) for name, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vit-batch", type=int, default=8)
    parser.add_argument("--audio-batch", type=int, default=4)
    parser.add_argument("--audio-seconds", type=float, default=10.0)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=2, help="calls per timing (one round)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="vit,wav2vec2", help="comma-separated: vit, wav2vec2")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 layers, 2 rounds of 1 call, batch 2, 2 s of audio")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.rounds, args.iterations = 2, 2, 1
        args.vit_batch, args.audio_batch, args.audio_seconds = 2, 2, 2.0
    cases = {"vit": vit_case, "wav2vec2": wav2vec2_case}
    chosen = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(cases))
    if unknown:
        parser.error(f"unknown --models {unknown}; choose from {sorted(cases)}")

    import torch

    from machine import machine_description

    for line in machine_description():
        print(line)
    print(f"float32, CPU threads: torch {torch.get_num_threads()}, cores {os.cpu_count()}; median of "
          f"{args.rounds} interleaved rounds x {args.iterations} calls, random weights"
          + (" (--quick: a smoke run, not a measurement)" if args.quick else ""))
    for name in chosen:
        title, runs, items, unit = cases[name](args)
        seconds = measure(runs, args.rounds, args.iterations)
        print(title)
        base = seconds["transformers PyTorch"]
        for run, value in seconds.items():
            print(f"  {run:22s} {items / value:10.2f} {unit:10s} {value * 1000:9.1f} ms/batch   "
                  f"ratio vs PyTorch {base / value:5.2f}x")


if __name__ == "__main__":
    main()
