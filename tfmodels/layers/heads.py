"""Task heads shared by the encoder architectures."""

import keras
from keras import ops

from tfmodels.layers.embeddings import logits_against_rows
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.activations import get_activation
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class Pooler(keras.layers.Layer):
    """`activation(dense(x[:, 0]))`: the first token's state, projected.

    Args:
        hidden_size: int, output width.
        activation: str, Hugging Face activation name (`"tanh"` for BERT).
        kernel_initializer: kernel initializer.
        use_dense: bool; `False` returns the first token's state unchanged
            (MobileBERT with `classifier_activation=False`).

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden_size)`.

    Returns:
        float tensor `(batch, hidden_size)`.
    """

    def __init__(self, hidden_size, activation="tanh", kernel_initializer="glorot_uniform", use_dense=True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.activation = activation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.use_dense = use_dense
        self._activation_fn = get_activation(activation)
        self.dense = None
        if use_dense:
            self.dense = keras.layers.Dense(
                hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy, name="dense",
            )

    def build(self, input_shape):
        if self.dense is not None:
            self.dense.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, hidden_states):
        first = hidden_states[:, 0]  # (batch, hidden_size)
        return first if self.dense is None else self._activation_fn(self.dense(first))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_size)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "activation": self.activation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "use_dense": self.use_dense,
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class MaskedLMHead(keras.layers.Layer):
    """Masked-LM head: dense + activation + LayerNorm, then vocabulary logits.

    With `transform=False` the head is only the (tied) projection plus bias,
    as in XLM's `pred_layer`.

    With `tie_word_embeddings=True` the projection onto the vocabulary uses
    the input embedding matrix passed at call time (no kernel of its own);
    the output bias is always the head's own.

    Args:
        vocab_size: int, number of output classes `V`.
        hidden_size: int, width of the transform (`embedding_size` for
            factorised embeddings).
        hidden_act: str, Hugging Face activation name of the transform.
        layer_norm_eps: float, LayerNorm epsilon.
        tie_word_embeddings: bool, project with the input embeddings.
        kernel_initializer: kernel initializer.
        transform: bool, apply dense + activation + LayerNorm before the
            projection (BERT); `False`: projection only (XLM).
        embedding_size: int or None; when it is narrower than `hidden_size`,
            the head owns `extra_decoder` `(hidden_size - embedding_size, V)`,
            stacked under the transposed embeddings (MobileBERT's
            `cls.predictions.dense`), or untied under its own `decoder`
            `(embedding_size, V)` (MobileBERT's untied `cls.predictions.decoder`).

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden)`.
        embedding_matrix: float tensor `(V, hidden_size)`; required when tied.

    Returns:
        float tensor `(batch, seq_len, V)` of logits.

    References:
        Parity reference: `transformers.models.bert.modeling_bert.BertLMPredictionHead`.
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        tie_word_embeddings=True,
        kernel_initializer="glorot_uniform",
        transform=True,
        embedding_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transform = transform
        self.embedding_size = embedding_size
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.tie_word_embeddings = tie_word_embeddings
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(hidden_act)
        self.dense = self.layer_norm = None
        if transform:
            self.dense = keras.layers.Dense(
                hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy, name="dense",
            )
            self.layer_norm = LayerNormalization(
                epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
            )

    def build(self, input_shape):
        if self.transform:
            self.dense.build(input_shape)
            self.layer_norm.build((*input_shape[:-1], self.hidden_size))
        split = bool(self.embedding_size) and self.embedding_size < self.hidden_size
        self.decoder = None
        if not self.tie_word_embeddings:
            self.decoder = self.add_weight(
                shape=(self.embedding_size if split else self.hidden_size, self.vocab_size), name="decoder",
                initializer=clone_initializer(self.kernel_initializer),
            )
        self.extra_decoder = None
        if split:
            self.extra_decoder = self.add_weight(
                shape=(self.hidden_size - self.embedding_size, self.vocab_size), name="extra_decoder",
                initializer=clone_initializer(self.kernel_initializer),
            )
        self.bias = self.add_weight(shape=(self.vocab_size,), name="bias", initializer="zeros")
        self.built = True

    def call(self, hidden_states, embedding_matrix=None):
        x = hidden_states
        if self.transform:
            x = self.layer_norm(self._activation_fn(self.dense(x)))
        # MobileBERT: the first E features meet the table (or the decoder), the rest their own (hidden - E, V) rows.
        rest = None
        if self.extra_decoder is not None:
            x, rest = x[..., :self.embedding_size], x[..., self.embedding_size:]
        if self.tie_word_embeddings:
            if embedding_matrix is None:
                raise ValueError("MaskedLMHead(tie_word_embeddings=True) needs `embedding_matrix`.")
            logits = logits_against_rows(x, ops.cast(embedding_matrix, x.dtype))
        else:
            logits = ops.matmul(x, ops.cast(self.decoder, x.dtype))
        if rest is not None:
            logits = logits + ops.matmul(rest, ops.cast(self.extra_decoder, rest.dtype))
        return logits + ops.cast(self.bias, logits.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.vocab_size)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "hidden_act": self.hidden_act,
            "layer_norm_eps": self.layer_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "transform": self.transform,
            "embedding_size": self.embedding_size,
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class SequenceSummary(keras.layers.Layer):
    """One vector per sequence: pick or average tokens, then an optional projection.

    The pooler of XLM-style models (XLM, FlauBERT, XLNet, GPT double heads)::

        last_dropout(activation(summary(first_dropout(pick(hidden_states)))))

    Args:
        summary_type: `"first"` (token 0), `"last"` (token -1), `"mean"`
            (over all positions, padding included, as in `transformers`) or
            `"cls_index"` (token at `cls_index`, default the last one).
        num_outputs: int or None, width of the projection `summary`;
            `None` for no projection.
        activation: Hugging Face activation name or None.
        first_dropout: float, dropout before the projection.
        last_dropout: float, dropout after the activation.
        kernel_initializer: kernel initializer of the projection.
        **kwargs: base layer arguments.

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden_size)`.
        cls_index: optional int tensor `(batch,)` for `"cls_index"`.
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, num_outputs or hidden_size)`.

    References:
        Parity reference: `transformers.models.xlm.modeling_xlm.XLMSequenceSummary`.
    """

    SUMMARY_TYPES = ("first", "last", "mean", "cls_index")

    def __init__(self, summary_type="first", num_outputs=None, activation=None, first_dropout=0.0,
                 last_dropout=0.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if summary_type not in self.SUMMARY_TYPES:
            raise ValueError(
                f"summary_type must be one of {self.SUMMARY_TYPES}. Received: summary_type={summary_type!r}"
            )
        self.summary_type = summary_type
        self.num_outputs = num_outputs
        self.activation = activation
        self.first_dropout = first_dropout
        self.last_dropout = last_dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation) if activation else None
        self.summary = None
        if num_outputs:
            self.summary = keras.layers.Dense(
                num_outputs, kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy, name="summary",
            )
        self.first_dropout_layer = keras.layers.Dropout(first_dropout, dtype=self.dtype_policy)
        self.last_dropout_layer = keras.layers.Dropout(last_dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        if self.summary is not None:
            self.summary.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, hidden_states, cls_index=None, training=None):
        if self.summary_type == "first":
            x = hidden_states[:, 0]
        elif self.summary_type == "last":
            x = hidden_states[:, -1]
        elif self.summary_type == "mean":
            x = ops.mean(hidden_states, axis=1)
        else:
            if cls_index is None:
                x = hidden_states[:, -1]
            else:
                x = ops.take_along_axis(hidden_states, ops.cast(cls_index, "int32")[:, None, None], axis=1)[:, 0]
        x = self.first_dropout_layer(x, training=training)  # (batch, hidden_size)
        if self.summary is not None:
            x = self.summary(x)
        if self._activation_fn is not None:
            x = self._activation_fn(x)
        return self.last_dropout_layer(x, training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_outputs or input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "summary_type": self.summary_type,
            "num_outputs": self.num_outputs,
            "activation": self.activation,
            "first_dropout": self.first_dropout,
            "last_dropout": self.last_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class ClassificationHead(keras.layers.Layer):
    """`out_proj(dropout(activation(dense(dropout(x)))))` on the first token or on every token.

    The two-layer classifier several encoders put on top of the hidden
    states instead of BERT's pooler + linear layer: RoBERTa's
    `RobertaClassificationHead` (tanh), ELECTRA's classification head and
    sequence summary (gelu) and discriminator (`pool_first=False`,
    no dropout), DistilBERT's `pre_classifier` + `classifier` (relu,
    `input_dropout=False`).

    Args:
        hidden_size: int, width of the inner dense layer.
        num_outputs: int, output width (labels).
        activation: str, Hugging Face activation name of the inner layer.
        dropout: float, dropout rate.
        input_dropout: bool, also apply dropout before the inner dense layer.
        pool_first: bool, classify the first token only (`x[:, 0]`);
            otherwise every position.
        kernel_initializer: kernel initializer.
        **kwargs: base layer arguments.

    Call args:
        hidden_states: float tensor `(batch, seq_len, hidden)`.
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, num_outputs)` (`pool_first=True`) or
        `(batch, seq_len, num_outputs)`.

    References:
        Parity references: `transformers.RobertaForSequenceClassification`,
        `ElectraForSequenceClassification`, `ElectraForPreTraining`,
        `ElectraForMultipleChoice`, `DistilBertForSequenceClassification`.
    """

    def __init__(self, hidden_size, num_outputs, activation="tanh", dropout=0.0, input_dropout=True,
                 pool_first=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_outputs = num_outputs
        self.activation = activation
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.pool_first = pool_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation)
        self.dense = keras.layers.Dense(
            hidden_size, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="dense",
        )
        self.out_proj = keras.layers.Dense(
            num_outputs, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="out_proj",
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        shape = (input_shape[0], input_shape[-1]) if self.pool_first else tuple(input_shape)
        self.dense.build(shape)
        self.out_proj.build((*shape[:-1], self.hidden_size))
        self.built = True

    def call(self, hidden_states, training=None):
        x = hidden_states[:, 0] if self.pool_first else hidden_states
        if self.input_dropout:
            x = self.dropout_layer(x, training=training)
        x = self._activation_fn(self.dense(x))
        return self.out_proj(self.dropout_layer(x, training=training))

    def compute_output_shape(self, input_shape):
        if self.pool_first:
            return (input_shape[0], self.num_outputs)
        return (*input_shape[:-1], self.num_outputs)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_outputs": self.num_outputs,
            "activation": self.activation,
            "dropout": self.dropout,
            "input_dropout": self.input_dropout,
            "pool_first": self.pool_first,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
