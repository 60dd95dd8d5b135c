"""Cost of the token-id range check (`tfmodels.layers.embeddings.checked_lookup`) on a BERT-base forward.

Runs a random-weight BERT-base (12 layers, hidden 768) on `(batch, seq_len)` ids, eager and as a
`tf.function` (graph: the in-graph Assert + NaN select), with the check and with a plain lookup,
interleaved rounds, and prints the medians and the difference; "lookup" times the word-embedding
lookup alone, eager and in a graph (the check's absolute cost, less sensitive to a busy machine).

    python benchmarks/id_check_cost.py [--batch 8] [--seq-len 128] [--rounds 7]
"""

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.layers import embeddings


def _plain(lookup, ids, *args, **kwargs):
    return lookup(ids)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    model = tfmodels.BertModel()  # BERT-base sizes
    ids = np.random.RandomState(0).randint(0, 30522, (args.batch, args.seq_len)).astype("int32")
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    checked = embeddings.checked_lookup
    graphs = {}
    for name, fn in (("checked", checked), ("plain", _plain)):
        embeddings.checked_lookup = fn
        graphs[name] = tf.function(lambda x: model(x, training=False)["last_hidden_state"])
        graphs[name](inputs)  # trace with this lookup
    times = {(mode, name): [] for mode in ("eager", "graph") for name in ("checked", "plain")}
    variants = [("checked", checked), ("plain", _plain)]
    for round_ in range(args.rounds):
        for name, fn in variants[::1 if round_ % 2 else -1]:  # alternate the order: no first-run bias
            embeddings.checked_lookup = fn
            start = time.perf_counter()
            model(inputs, training=False)["last_hidden_state"].numpy()
            times[("eager", name)].append(time.perf_counter() - start)
            start = time.perf_counter()
            graphs[name](inputs).numpy()
            times[("graph", name)].append(time.perf_counter() - start)
    embeddings.checked_lookup = checked
    table = tf.constant(model.embeddings.word_embeddings.embeddings.numpy())
    lookup = {name: tf.function(lambda x, fn=fn: fn(lambda i: tf.gather(table, i), x, 30522)) for name, fn in variants}
    ids_tensor = tf.constant(ids)
    for name in lookup:
        lookup[name](ids_tensor)
    for round_ in range(args.rounds * 20):
        for name, _ in variants[::1 if round_ % 2 else -1]:
            start = time.perf_counter()
            lookup[name](ids_tensor).numpy()
            times.setdefault(("graph lookup", name), []).append(time.perf_counter() - start)
            fn = dict(variants)[name]
            start = time.perf_counter()
            fn(lambda i: tf.gather(table, i), ids_tensor, 30522).numpy()
            times.setdefault(("eager lookup", name), []).append(time.perf_counter() - start)
    for mode in ("eager", "graph", "eager lookup", "graph lookup"):
        with_check, without = (statistics.median(times[(mode, n)]) for n in ("checked", "plain"))
        print(f"{mode}: forward {without * 1e3:.1f} ms without the check, {with_check * 1e3:.1f} ms with it "
              f"({(with_check / without - 1) * 100:+.1f}%, {(with_check - without) * 1e3:+.2f} ms), "
              f"batch {args.batch} x {args.seq_len}")


if __name__ == "__main__":
    main()
