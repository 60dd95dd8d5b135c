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
- token embeddings: `get_input_embeddings` / `set_input_embeddings` /
  `resize_token_embeddings` (`tfmodels.models.embeddings_api`);
- `from_pretrained` / `save_pretrained` / `from_config`, which delegate to
  `tfmodels.converters` (imported lazily: models never depend on converters
  at import time).
"""

import keras
import numpy as np
import tensorflow as tf

from tfmodels.layers.block_stack import run_block_stack
from tfmodels.models.config import PretrainedConfig
from tfmodels.models.embeddings_api import EmbeddingsMixin
from tfmodels.models.input_checks import check_input_shapes, check_numeric_fields
from tfmodels.models.keras_data import KerasDataMixin
from tfmodels.models.outputs import ModelOutput, as_model_output
from tfmodels.models.task_training import TaskTrainingMixin

# Inputs that may be float (masks are compared with 0; bbox and labels keep their dtype).
# `encoder_hidden_states` `(batch, source_len, hidden)`: the encoder output a cross-attention decoder reads.
_FLOAT_INPUTS = ("attention_mask", "head_mask", "p_mask", "is_impossible", "encoder_hidden_states",
                 "encoder_attention_mask", "visual_attention_mask", "attention_mask_query", "attention_mask_doc")
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


_IMAGE_HINT = ("rescaled and normalised pixels, float32", "Preprocess the images first, e.g. with "
               "`tfmodels.processors.ImageProcessor.from_pretrained(path)(images)`, or convert with "
               "`np.asarray(x, dtype='float32')` after rescaling and normalising.")


def to_float_tensor(value, name, hint=None):
    """Converts a float input (`pixel_values`, `input_values`) to a float tensor, refusing integers with a clear error.

    Args:
        value: array or tensor.
        name: the input's name, for the message.
        hint: optional `(what the values are, how to get them)` for the message; images by default.

    Raises:
        TypeError: if `value` is not a floating-point array/tensor (e.g. raw uint8 pixels or int16 audio).
    """
    tensor = tf.convert_to_tensor(value)
    if tensor.dtype.is_floating:
        return tensor
    what, fix = hint or _IMAGE_HINT
    raise TypeError(
        f"`{name}` must be floating point ({what}). "
        f"Received: {name} with dtype {tensor.dtype.name}. {fix}"
    )


class PreTrainedModel(EmbeddingsMixin, KerasDataMixin, TaskTrainingMixin, keras.Model):
    """Base class of every tfmodels architecture and head.

    Class attributes set by subclasses:
        model_type: Hugging Face `model_type` (key of the Auto registries).
        base_model_prefix: attribute and checkpoint-key prefix of the backbone
            in head models (`"bert"`).
        input_names: call inputs the model accepts, besides labels.
        label_names: label inputs the head's loss uses.
        loss_input_names: other inputs the head's loss reads when they are
            given (ELECTRA's discriminator: `attention_mask`); `compute_loss`
            passes them to `task_loss` inside `labels`.
        serving_outputs: outputs exported in a SavedModel's signature.
        main_input_name: the input every call needs (`input_ids`; vision
            models: `pixel_values`), as in `transformers`.
        float_input_names: inputs that must be floating point (`pixel_values`);
            integer values are refused with a `TypeError`.
    """

    model_type = None
    base_model_prefix = None
    input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
    label_names = ()
    loss_input_names = ()
    serving_outputs = ()
    main_input_name = "input_ids"
    float_input_names = ()

    def __init_subclass__(cls, **kwargs):
        # Every tfmodels architecture class is serializable by name ("tfmodels>BertModel"), so
        # `keras.models.load_model` needs no `custom_objects`; registered here, once, for all of them.
        # Users' subclasses register themselves, as Keras asks, and cannot shadow ours.
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("tfmodels."):
            keras.saving.register_keras_serializable(package="tfmodels")(cls)

    @property
    def config(self):
        """The Hugging Face config: a `PretrainedConfig` (a dict of this class's own fields, with attribute
        access and `to_dict()` over the model's whole config; see `tfmodels.models.config`)."""
        return self.__dict__.get("_pretrained_config")

    @config.setter
    def config(self, fields):
        # Stored untracked: config fields hold no layers or variables for Keras to track.
        object.__setattr__(self, "_pretrained_config", PretrainedConfig(fields, owner=self))

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
        # Keras internal, checked against Keras 3.15.1 (no public hook exists): `tf.saved_model.save(model)`
        # would trace `self(inputs)` with float inputs of the build shapes, which is wrong for token ids;
        # `tfmodels.export_saved_model` and `model.export()` write the real int32 serving signature.
        return None

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras `export()`, with int32 token-id inputs by default.

        Keras would infer float inputs from the build shapes. Without an
        `input_signature`, the signature is a dict of int32 `(batch, seq_len)`
        specs with dynamic dimensions (`tfmodels.export.saved_model.serving_input_specs`).
        `tfmodels.export_saved_model` writes a SavedModel with the task and
        text signatures too.
        """
        if input_signature is None:
            from tfmodels.export.saved_model import serving_input_specs

            input_signature = [serving_input_specs(self)]
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

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
        """Builds a model (random weights) from a config dict, a `config.json` path or a config object.

        Accepts what `tfmodels.converters.files.config_as_dict` does, e.g. a
        `transformers.BertConfig`; Keras calls it with `get_config()`.
        """
        from tfmodels.converters.files import config_as_dict

        config = config_as_dict(config)
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
        """Writes `config.json` + `model.safetensors` (or shards + index past `max_shard_size`) that `transformers` loads.

        See `tfmodels.converters.saver.save_pretrained` (`max_shard_size`, default `"50GB"`).
        """
        from tfmodels.converters import save_pretrained

        return save_pretrained(self, directory, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras `save_weights` (same arguments and file), without full-size copies of big variables.

        See `tfmodels.models.weights_io.save_weights`.
        """
        from tfmodels.models.weights_io import save_weights

        save_weights(self, super().save_weights, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def use_packed_tokens(self, enabled=True):
        """Runs the encoder's position-wise layers on the real tokens of a padded batch only.

        With packing on, a call with a `(batch, seq_len)` `attention_mask`
        gathers the real tokens into one row before the blocks: the
        query/key/value and output projections, the feed-forward, norms and
        residuals skip the padding, and only the attention core sees the
        padded `(batch, seq_len)` layout (`tfmodels.layers.packing`). On a
        batch with a quarter of padding that removes about a quarter of the
        encoder's FLOPs (`benchmarks/encoder_inference.py` prints the gain).

        What changes for the caller: outputs at real positions are the same
        (float32: to rounding, tested against `transformers` in
        `tests/test_packed_tokens.py`); outputs at padded positions
        (`last_hidden_state`, `hidden_states`) are zeros instead of the states
        the reference computes for padding tokens, so losses and poolings
        that read only real tokens (every head's loss, mean pooling with the
        mask, `pooler_output` from the first token) are unaffected; in
        `attentions`, the rows of padded queries are not the reference's
        either (each attends as a copy of another token's query). The
        number of real tokens is data-dependent: packing pays eagerly and in
        `tf.function` graphs; under `jit_compile=True` it compiles, but XLA
        sizes the token count by its upper bound, so nothing is saved there.
        A call without `attention_mask` runs unpacked. The setting belongs to
        the Python object: `.keras` files and `save_pretrained` do not store
        it, so call it again after loading.

        Args:
            enabled: bool.

        Returns:
            `self`, for chaining (`Model.from_pretrained(path).use_packed_tokens()`).

        Raises:
            ValueError: if no backbone of this model supports packing (decoders,
                relative-position or sparse attention blocks and other
                architectures whose blocks are not plain
                `TransformerEncoderBlock`s; the message says why).
        """
        backbones = [layer for layer in self._flatten_layers(include_self=True)
                     if hasattr(layer, "packed_tokens_unsupported")]
        reasons = [reason for reason in (b.packed_tokens_unsupported() for b in backbones) if reason]
        if enabled and (not backbones or reasons):
            why = reasons[0] if reasons else "it has no encoder backbone that packs (tfmodels.models.encoder)"
            raise ValueError(f"{type(self).__name__} cannot run packed tokens: {why}.")
        for backbone in backbones:
            backbone.packed_tokens = bool(enabled)
        return self

    # -- inputs -----------------------------------------------------------------

    def __call__(self, inputs=None, *args, **kwargs):
        """Accepts Hugging Face style keyword inputs: `model(input_ids=..., attention_mask=...)`.

        Keyword arguments named like inputs are folded into one dict, so Keras
        always sees a single dict input. The outputs are a `ModelOutput` (a
        dict with attribute access: `outputs.logits`); `return_dict=False`
        returns its values as a tuple instead, in field order, as `transformers` does.
        """
        return self._call_with_named_inputs(inputs, *args, **kwargs)

    # Plain Python over the input structure, kept out of autograph: in a user's `tf.function`, autograph
    # rewrote the source of this method and of what it calls (input and output structure helpers) on every
    # trace, 0.5 s of a 6-layer BERT's 1.7 s trace. A method of its own because autograph converts a callable
    # object's `__call__` from its unwrapped source, decorator or not. Keras layers' `call`s are not converted
    # either way.
    @tf.autograph.experimental.do_not_convert
    def _call_with_named_inputs(self, inputs=None, *args, **kwargs):
        return_dict = kwargs.pop("return_dict", None)
        names = set(self.input_names) | set(self.label_names)
        named = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        if named:
            if inputs is None:
                inputs = {}
            elif not isinstance(inputs, dict):
                inputs = {"input_ids": inputs}
            inputs = {**inputs, **{k: v for k, v in named.items() if v is not None}}
        if not self.built and tf.executing_eagerly():
            self._build_in_the_eager_call()
        outputs = as_model_output(super().__call__(inputs, *args, **kwargs))
        if return_dict is False and isinstance(outputs, ModelOutput):
            return outputs.to_tuple()
        return outputs

    def dummy_inputs(self, batch_size=1, seq_len=4):
        """Small valid inputs used to build the model's variables."""
        return {"input_ids": np.ones((batch_size, seq_len), dtype="int32")}

    def build_from_dummy_inputs(self):
        """Creates all variables by calling the model once on `dummy_inputs()`.

        Run eagerly (as every first eager call of a tfmodels model), that
        one call creates every variable. Before an eager call, Keras would
        first trace the whole model symbolically to build the layers that
        have no `build()` of their own, and that trace costs far more than the
        call (a 2-layer BERT: 1.5 s against 0.3 s in all). Those layers hold
        no variables themselves (their sublayers do, and build in the call),
        so they are marked built instead; the variables, their order and
        their paths are the same.
        """
        if not self.built or not self.weights:
            self(self.dummy_inputs(), training=False)
        return self

    def _build_in_the_eager_call(self):
        """Marks the layers without a `build()` of their own built, so that an
        eager first call creates the variables without Keras' symbolic pre-trace
        (see `build_from_dummy_inputs`)."""
        for layer in self._flatten_layers(include_self=True):
            if not layer.built and getattr(layer.build, "_is_default", False):  # Keras' `Layer.build`
                layer.built = True

    def get_build_config(self):
        """Keras saving hook: records that the model is built (its variables come from `dummy_inputs()`).

        Keras' default records the shapes of the first call and rebuilds by
        calling `build(shapes)`, which cannot make token-id inputs; without a
        build, `keras.models.load_model` would find no variables to fill.
        """
        return {"build_from_dummy_inputs": True} if self.built else None

    def build_from_config(self, config):
        """Keras loading hook: creates the variables before `load_model` fills them."""
        if config:
            self.build_from_dummy_inputs()

    def _merge_inputs(self, inputs, kwargs=None):
        """Dict/tensor `inputs` and keyword `kwargs` as one dict (a non-dict `inputs` is the `input_ids`).

        Raises:
            TypeError: for input names outside `input_names` and `label_names`.
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
        return merged

    def _prepare_inputs(self, inputs, kwargs=None, cached=False):
        """Merges dict/tensor inputs and keyword inputs into a dict of int32 tensors.

        Args:
            inputs: dict (or mapping such as a `BatchEncoding`) or the `input_ids`.
            kwargs: more inputs by name.
            cached: the call attends over a KV cache, so `attention_mask` may
                be longer than `input_ids` (it covers every cache slot).

        Raises:
            TypeError: for unknown input names, non-integer ids or
                non-float `float_input_names`.
            ValueError: if `main_input_name` (`input_ids`) is missing, has the wrong rank or no
                tokens, or `attention_mask` does not match its shape.
        """
        merged = self._merge_inputs(inputs, kwargs)
        main = self.main_input_name
        if main not in merged:
            raise ValueError(f"{type(self).__name__} needs `{main}`. Received inputs: {sorted(merged)}.")
        prepared = {}
        for key, value in merged.items():
            if value is None:
                continue
            if key in self.float_input_names:
                prepared[key] = to_float_tensor(value, key, getattr(self, "float_input_hint", None))
            elif key in self.label_names or key in _FLOAT_INPUTS:
                prepared[key] = tf.convert_to_tensor(value)
            else:
                prepared[key] = to_int_tensor(value, key)
        if "input_ids" in prepared:
            check_input_shapes(type(self).__name__, prepared, len(self.dummy_inputs()["input_ids"].shape), cached)
        return prepared


def stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions,
                  cross_attentions=()):
    """Adds `hidden_states` / `attentions` (and, from decoder blocks run with encoder states,
    `cross_attentions`) tuples to an output dict when asked for."""
    if output_hidden_states:
        outputs["hidden_states"] = tuple(hidden_states)
    if output_attentions:
        outputs["attentions"] = tuple(attentions)
        if cross_attentions:
            outputs["cross_attentions"] = tuple(cross_attentions)
    return outputs


def run_encoder_layers(layers, x, output_attentions=False, training=None, after_layer=None, **layer_kwargs):
    """Runs encoder blocks in order: `tfmodels.layers.block_stack.run_block_stack` with shared keyword inputs.

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
    stack = run_block_stack(layers, x, call_kwargs=layer_kwargs, output_attentions=output_attentions,
                            training=training, after_layer=after_layer)
    return stack.x, stack.hidden_states, stack.attentions
