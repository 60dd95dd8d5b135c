"""`get_input_embeddings` / `set_input_embeddings` / `resize_token_embeddings`, as in `transformers`.

Keras variables have a fixed shape, so resizing gives the model's own
variables a new value of the new shape in place (the same `keras.Variable`
objects, so layer tracking, checkpoint paths and the tied LM head stay as
they are). Every variable with a vocabulary-sized dimension must be one this
module knows how to resize (the word embeddings, a `MaskedLMHead`'s bias and
untied decoder); otherwise resizing is refused with a `NotImplementedError`
naming the class and the variable, rather than leaving a head of the old size.

Reference: `transformers.PreTrainedModel.resize_token_embeddings`,
`_get_resized_embeddings`, `_get_resized_lm_head` and
`_init_added_embeddings_weights_with_mean` (mean resizing after
https://nlp.stanford.edu/~johnhew/vocab-expansion.html).
"""

import keras
import numpy as np
import tensorflow as tf

# `transformers` samples added rows from N(mean, 1e-9 * covariance) of the old rows.
_COVARIANCE_SCALE = 1e-9


def _resize_variable(variable, value):
    """Gives `variable` the value `value` of a possibly different shape, keeping the same variable object.

    Keras internal, checked against Keras 3.15.1 (no public API resizes a variable): the TensorFlow
    backend's `Variable` holds its `tf.Variable` in `_value` (made by `_initialize`) and its shape in `_shape`.
    """
    value = tf.cast(tf.constant(np.asarray(value)), variable.dtype)
    variable._shape = variable._validate_shape(tuple(value.shape))
    variable._initialize(value)


def _added_rows(old, count, mean_resizing, initializer_range, rng):
    """`(count, dim)` new rows as `transformers` initialises them (`old`: `(num_tokens, dim)` float)."""
    old = old.astype(np.float64)
    if not mean_resizing:
        return rng.normal(0.0, initializer_range, size=(count, old.shape[1]))
    mean = old.mean(axis=0)
    centered = old - mean
    covariance = _COVARIANCE_SCALE * (centered.T @ centered) / old.shape[0]
    try:
        cholesky = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:  # not positive definite: `transformers` uses the mean alone
        return np.repeat(mean[None], count, axis=0)
    return mean + rng.standard_normal((count, old.shape[1])) @ cholesky.T


def _added_bias(old, count, mean_resizing, rng):
    """`(count,)` new bias entries: N(mean, 1e-9 * std) of the old ones (zeros when `mean_resizing` is false)."""
    if not mean_resizing:
        return np.zeros((count,))
    old = old.astype(np.float64)
    std = old.std(ddof=1) if old.size > 1 else 0.0
    return rng.normal(old.mean(), _COVARIANCE_SCALE * std, size=(count,))


