"""`PreTrainedModel`: what every tfmodels architecture shares.

A model is a `keras.Model` whose constructor takes the Hugging Face config
fields by name. This base adds:

- the config: `model.config` holds the Hugging Face fields (written to
  `config.json`), fields it does not use are kept in `model.extra_config` and
  written back unchanged;
- input handling: dicts or keyword arguments with Hugging Face names, integer
  dtype checks, clear errors for unknown names;
- the task loss: `compile()` without `loss` trains on the head's standard loss
  (`labels` inside the input dict, or as `y`);
- `from_pretrained` / `save_pretrained` / `from_config`, which delegate to
  `tfmodels.converters` (imported lazily: models never depend on converters
  at import time).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.models.input_checks import check_input_shapes, check_numeric_fields

# Inputs that may be float (masks are compared with 0; bbox and labels keep their dtype).
_FLOAT_INPUTS = ("attention_mask", "head_mask", "p_mask", "is_impossible")
_KERAS_KWARGS = ("name", "dtype", "trainable", "autocast")
# Hugging Face fields that describe the PyTorch side, not the architecture.
_NON_ARCHITECTURE_FIELDS = ("model_type", "architectures", "transformers_version", "torch_dtype", "dtype")


def split_keras_kwargs(kwargs):
    """Splits constructor kwargs into (Keras layer kwargs, everything else)."""
    keras_kwargs = {k: v for k, v in kwargs.items() if k in _KERAS_KWARGS}
    rest = {k: v for k, v in kwargs.items() if k not in _KERAS_KWARGS}
    return keras_kwargs, rest


def to_int_tensor(value, name):
    """Converts an input to an int32 tensor, refusing floats with a clear error.

    Raises:
        TypeError: if `value` is not an integer or boolean array/tensor.
    """
    tensor = tf.convert_to_tensor(value)
    if tensor.dtype.is_integer or tensor.dtype == tf.bool:
        return tf.cast(tensor, tf.int32)
    raise TypeError(
        f"`{name}` must hold integer token ids/flags (int32 or int64). "
        f"Received: {name} with dtype {tensor.dtype.name}. "
        "Pass the tokenizer's output unchanged, or cast with `np.asarray(x, dtype='int32')`."
    )


def scale_loss_for_replicas(loss):
    """Divides a per-replica mean loss by the number of replicas in sync.

    Under `tf.distribute` the gradients of every replica are summed, so each
    replica's loss must be its share of the global-batch mean: the mean over
    its own examples divided by `num_replicas_in_sync` (what Keras' own
    losses do). With one replica this is the identity; Keras' `fit()` undoes
    the scaling when it reports the loss.
    """
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if num_replicas > 1:
        loss = loss * ops.cast(1.0 / num_replicas, loss.dtype)
    return loss


class PreTrainedModel(keras.Model):
    """Base class of every tfmodels architecture and head.

    Class attributes set by subclasses:
        model_type: Hugging Face `model_type` (key of the Auto registries).
        base_model_prefix: attribute and checkpoint-key prefix of the backbone
            in head models (`"bert"`).
        input_names: call inputs the model accepts, besides labels.
        label_names: label inputs the head's loss uses.
        serving_outputs: outputs exported in a SavedModel's signature.
    """

    model_type = None
    base_model_prefix = None
    input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
    label_names = ()
    serving_outputs = ()

    def __init__(self, **kwargs):
        keras_kwargs, extra = split_keras_kwargs(kwargs)
        super().__init__(**keras_kwargs)
        self.config = {}
        self.extra_config = {k: v for k, v in extra.items() if k not in _NON_ARCHITECTURE_FIELDS}

    def _record_config(self, local_vars, exclude=()):
        """Stores constructor arguments (the caller's `locals()`) as config.

        Raises:
            TypeError: for a string where the field's default is a number
                (e.g. `hidden_size="abc"` in a hand-edited config.json).
        """
        skip = {"self", "kwargs", "__class__", *exclude}
        fields = {k: v for k, v in local_vars.items() if k not in skip}
        check_numeric_fields(type(self), fields)
        self.config.update(fields)

    @property
    def _default_save_signature(self):
        # Keras would trace `self(inputs)` with float inputs of the build shapes,
        # which is wrong for token ids; `tfmodels.export_saved_model` writes the
        # real serving signature.
        return None

    # -- config -----------------------------------------------------------------

    def hf_config(self):
        """The Hugging Face `config.json` content for this model (a dict)."""
        config = {**self.extra_config, **self.config}
        config["model_type"] = self.model_type
        config["architectures"] = [type(self).__name__]
        return config

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            **self.extra_config,
            **self.config,
            **self._constructor_only_config(),
        }

    def _constructor_only_config(self):
        """Constructor arguments that are not Hugging Face config fields."""
        return {}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Builds a model (random weights) from a config dict or a `config.json` path."""
        if isinstance(config, (str, bytes)) or hasattr(config, "__fspath__"):
            from tfmodels.converters.files import read_config

            config = read_config(config)
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, str) and "model_type" in config:
            config.pop("dtype")  # Hugging Face's torch dtype, not a Keras policy.
        return cls(**config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs):
        """Loads a Hugging Face checkpoint into this class.

        See `tfmodels.converters.load_pretrained` for the arguments and the
        errors raised.
        """
        from tfmodels.converters import load_pretrained

        return load_pretrained(cls, path_or_repo_id, **kwargs)

    def save_pretrained(self, directory, **kwargs):
        """Writes `config.json` + `model.safetensors` that `transformers` loads.

        See `tfmodels.converters.saver.save_pretrained`.
        """
        from tfmodels.converters import save_pretrained

        return save_pretrained(self, directory, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras `save_weights` (same arguments and file), without full-size copies of big variables.

        See `tfmodels.models.weights_io.save_weights`.
        """
        from tfmodels.models.weights_io import save_weights

        save_weights(self, super().save_weights, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    # -- inputs -----------------------------------------------------------------

    def __call__(self, inputs=None, *args, **kwargs):
        """Accepts Hugging Face style keyword inputs: `model(input_ids=..., attention_mask=...)`.

        Keyword arguments named like inputs are folded into one dict, so Keras
        always sees a single dict input.
        """
        names = set(self.input_names) | set(self.label_names)
        named = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        if named:
            if inputs is None:
                inputs = {}
            elif not isinstance(inputs, dict):
                inputs = {"input_ids": inputs}
            inputs = {**inputs, **{k: v for k, v in named.items() if v is not None}}
        return super().__call__(inputs, *args, **kwargs)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        """Small valid inputs used to build the model's variables."""
        return {"input_ids": np.ones((batch_size, seq_len), dtype="int32")}

    def build_from_dummy_inputs(self):
        """Creates all variables by calling the model once on `dummy_inputs()`."""
        if not self.built or not self.weights:
            self(self.dummy_inputs(), training=False)
        return self

    def _prepare_inputs(self, inputs, kwargs=None, cached=False):
        """Merges dict/tensor inputs and keyword inputs into a dict of int32 tensors.

        Args:
            inputs: dict (or mapping such as a `BatchEncoding`) or the `input_ids`.
            kwargs: more inputs by name.
            cached: the call attends over a KV cache, so `attention_mask` may
                be longer than `input_ids` (it covers every cache slot).

        Raises:
            TypeError: for unknown input names or non-integer ids.
            ValueError: if `input_ids` is missing, has the wrong rank or no
                tokens, or `attention_mask` does not match its shape.
        """
        if inputs is None:
            merged = {}
        elif isinstance(inputs, dict) or hasattr(inputs, "keys"):
            merged = dict(inputs)
        else:
            merged = {"input_ids": inputs}
        merged.update({k: v for k, v in (kwargs or {}).items() if v is not None})
        allowed = set(self.input_names) | set(self.label_names)
        unknown = sorted(set(merged) - allowed)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected inputs {unknown}. "
                f"Accepted inputs: {sorted(allowed)}."
            )
        if "input_ids" not in merged:
            raise ValueError(f"{type(self).__name__} needs `input_ids`. Received inputs: {sorted(merged)}.")
        prepared = {}
        for key, value in merged.items():
            if value is None:
                continue
            if key in self.label_names or key in _FLOAT_INPUTS:
                prepared[key] = tf.convert_to_tensor(value)
            else:
                prepared[key] = to_int_tensor(value, key)
        check_input_shapes(type(self).__name__, prepared, len(self.dummy_inputs()["input_ids"].shape), cached)
        return prepared

    # -- training ---------------------------------------------------------------

    def task_loss(self, labels, outputs):
        """The head's standard loss. `labels` is a dict keyed by `label_names`."""
        raise NotImplementedError(f"{type(self).__name__} has no task loss; pass `loss=` to compile().")

    def _labels_from(self, x, y):
        if y is not None:
            if isinstance(y, dict):
                return y
            if len(self.label_names) != 1:
                raise ValueError(
                    f"{type(self).__name__} needs labels {list(self.label_names)}; pass them as a dict `y`."
                )
            return {self.label_names[0]: y}
        if isinstance(x, dict):
            labels = {k: x[k] for k in self.label_names if k in x}
            if labels:
                return labels
        return None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._compile_loss is not None:
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        labels = self._labels_from(x, y)
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} was compiled without a loss, so it trains on its standard "
                f"loss, which needs labels {list(self.label_names)} in the input dict or as `y`."
            )
        loss = self.task_loss(labels, y_pred)
        if self.losses:
            loss = loss + ops.cast(ops.sum(self.losses), loss.dtype)
        return scale_loss_for_replicas(loss)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Builds compile state from one replica's batch under a strategy.

        Keras 3's TF trainer gets the shapes of the first distributed batch by
        `strategy.reduce("MEAN", batch)`, which fails for dict batches under
        `MultiWorkerMirroredStrategy` (and would average token ids); the
        first local replica's batch gives the same shapes without a reduce.
        """
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None or iterator is None or data_batch is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, data_iterator in iterator:
            data_batch = next(data_iterator)
            break
        data_batch = tf.nest.map_structure(
            lambda v: strategy.experimental_local_results(v)[0]
            if isinstance(v, tf.distribute.DistributedValues) else v,
            data_batch,
        )
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        results = self._task_metrics(x, y, y_pred, sample_weight)
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces multi-worker logs with `strategy.reduce("MEAN", v, axis=0)`, which fails on
            # scalars (tensorflow/tensorflow#72388). Metric variables are summed over replicas already, so
            # every replica holds the same value and a (1,)-shaped copy reduces to it.
            results = {k: ops.reshape(v, (1,)) if len(getattr(v, "shape", (0,))) == 0 else v
                       for k, v in results.items()}
        return results

    def _task_metrics(self, x, y, y_pred, sample_weight=None):
        labels = self._labels_from(x, y)
        if "logits" in y_pred and labels is not None and len(labels) == 1:
            label = next(iter(labels.values()))
            valid = ops.not_equal(label, -100)
            weights = ops.cast(valid, "float32")
            if sample_weight is not None:
                weights = weights * ops.cast(sample_weight, "float32")
            label = ops.where(valid, label, ops.zeros_like(label))
            return super().compute_metrics(x, label, y_pred["logits"], weights)
        return super().compute_metrics(x, y, y_pred, sample_weight)


def stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions):
    """Adds `hidden_states` / `attentions` tuples to an output dict when asked for."""
    if output_hidden_states:
        outputs["hidden_states"] = tuple(hidden_states)
    if output_attentions:
        outputs["attentions"] = tuple(attentions)
    return outputs


def run_encoder_layers(layers, x, output_attentions=False, training=None, after_layer=None, **layer_kwargs):
    """Runs encoder blocks in order, collecting hidden states and attention probabilities.

    Args:
        layers: sequence of blocks called as `layer(x, return_attention_scores=..., training=..., **layer_kwargs)`.
        x: float tensor `(batch, seq_len, hidden)`, the embeddings.
        output_attentions: bool, blocks also return their probabilities.
        training: bool, enables dropout.
        after_layer: optional `fn(index, x) -> x` applied to each block's output
            (e.g. DeBERTa-v2's convolution branch after the first layer).
        **layer_kwargs: passed to every block (`attention_mask`, shared biases, ...).

    Returns:
        `(x, hidden_states, attentions)`: the last output, the list of the
        embeddings and every block's output, the list of probabilities.
    """
    hidden_states, attentions = [x], []
    for index, layer in enumerate(layers):
        x = layer(x, return_attention_scores=output_attentions, training=training, **layer_kwargs)
        if output_attentions:
            x, probs = x
            attentions.append(probs)
        if after_layer is not None:
            x = after_layer(index, x)
        hidden_states.append(x)
    return x, hidden_states, attentions

