"""Adaptive input embeddings and adaptive log-softmax (Transformer-XL).

The vocabulary is split by `cutoffs` into a frequent head and rarer tail
clusters; cluster `i` uses width `d_embed // div_val**i`, projected to/from
`d_proj`. Both layers compute every cluster densely and select with masks,
so shapes stay static (XLA) and nothing is gathered by data-dependent indices.

Size glossary: B batch, T sequence length, V vocabulary, P `d_proj`.

References:
    Baevski & Auli, "Adaptive Input Representations for Neural Language
    Modeling", ICLR 2019; Grave et al., "Efficient softmax approximation for
    GPUs", ICML 2017.
    Parity references: `transformers` (<= 4.35) `AdaptiveEmbedding`,
    `ProjectedAdaptiveLogSoftmax`.
"""

import math

import keras
from keras import ops

from tfmodels.layers.embeddings import checked_lookup


def _cluster_bounds(vocab_size, cutoffs):
    ends = [0] + list(cutoffs) + [vocab_size]
    return list(zip(ends[:-1], ends[1:]))


def _cluster_dims(d_embed, div_val, num_clusters):
    return [d_embed // (div_val**i) for i in range(num_clusters)] if div_val != 1 else [d_embed]


@keras.saving.register_keras_serializable(package="tfmodels")
class AdaptiveEmbedding(keras.layers.Layer):
    """Token ids `(B, T)` -> embeddings `(B, T, d_proj)`, scaled by `sqrt(d_proj)`.

    Args:
        vocab_size: int, `V`.
        d_embed: int, width of the head cluster's embeddings.
        d_proj: int, output width (the model width).
        cutoffs: list of ints, cluster boundaries (`[]`: one cluster).
        div_val: int, width divisor per cluster; `1` = one shared table
            (projected only when `d_embed != d_proj`).
        embeddings_initializer: initializer of the tables and projections.

    Variables: `emb_layers[i]` (`keras.layers.Embedding`), `emb_projs[i]`
    `(d_proj, d_emb_i)` (PyTorch layout).
    """

    def __init__(self, vocab_size, d_embed, d_proj, cutoffs=(), div_val=1, embeddings_initializer="uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.d_embed = d_embed
        self.d_proj = d_proj
        self.cutoffs = list(cutoffs)
        self.div_val = div_val
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.bounds = _cluster_bounds(vocab_size, self.cutoffs)
        dims = _cluster_dims(d_embed, div_val, len(self.bounds))
        tables = [(vocab_size, d_embed)] if div_val == 1 else [(r - l, d) for (l, r), d in zip(self.bounds, dims)]
        self.emb_layers = [
            keras.layers.Embedding(n, d, embeddings_initializer=self.embeddings_initializer, dtype=self.dtype_policy,
                                   name=f"emb_layers_{i}")
            for i, (n, d) in enumerate(tables)
        ]
        self._proj_dims = [d for _, d in tables] if (div_val != 1 or d_proj != d_embed) else []

    def build(self, input_shape):
        for layer in self.emb_layers:
            layer.build(input_shape)
        self.emb_projs = [
            self.add_weight(name=f"emb_projs_{i}", shape=(self.d_proj, d), initializer=self.embeddings_initializer)
            for i, d in enumerate(self._proj_dims)
        ]
        self.built = True

    def call(self, input_ids):
        # Ids outside [0, vocab_size) are refused before the lookup (see `checked_lookup`).
        return checked_lookup(self._lookup, input_ids, self.vocab_size)

    def _lookup(self, input_ids):
        if self.div_val == 1:
            x = self.emb_layers[0](input_ids)
            if self.emb_projs:
                x = ops.einsum("bte,pe->btp", x, ops.cast(self.emb_projs[0], x.dtype))
        else:
            x = None
            for (low, high), layer, proj in zip(self.bounds, self.emb_layers, self.emb_projs):
                inside = ops.logical_and(ops.greater_equal(input_ids, low), ops.less(input_ids, high))
                local = ops.where(inside, input_ids - low, ops.zeros_like(input_ids))
                part = ops.einsum("bte,pe->btp", layer(local), ops.cast(proj, self.compute_dtype))
                part = ops.where(inside[..., None], part, ops.zeros_like(part))
                x = part if x is None else x + part
        return x * ops.cast(math.sqrt(self.d_proj), x.dtype)

    def cluster_weights(self):
        """Per cluster `(embedding matrix, projection or None)` for tying the output layer."""
        if self.div_val == 1:
            proj = self.emb_projs[0] if self.emb_projs else None
            return [(self.emb_layers[0].embeddings, proj)]
        return [(layer.embeddings, proj) for layer, proj in zip(self.emb_layers, self.emb_projs)]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_proj)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "d_embed": self.d_embed, "d_proj": self.d_proj,
            "cutoffs": self.cutoffs, "div_val": self.div_val,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class AdaptiveLogSoftmax(keras.layers.Layer):
    """Hidden states `(B, T, d_proj)` -> log-probabilities `(B, T, V)` (float32).

    The head cluster scores the `cutoffs[0]` frequent tokens plus one logit
    per tail cluster; a tail token's log-probability is its cluster's head
    log-probability plus its log-probability within the cluster.

    Args:
        vocab_size, d_embed, d_proj, cutoffs, div_val: as `AdaptiveEmbedding`.
        tie_word_embeddings: bool, output weights are the input embeddings
            (passed at call time); otherwise own `out_weights`.
        tie_projs: list of bools per cluster, projection `i` is the input
            embedding's (div_val 1: the single one) instead of own `out_projs[i]`.
        kernel_initializer: initializer of untied weights.

    Call args:
        hidden_states: `(B, T, d_proj)`.
        embedding_weights: `AdaptiveEmbedding.cluster_weights()` when tying.
    """

    def __init__(self, vocab_size, d_embed, d_proj, cutoffs=(), div_val=1, tie_word_embeddings=True,
                 tie_projs=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.d_embed = d_embed
        self.d_proj = d_proj
        self.cutoffs = list(cutoffs)
        self.div_val = div_val
        self.tie_word_embeddings = tie_word_embeddings
        self.bounds = _cluster_bounds(vocab_size, self.cutoffs)
        self.tie_projs = list(tie_projs) if tie_projs is not None else [False] * len(self.bounds)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        weight = lambda name, shape, init=None: self.add_weight(  # noqa: E731
            name=name, shape=shape, initializer=init or self.kernel_initializer)
        dims = _cluster_dims(self.d_embed, self.div_val, len(self.bounds))
        tables = [(self.vocab_size, self.d_embed)] if self.div_val == 1 else [
            (r - l, d) for (l, r), d in zip(self.bounds, dims)]
        self.out_biases = [weight(f"out_biases_{i}", (n,), "zeros") for i, (n, _) in enumerate(tables)]
        self.out_weights = [] if self.tie_word_embeddings else [
            weight(f"out_weights_{i}", shape) for i, shape in enumerate(tables)]
        has_proj = self.div_val != 1 or self.d_proj != self.d_embed
        proj_dims = [dims[0] if self.div_val == 1 else dims[i] for i in range(len(self.bounds))]
        self.out_projs = [
            weight(f"out_projs_{i}", (self.d_proj, proj_dims[i])) if has_proj and not self._proj_tied(i) else None
            for i in range(len(self.bounds))
        ]
        self.num_clusters = len(self.bounds) - 1
        if self.num_clusters:
            self.cluster_weight = weight("cluster_weight", (self.num_clusters, self.d_embed))
            self.cluster_bias = weight("cluster_bias", (self.num_clusters,), "zeros")
        self.built = True

    def _proj_tied(self, i):
        return bool(self.tie_projs[i]) if i < len(self.tie_projs) else False

    def _cluster_params(self, embedding_weights):
        """Per cluster `(weight (n_i, d_i), bias (n_i,), proj (P, d_i) or None)`."""
        tied = embedding_weights or []
        params = []
        for i, (low, high) in enumerate(self.bounds):
            table = 0 if self.div_val == 1 else i
            weight = tied[table][0] if self.tie_word_embeddings else self.out_weights[table]
            bias = self.out_biases[table]
            if self.div_val == 1:
                weight, bias = weight[low:high], bias[low:high]
            proj = self.out_projs[i]
            if self._proj_tied(i) and (self.div_val != 1 or self.d_proj != self.d_embed):
                proj = tied[table][1]
            params.append((weight, bias, proj))
        return params

    @staticmethod
    def _logits(hidden, weight, bias, proj):
        if proj is not None:
            hidden = ops.einsum("btp,pe->bte", hidden, ops.cast(proj, hidden.dtype))
        return ops.einsum("bte,ve->btv", hidden, ops.cast(weight, hidden.dtype)) + ops.cast(bias, hidden.dtype)

    def call(self, hidden_states, embedding_weights=None):
        params = self._cluster_params(embedding_weights)
        if not self.num_clusters:
            return ops.log_softmax(ops.cast(self._logits(hidden_states, *params[0]), "float32"), axis=-1)
        weight, bias, proj = params[0]
        weight = ops.concatenate([ops.cast(weight, self.compute_dtype),
                                  ops.cast(self.cluster_weight, self.compute_dtype)], axis=0)
        bias = ops.concatenate([ops.cast(bias, self.compute_dtype), ops.cast(self.cluster_bias, self.compute_dtype)], 0)
        head = ops.log_softmax(ops.cast(self._logits(hidden_states, weight, bias, proj), "float32"), axis=-1)
        shortlist = self.bounds[0][1]
        parts = [head[..., :shortlist]]
        for i, (weight, bias, proj) in enumerate(params[1:], start=1):
            tail = ops.log_softmax(ops.cast(self._logits(hidden_states, weight, bias, proj), "float32"), axis=-1)
            parts.append(head[..., shortlist + i - 1: shortlist + i] + tail)
        return ops.concatenate(parts, axis=-1)  # (B, T, V)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.vocab_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "d_embed": self.d_embed, "d_proj": self.d_proj,
            "cutoffs": self.cutoffs, "div_val": self.div_val, "tie_word_embeddings": self.tie_word_embeddings,
            "tie_projs": self.tie_projs, "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
