"""Forward throughput of Funnel (full and base), XLNet and BERT: tfmodels vs PyTorch.

Prints tokens/s for batch 8 x 128 and 1 x 512 at base size (random weights),
the tfmodels / PyTorch ratio per model, and Funnel's ratio to tfmodels' BERT of
equal depth (`num_hidden_layers = sum(block_sizes)`), which is the point of
Funnel: pooling makes the deeper blocks cheaper.

    python benchmarks/relative_models.py            # base size, 10 timed runs
    python benchmarks/relative_models.py --quick    # shallower models, 2 timed runs

tfmodels runs under `tf.function(jit_compile=True)`; PyTorch in eval mode under
`torch.inference_mode()`. Compilation and a warm-up call are not timed.
"""

import argparse

import numpy as np

from timing import seconds_per_call

SHAPES = [(8, 128), (1, 512)]


def configs(quick):
    blocks = [2, 2, 2] if quick else [6, 6, 6]
    xlnet_layers = 4 if quick else 12
    common = dict(vocab_size=30522)
    return {
        "funnel": dict(**common, block_sizes=blocks, d_model=768, n_head=12, d_head=64, d_inner=3072,
                       num_decoder_layers=2, hidden_dropout=0.0, attention_dropout=0.0),
        "xlnet": dict(vocab_size=32000, d_model=768, n_layer=xlnet_layers, n_head=12, d_inner=3072, dropout=0.0,
                      mem_len=None),
        "bert": dict(**common, hidden_size=768, num_hidden_layers=sum(blocks), num_attention_heads=12,
                     intermediate_size=3072, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     max_position_embeddings=512),
    }


MODELS = {  # name -> (tfmodels class, transformers class, config key)
    "FunnelModel": ("FunnelModel", "FunnelModel", "funnel"),
    "FunnelBaseModel": ("FunnelBaseModel", "FunnelBaseModel", "funnel"),
    "XLNetModel": ("XLNetModel", "XLNetModel", "xlnet"),
    "BertModel (equal depth)": ("BertModel", "BertModel", "bert"),
}


def bench_tf(class_name, config, batch, seq_len, runs):
    import tensorflow as tf

    import tfmodels

    model = getattr(tfmodels, class_name)(**config)
    ids = tf.constant(np.random.RandomState(0).randint(5, 1000, (batch, seq_len)), tf.int32)
    inputs = {"input_ids": ids, "attention_mask": tf.ones_like(ids)}
    forward = tf.function(lambda x: model(x, training=False)["last_hidden_state"], jit_compile=True)
    return seconds_per_call(lambda: forward(inputs).numpy(), runs, warmup=1)


def bench_torch(class_name, config, batch, seq_len, runs):
    import torch
    import transformers

    config_class = getattr(transformers, class_name.replace("BaseModel", "Model").replace("Model", "Config"))
    model = getattr(transformers, class_name)(config_class(**config)).eval()
    ids = torch.as_tensor(np.random.RandomState(0).randint(5, 1000, (batch, seq_len)))
    mask = torch.ones_like(ids)

    def forward():
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    return seconds_per_call(forward, runs, warmup=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shallower models and 2 timed runs")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 10)
    all_configs = configs(args.quick)
    print(f"{'model':<24} {'shape':>7} {'tfmodels tok/s':>15} {'torch tok/s':>12} {'tf/torch':>9}")
    results = {}
    for label, (ours, theirs, key) in MODELS.items():
        for batch, seq_len in SHAPES:
            tokens = batch * seq_len
            tf_tps = tokens / bench_tf(ours, all_configs[key], batch, seq_len, runs)
            pt_tps = tokens / bench_torch(theirs, all_configs[key], batch, seq_len, runs)
            results[(label, batch, seq_len)] = tf_tps
            print(f"{label:<24} {batch}x{seq_len:<5} {tf_tps:>15.0f} {pt_tps:>12.0f} {tf_tps / pt_tps:>9.2f}",
                  flush=True)
    print("\nFunnel vs tfmodels BERT of equal depth (tokens/s ratio, > 1 = Funnel faster):")
    for batch, seq_len in SHAPES:
        bert = results[("BertModel (equal depth)", batch, seq_len)]
        for label in ("FunnelModel", "FunnelBaseModel"):
            print(f"  {label:<16} {batch}x{seq_len:<5} {results[(label, batch, seq_len)] / bert:.2f}")


if __name__ == "__main__":
    main()
