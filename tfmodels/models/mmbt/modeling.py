"""MMBT: the supervised multimodal bitransformer, a BERT over image-encoder embeddings and text.

References:
    Kiela et al., "Supervised Multimodal Bitransformers for Classifying Images
    and Text", 2019. Parity reference:
    `transformers.models.deprecated.mmbt.modeling_mmbt` (PyTorch, transformers
    4.46.3; removed in transformers 5).
"""

import keras
from keras import ops

from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.heads import SequenceClassificationMixin

INPUT_NAMES = ("input_modal", "input_ids", "modal_start_tokens", "modal_end_tokens", "attention_mask",
               "token_type_ids", "modal_token_type_ids", "position_ids", "modal_position_ids")


class MMBTModel(BertModel):
    """A BERT whose input is `[modality embeddings] + [text embeddings]`.

    The modality sequence is `encoder(input_modal)` `(batch, M, modal_hidden_size)`
    projected to `hidden_size` (`proj_embeddings`), optionally between the
    word embeddings of `modal_start_tokens` (e.g. [CLS]) and
    `modal_end_tokens` (e.g. [SEP]); it gets the BERT's position
    (`arange` from 0) and token-type (0) embeddings and its LayerNorm. The
    text gets the usual BERT embeddings with token type 1 by default. Both run
    through the BERT encoder, the modality always attended to, and the
    pooler reads the first position (the start token when given).

    Args:
        encoder: the image (or other modality) encoder: any Keras layer or
            model mapping `input_modal` to `(batch, M, modal_hidden_size)`, as
            the reference takes any `nn.Module` (required). Its variables
            are the model's (trained with it). To build the model before its
            first call the input shape must be known: a functional model's
            `inputs`, or an `input_modal_shape` attribute (shape without the
            batch axis). Optionally `weight_rows()`: a list of
            `tfmodels.converters.mapping.Param` naming its checkpoint keys
            (relative to `modal_encoder.encoder.`) and variables (relative to
            the encoder), so `from_pretrained` / `save_pretrained` read and
            write them; without it those keys are reported as unused and the
            encoder keeps its own weights.
        modal_hidden_size: int, width of the encoder's output.
        the `BertModel` fields; **kwargs: other Hugging Face fields and Keras arguments.

    Call inputs (dict or keywords):
        input_modal: float, what `encoder` takes (images: `(batch, channels, height, width)`).
        input_ids: int `(batch, seq_len)`.
        modal_start_tokens, modal_end_tokens: optional int `(batch,)`.
        attention_mask: optional 0/1 `(batch, seq_len)` over the text.
        token_type_ids, position_ids: optional int `(batch, seq_len)` (text; types default to 1).
        modal_token_type_ids, modal_position_ids: optional int `(batch, modal_len)`,
            `modal_len = M` plus one per start / end token.

    Returns:
        dict with `last_hidden_state` `(batch, modal_len + seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` and, when asked, `hidden_states`
        / `attentions` over the whole sequence.

    Raises:
        ValueError: no `encoder`, missing `input_modal`, an encoder output that
            is not `(batch, M, modal_hidden_size)`, or a non-2-D `attention_mask`.
    """

    model_type = "mmbt"
    input_names = INPUT_NAMES
    float_input_names = ("input_modal",)
    decoder_capable = False

    def __init__(self, encoder=None, modal_hidden_size=2048, **kwargs):
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if not isinstance(encoder, keras.layers.Layer):
            raise ValueError(
                "MMBTModel needs `encoder`: a Keras layer or model mapping `input_modal` to "
                f"(batch, tokens, modal_hidden_size), e.g. MMBTModel.from_pretrained(path, encoder=my_encoder). "
                f"Received: encoder={type(encoder).__name__}."
            )
        super().__init__(**kwargs)
        self.config["modal_hidden_size"] = modal_hidden_size
        self.modal_encoder = encoder
        self.proj_embeddings = keras.layers.Dense(
            self.arch["hidden_size"], kernel_initializer=hf_initializer(self.arch["initializer_range"]),
            dtype=self.dtype_policy, name="proj_embeddings")

    def _constructor_only_config(self):
        encoder = keras.saving.serialize_keras_object(self.modal_encoder)
        # Without its build config the deserialised encoder is built inside this model, as the original
        # was (same variable paths), instead of on its own at deserialisation.
        encoder.pop("build_config", None)
        return {**super()._constructor_only_config(), "encoder": encoder}

    def dummy_inputs(self, batch_size=1, seq_len=4):
        import numpy as np

        shape = getattr(self.modal_encoder, "input_modal_shape", None)
        if shape is None and getattr(self.modal_encoder, "inputs", None):
            shape = tuple(self.modal_encoder.inputs[0].shape[1:])
        if shape is None or None in tuple(shape):
            raise ValueError(
                "MMBTModel cannot build its variables without the shape of `input_modal`: give the encoder an "
                "`input_modal_shape` attribute (the shape without the batch axis) or use a functional Keras "
                f"model with a fixed input shape. Received: {type(self.modal_encoder).__name__} with shape {shape}."
            )
        return {**super().dummy_inputs(batch_size, seq_len),
                "input_modal": np.zeros((batch_size, *shape), dtype="float32")}

    def _modal_embeddings(self, inputs, training):
        if "input_modal" not in inputs:
            raise ValueError(f"{type(self).__name__} needs `input_modal` (what its encoder takes). "
                             f"Received inputs: {sorted(inputs)}.")
        features = self.modal_encoder(inputs["input_modal"], training=training)
        width = self.config["modal_hidden_size"]
        if len(features.shape) != 3 or features.shape[-1] not in (None, width):
            raise ValueError(f"MMBTModel's encoder must return (batch, tokens, modal_hidden_size={width}). "
                             f"Received: encoder output with shape {tuple(features.shape)}.")
        parts = [self.proj_embeddings(features)]  # (batch, M, hidden_size)
        word_embeddings = self.embeddings.word_embeddings
        if inputs.get("modal_start_tokens") is not None:
            parts.insert(0, word_embeddings(inputs["modal_start_tokens"])[:, None])
        if inputs.get("modal_end_tokens") is not None:
            parts.append(word_embeddings(inputs["modal_end_tokens"])[:, None])
        tokens = ops.concatenate([ops.cast(p, self.compute_dtype) for p in parts], axis=1)  # (batch, modal_len, D)
        shape_ids = ops.zeros(ops.shape(tokens)[:2], dtype="int32")
        return self.embeddings(shape_ids, token_type_ids=inputs.get("modal_token_type_ids"),
                               position_ids=inputs.get("modal_position_ids"), inputs_embeds=tokens,
                               training=training)

    def _embed(self, inputs, training):
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = ops.ones_like(inputs["input_ids"])
        text = self.embeddings(inputs["input_ids"], token_type_ids=token_type_ids,
                               position_ids=inputs.get("position_ids"), training=training)
        return ops.concatenate([self._modal_embeddings(inputs, training), text], axis=1)

    def _self_attention_mask(self, attention_mask, x, past_key_values=None, cache_update_index=None):
        if attention_mask is not None:
            if len(attention_mask.shape) != 2:
                raise ValueError("MMBTModel takes a 2-D text `attention_mask` (batch, seq_len). "
                                 f"Received: attention_mask with shape {tuple(attention_mask.shape)}.")
            modal_len = ops.shape(x)[1] - ops.shape(attention_mask)[1]
            modal = ops.ones((ops.shape(attention_mask)[0], modal_len), dtype=attention_mask.dtype)
            attention_mask = ops.concatenate([modal, attention_mask], axis=1)  # the modality is always attended
        return super()._self_attention_mask(attention_mask, x, past_key_values, cache_update_index)


class MMBTPreTrainedModel(PreTrainedModel):
    """Base of the MMBT heads: the backbone lives in `self.mmbt`."""

    model_type = "mmbt"
    base_model_prefix = "mmbt"
    backbone_class = MMBTModel
    input_names = INPUT_NAMES
    float_input_names = MMBTModel.float_input_names


class MMBTForClassification(SequenceClassificationMixin, MMBTPreTrainedModel):
    """MMBT with dropout + a linear classifier on the pooled output.

    Args: the `MMBTModel` arguments (`encoder` included) plus `num_labels` /
    `id2label` / `label2id`, `problem_type` and `classifier_dropout`.

    Returns:
        dict with `logits` `(batch, num_labels)`, `loss` when `labels` `(batch,)`
        is given (cross-entropy; mean squared error for `num_labels=1`), and
        `hidden_states` / `attentions` when asked.

    References: `transformers.models.deprecated.mmbt.MMBTForClassification`.
    """

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return self.backbone.dummy_inputs(batch_size, seq_len)