class EmbeddingsMixin:
    """Token-embedding access and resizing for `PreTrainedModel`."""

    def _embedding_owner(self):
        """The model that holds the word embeddings: the backbone of a head model, else the model."""
        prefix = getattr(self, "base_model_prefix", None)
        backbone = getattr(self, "backbone", None) if prefix else None
        return backbone if isinstance(backbone, keras.Model) and backbone is not self else self

    def num_parameters(self, only_trainable=False, exclude_embeddings=False):
        """The number of parameters, as `transformers.PreTrainedModel.num_parameters`.

        Args:
            only_trainable: count only the weights `fit()` updates (`trainable_weights`: a frozen
                layer's weights drop out); otherwise every trainable variable, frozen or not.
            exclude_embeddings: leave out the embedding tables (the reference's `nn.Embedding`
                modules: token, position and token-type tables, T5's relative position buckets).

        Returns:
            int. Weights that are not parameters in the reference (buffers such as BART's
            `final_logits_bias`, created non-trainable) are not counted; a table shared by
            two layers (a tied LM head) counts once. Keras marks a frozen layer's variables
            non-trainable, so the weights of sublayers with `trainable = False` count as
            parameters (a buffer inside such a layer would too).

        Raises:
            ValueError: if the model is not built yet.
        """
        from tfmodels.layers.position.absolute import PositionEmbedding
        from tfmodels.layers.position.relative_bias import RelativePositionBias

        if not self.built:
            raise ValueError(f"{type(self).__name__} is not built: call it on inputs or load it with "
                             "from_pretrained() before counting its parameters.")
        layers = list(self._flatten_layers(include_self=False, recursive=True))
        if only_trainable:
            weights = self.trainable_weights
        else:
            frozen = {id(w) for layer in layers if not layer.trainable for w in layer.weights}
            weights = [w for w in self.weights if w.trainable or id(w) in frozen]
        excluded = set()
        if exclude_embeddings:
            tables = (keras.layers.Embedding, PositionEmbedding, RelativePositionBias)
            excluded = {id(w) for layer in layers if isinstance(layer, tables) for w in layer.weights}
        unique = {id(w): w for w in weights if id(w) not in excluded}
        return int(sum(np.prod(w.shape) for w in unique.values()))

    def get_input_embeddings(self):
        """The token embedding layer: a `keras.layers.Embedding` with `embeddings` `(vocab_size, dim)`.

        Raises:
            NotImplementedError: for architectures whose token embeddings are
                not a `word_embeddings` (BERT family) or `wte` (GPT family) layer.
        """
        owner = self._embedding_owner()
        layer = getattr(getattr(owner, "embeddings", None), "word_embeddings", None) or getattr(owner, "wte", None)
        if not isinstance(layer, keras.layers.Embedding):
            raise NotImplementedError(
                f"{type(self).__name__}.get_input_embeddings() is not implemented: its token embeddings are not a "
                "`embeddings.word_embeddings` or `wte` Embedding layer."
            )
        return layer

    def set_input_embeddings(self, value):
        """Replaces the token embedding matrix with `value`'s.

        Unlike `transformers`, which swaps the module, the values are copied
        into the model's own embedding layer (its variable takes the new
        shape), so a tied LM head and checkpoint names keep working; the
        vocabulary size in the config follows. A tied or untied LM head is not
        resized here: use `resize_token_embeddings` to change the vocabulary.

        Args:
            value: a `keras.layers.Embedding` (built) or an array `(vocab_size, dim)`.

        Raises:
            ValueError: if `value`'s embedding dimension differs from the model's.
        """
        layer = self.get_input_embeddings()
        matrix = np.asarray(keras.ops.convert_to_numpy(
            value.embeddings if isinstance(value, keras.layers.Embedding) else value))
        if matrix.ndim != 2 or matrix.shape[1] != layer.output_dim:
            raise ValueError(
                f"set_input_embeddings needs a (vocab_size, {layer.output_dim}) matrix for {type(self).__name__}. "
                f"Received shape {matrix.shape}."
            )
        self._set_word_embeddings(layer, matrix)

    def _set_word_embeddings(self, layer, matrix):
        self.build_from_dummy_inputs()
        _resize_variable(layer.embeddings, matrix)
        layer.input_dim = matrix.shape[0]
        self._embedding_owner().config["vocab_size"] = int(matrix.shape[0])
        self._reset_compiled_functions()

    def _reset_compiled_functions(self):
        # Traced functions captured the old variables; the next call traces again.
        from tfmodels.generation.utils import forget_compiled

        for model in {id(m): m for m in (self, self._embedding_owner())}.values():
            forget_compiled(model)
            for name in ("predict_function", "train_function", "test_function"):
                if getattr(model, name, None) is not None:
                    setattr(model, name, None)

    def _vocab_variables(self):
        """`[(variable, axis, mean_init)]` besides the word embeddings that have one entry per token.

        `transformers` (5.x) gives a tied head's bias zeros for added tokens
        (`_adjust_bias` pads it when re-tying), and an untied head's decoder and
        bias the mean initialisation (`_get_resized_lm_head`).
        """
        head = getattr(self, "lm_head", None)
        found = []
        if head is not None and hasattr(head, "bias") and hasattr(head, "tie_word_embeddings"):  # `MaskedLMHead`
            if getattr(head, "extra_decoder", None) is not None:
                raise NotImplementedError(
                    f"resize_token_embeddings is not implemented for {type(self).__name__}: its LM head has an "
                    "`extra_decoder` (embeddings narrower than the hidden size)."
                )
            found.append((head.bias, 0, head.decoder is not None))
            if head.decoder is not None:
                found.append((head.decoder, 1, True))
        return found

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True, seed=None):
        """Resizes the token embeddings (and a masked-LM head's bias / untied decoder) to `new_num_tokens`.

        As `transformers.PreTrainedModel.resize_token_embeddings`: rows
        `[0, min(old, new))` are kept, rows are removed from the end when
        shrinking; added rows are drawn from N(mean, 1e-9 * covariance) of the
        old rows (`mean_resizing=True`; the mean alone when that covariance is
        not positive definite) or from N(0, `initializer_range`); added LM-head
        bias entries are zeros for a tied head and N(mean, 1e-9 * std) of the
        old bias for an untied one, as in `transformers` 5.x. The random
        draws are NumPy's (`seed`), not torch's, so added rows equal the
        reference's to about 1e-9 * std, not bit for bit. `config.vocab_size`
        is updated; tied LM heads (BERT masked LM, GPT-2) follow the
        embeddings. Traced predict/train functions are reset; call `compile()`
        again before `fit()` (the optimizer's slots have the old shape).

        Args:
            new_num_tokens: int or None (keep the size; with
                `pad_to_multiple_of`, pad the current size).
            pad_to_multiple_of: int or None; the size is rounded up to a multiple of it.
            mean_resizing: bool, see above.
            seed: int or None, for the added rows.

        Returns:
            The token embedding layer (`get_input_embeddings()`).

        Raises:
            ValueError: for a non-positive size or a non-integer `pad_to_multiple_of`.
            NotImplementedError: if the model has another vocabulary-sized
                variable this method does not know (an untied causal LM head, ...).
        """
        layer = self.get_input_embeddings()
        if pad_to_multiple_of is not None:
            if not isinstance(pad_to_multiple_of, int) or isinstance(pad_to_multiple_of, bool) or pad_to_multiple_of <= 0:
                raise ValueError(f"pad_to_multiple_of must be a positive int. Received: {pad_to_multiple_of!r}.")
            size = layer.input_dim if new_num_tokens is None else new_num_tokens
            new_num_tokens = -(-size // pad_to_multiple_of) * pad_to_multiple_of
        if new_num_tokens is None:
            return layer
        if not isinstance(new_num_tokens, (int, np.integer)) or isinstance(new_num_tokens, bool) or new_num_tokens <= 0:
            raise ValueError(f"new_num_tokens must be a positive int. Received: {new_num_tokens!r}.")
        self.build_from_dummy_inputs()
        old_num_tokens = layer.input_dim
        extra = self._vocab_variables()
        known = {id(layer.embeddings), *(id(v) for v, _, _ in extra)}
        for variable in self.weights:
            if id(variable) not in known and old_num_tokens in tuple(variable.shape):
                raise NotImplementedError(
                    f"resize_token_embeddings is not implemented for {type(self).__name__}: variable "
                    f"{variable.path} {tuple(variable.shape)} has a vocabulary-sized dimension it cannot resize."
                )
        if new_num_tokens == old_num_tokens:
            return layer
        rng = np.random.default_rng(seed)
        keep, added = min(old_num_tokens, new_num_tokens), max(0, new_num_tokens - old_num_tokens)
        initializer_range = self._embedding_owner().config.get("initializer_range", 0.02)

        def resized(matrix):  # rows are tokens
            new = matrix[:keep]
            if added:
                new = np.concatenate([new, _added_rows(matrix, added, mean_resizing, initializer_range, rng)])
            return new

        for variable, axis, mean_init in extra:
            old = np.asarray(variable.numpy())
            if old.ndim == 1:
                new_entries = _added_bias(old, added, mean_resizing and mean_init, rng)
                new = np.concatenate([old[:keep], new_entries])
            else:
                new = np.moveaxis(resized(np.moveaxis(old, axis, 0)), 0, axis)
            _resize_variable(variable, new)
        head = getattr(self, "lm_head", None)
        if extra and hasattr(head, "vocab_size"):
            head.vocab_size = new_num_tokens
        self._set_word_embeddings(layer, resized(np.asarray(layer.embeddings.numpy())))
        return layer
