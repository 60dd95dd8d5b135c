"""DeBERTa-v2 inference throughput: tfmodels (graph, XLA) vs transformers PyTorch.

DeBERTa-v3-base shape (12 layers, hidden 768, 12 heads, `position_buckets`
256, shared attention keys, normalised relative embeddings; random weights,
vocabulary cut to 1000 tokens since it only affects the embedding lookup),
float32, on the CPU, at batch 8 x 128 and 1 x 512 tokens with padding. Both
frameworks run in this process on the same weights (the PyTorch model is
saved and loaded into tfmodels) with their default thread pools. Prints
tokens/s and the ratios to PyTorch.

    python benchmarks/deberta_inference.py [--iterations 5] [--quick]
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from timing import seconds_per_call  # noqa: E402

SHAPES = ((8, 128), (1, 512))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 layers, 2 iterations, 1 warm-up (smoke run)")
    args = parser.parse_args()
    warmup = 2
    if args.quick:
        args.layers, args.iterations, warmup = 2, 2, 1

    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    import tfmodels

    config = transformers.DebertaV2Config(
        vocab_size=1000, hidden_size=768, num_hidden_layers=args.layers, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=512, relative_attention=True, position_buckets=256,
        norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type="p2c|c2p", position_biased_input=False,
        layer_norm_eps=1e-7,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    reference = transformers.DebertaV2Model(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        model = tfmodels.DebertaV2Model.from_pretrained(directory)

    graph = tf.function(lambda x: model(x, training=False)["last_hidden_state"])
    xla = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=True)
    print(f"DeBERTa-v2 ({args.layers} layers, hidden 768, buckets 256), float32, "
          f"CPU threads: torch {torch.get_num_threads()}, cores {os.cpu_count()}")
    rng = np.random.RandomState(0)
    for batch_size, seq_len in SHAPES:
        shape = (batch_size, seq_len)
        inputs = {"input_ids": rng.randint(1, config.vocab_size, shape).astype("int32"),
                  "attention_mask": np.ones(shape, dtype="int32")}
        if batch_size > 1:
            inputs["attention_mask"][1::2, seq_len // 2:] = 0
        tf_inputs = {k: tf.constant(v) for k, v in inputs.items()}
        torch_inputs = {k: torch.as_tensor(v, dtype=torch.long) for k, v in inputs.items()}

        def run_torch():
            with torch.no_grad():
                return reference(**torch_inputs).last_hidden_state

        valid = inputs["attention_mask"].astype(bool)
        diff = np.abs(xla(tf_inputs).numpy() - run_torch().numpy())[valid].max()
        seconds = {
            "transformers PyTorch": seconds_per_call(run_torch, args.iterations, warmup),
            "tfmodels graph": seconds_per_call(lambda: graph(tf_inputs).numpy(), args.iterations, warmup),
            "tfmodels XLA": seconds_per_call(lambda: xla(tf_inputs).numpy(), args.iterations, warmup),
        }
        tokens = batch_size * seq_len
        print(f" batch {batch_size} x {seq_len} tokens; max abs diff vs PyTorch {diff:.1e}")
        base = seconds["transformers PyTorch"]
        for name, value in seconds.items():
            print(f"  {name:22s} {tokens / value:10.0f} tokens/s   {value * 1000:8.1f} ms/batch   "
                  f"ratio vs PyTorch {base / value:5.2f}x")


if __name__ == "__main__":
    main()
