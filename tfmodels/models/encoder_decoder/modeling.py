"""`EncoderDecoderModel`: any tfmodels encoder + any causal LM with cross-attention as one seq2seq model.

The encoder is the bare model of its `model_type` (`AutoModel`: BERT,
RoBERTa, BertGeneration, ...), the decoder the causal LM of its own
(`AutoModelForCausalLM`: `BertLMHeadModel`, `RobertaForCausalLM`,
`GPT2LMHeadModel`, `BertGenerationDecoder`, ...) built with `is_decoder=True`
and `add_cross_attention=True`, so its blocks are `TransformerDecoderBlock`s
attending over the encoder output. When the two widths differ, a linear
`enc_to_dec_proj` maps the encoder output to the decoder's. Checkpoints have
the reference's layout: `config.json` holds both sub-configs under
`encoder` / `decoder` beside `decoder_start_token_id` / `pad_token_id`, the
weights carry `encoder.` / `decoder.` prefixes.

Training: with `labels` and no `decoder_input_ids`, the decoder inputs are
the labels shifted right (`decoder_start_token_id` first, -100 ->
`pad_token_id`) and the decoder mask is `decoder_input_ids != pad_token_id`;
the loss is the mean cross-entropy of the logits against the labels (no
further shift), -100 ignored, as the reference computes it.

`generate()` is the package's encoder-decoder loop
(`tfmodels.generation.seq2seq`): the encoder once, every decoder layer's
cross-attention keys/values projected once, then the cached decoder steps
(positions placed by the cache index, as the reference's decoders do).

Size glossary: B batch, S source length, T target length, D_enc / D_dec the
encoder / decoder widths, V the decoder's vocabulary.

References:
    Rothe et al., "Leveraging Pre-trained Checkpoints for Sequence Generation
    Tasks", TACL 2020. Parity reference:
    `transformers.models.encoder_decoder.modeling_encoder_decoder.EncoderDecoderModel` (PyTorch).
"""

import keras
import numpy as np
from keras import ops

from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.catalogue import families
from tfmodels.models.seq2seq import Seq2SeqLMMixin, decoder_input_ids_from, seq2seq_outputs

_WIDTH_FIELDS = ("hidden_size", "n_embd", "d_model", "dim")


def _auto_class(task, model_type, role):
    """The class registered for `task` and `model_type` by the family declarations (what `AutoModel*` use)."""
    for family in families():
        for entry_task, entry_type, cls in family.auto_entries():
            if entry_task == task and entry_type == model_type:
                return cls
    raise ValueError(f"EncoderDecoderModel has no {role} class for model_type={model_type!r} (task {task!r}).")


def _width(model):
    config = model.hf_config()
    return next(config[name] for name in _WIDTH_FIELDS if config.get(name) is not None)


class EncoderDecoderModel(Seq2SeqLMMixin, Seq2SeqGenerationMixin, PreTrainedModel):
    """An encoder and a cross-attention causal-LM decoder, with the reference's config, weights and loss.

    Args:
        encoder: a tfmodels bare model (`BertModel`, ...) or its Hugging Face
            config dict (with `model_type`; `config.json`'s `encoder` entry).
        decoder: a tfmodels causal LM with cross-attention
            (`BertLMHeadModel`, `GPT2LMHeadModel`, ... built with
            `is_decoder=True`, `add_cross_attention=True`) or its config dict.
        decoder_start_token_id: int, first decoder token (shifted labels, `generate()`).
        pad_token_id: int, replaces -100 in shifted labels.
        **kwargs: other top-level config fields (`eos_token_id`, ... kept in
            `extra_config`) and Keras arguments.

    Call inputs (dict or keywords): `input_ids` `(B, S)`, `attention_mask`
    `(B, S)`, `token_type_ids` `(B, S)` (encoder), `decoder_input_ids`
    `(B, T)`, `decoder_attention_mask` `(B, T)`, `labels` `(B, T)`.

    Returns:
        dict with `loss` (with `labels`), `logits` `(B, T, V)`,
        `encoder_last_hidden_state` `(B, S, D_enc)` and, when asked,
        `decoder_hidden_states`, `decoder_attentions`, `cross_attentions`
        `(B, heads, T, S)`, `encoder_hidden_states`, `encoder_attentions`.

    Not supported yet: the `encoder_outputs`, `past_key_values` and
    `*_inputs_embeds` call inputs (`generate()` keeps its caches inside).

    Raises:
        ValueError: a decoder without cross-attention, an encoder with an LM
            head, an unknown `model_type`, a `cross_attention_hidden_size`, or (calls) neither
            `decoder_input_ids` nor `labels`.
        NotImplementedError: `resize_token_embeddings` (as the reference: resize
            `model.encoder` / `model.decoder`).

    References: `transformers.EncoderDecoderModel`.
    """

    model_type = "encoder-decoder"
    input_names = ("input_ids", "attention_mask", "token_type_ids", "decoder_input_ids", "decoder_attention_mask")
    serving_outputs = ("logits",)

    def __init__(self, encoder=None, decoder=None, decoder_start_token_id=None, pad_token_id=None, **kwargs):
        if encoder is None or decoder is None:
            raise ValueError("EncoderDecoderModel needs an encoder and a decoder (models or config dicts).")
        kwargs.pop("is_encoder_decoder", None)  # always true; written back by `hf_config`
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("encoder", "decoder"))
        self.encoder = self._sub_model(encoder, "base", "encoder")
        self.decoder = self._sub_model(decoder, "causal-lm", "decoder")
        if hasattr(self.encoder, "lm_head"):
            raise ValueError(f"The encoder {type(self.encoder).__name__} should not have an LM head: "
                             "use its bare model (tfmodels.AutoModel).")
        backbone = getattr(self.decoder, "backbone", None)
        if not hasattr(self.decoder, "decode_step") or not getattr(backbone, "has_cross_attention", False):
            raise ValueError(
                f"The decoder {type(self.decoder).__name__} has no cross-attention: build it with "
                "is_decoder=True and add_cross_attention=True in its config (from_encoder_decoder_pretrained "
                "does), from a family whose decoder supports cross-attention."
            )
        self.enc_to_dec_proj = None
        decoder_config = self.decoder.hf_config()
        if decoder_config.get("cross_attention_hidden_size") is not None:
            raise ValueError("Decoders whose cross-attention reads another width (cross_attention_hidden_size) are "
                             "not supported yet. Received: cross_attention_hidden_size="
                             f"{decoder_config['cross_attention_hidden_size']}")
        if _width(self.encoder) != _width(self.decoder):
            self.enc_to_dec_proj = keras.layers.Dense(
                _width(self.decoder), kernel_initializer=hf_initializer(decoder_config.get("initializer_range", 0.02)),
                dtype=self.dtype_policy, name="enc_to_dec_proj")

    def _sub_model(self, model_or_config, task, role):
        if isinstance(model_or_config, PreTrainedModel):
            return model_or_config
        if not isinstance(model_or_config, dict) or "model_type" not in model_or_config:
            raise ValueError(f"EncoderDecoderModel's {role} must be a tfmodels model or a config dict with "
                             f"`model_type`. Received: {type(model_or_config).__name__}")
        config = dict(model_or_config)
        config.pop("dtype", None)  # the torch dtype; the sub-models compute in this model's policy
        cls = _auto_class(task, config["model_type"], role)
        return cls.from_config({**config, "dtype": self.dtype_policy, "name": role})

    # -- config -------------------------------------------------------------------

    def hf_config(self):
        config = {**self.extra_config, **self.config, "encoder": self.encoder.hf_config(),
                  "decoder": self.decoder.hf_config(), "is_encoder_decoder": True}
        config["model_type"] = self.model_type
        config["architectures"] = [type(self).__name__]
        return config

    def get_config(self):
        config = self.hf_config()
        for key in ("model_type", "architectures", "is_encoder_decoder"):
            config.pop(key)
        return {"name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(self.dtype_policy), **config}

    def _generation_model_config(self):
        """The decoder's fields, overridden by the top-level ones that are set (as the reference's generation
        config); `vocab_size` is always the decoder's (the width of its logits)."""
        decoder = self.decoder._generation_model_config()
        top = {k: v for k, v in {**self.extra_config, **self.config}.items() if v is not None}
        return {**decoder, **top, "vocab_size": decoder["vocab_size"]}

    def resize_token_embeddings(self, *args, **kwargs):
        raise NotImplementedError(
            "Resizing the embedding layers via the EncoderDecoderModel directly is not supported: use "
            "model.encoder.resize_token_embeddings(...) or model.decoder.resize_token_embeddings(...).")

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {"input_ids": np.ones((batch_size, seq_len), dtype="int32"),
                "decoder_input_ids": np.ones((batch_size, seq_len), dtype="int32")}

    # -- forward --------------------------------------------------------------------

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        flags = dict(training=training, output_attentions=output_attentions,
                     output_hidden_states=output_hidden_states)
        decoder_attention_mask = inputs.get("decoder_attention_mask")
        decoder_input_ids = decoder_input_ids_from(self, inputs)
        if inputs.get("decoder_input_ids") is None and decoder_attention_mask is None:  # shifted labels
            decoder_attention_mask = ops.cast(ops.not_equal(decoder_input_ids, self.config["pad_token_id"]), "int32")
        labels = self.pop_labels(inputs)
        encoder_inputs = {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in inputs}
        encoder_outputs = self.encoder(encoder_inputs, **flags)
        decoder_inputs = {"input_ids": decoder_input_ids,
                          "encoder_hidden_states": self._project(encoder_outputs["last_hidden_state"])}
        if decoder_attention_mask is not None:
            decoder_inputs["attention_mask"] = decoder_attention_mask
        if inputs.get("attention_mask") is not None:
            decoder_inputs["encoder_attention_mask"] = inputs["attention_mask"]
        decoder_outputs = dict(self.decoder(decoder_inputs, **flags))
        logits = decoder_outputs.pop("logits")
        outputs = seq2seq_outputs(encoder_outputs, {"last_hidden_state": None, **decoder_outputs})
        del outputs["last_hidden_state"]
        return self.with_task_loss({"logits": logits, **outputs}, labels)

    def _with_decoder_inputs(self, data):
        """`Seq2SeqLMMixin`'s shifted labels for `fit()` with `labels` as `y`, plus the decoder mask the
        reference derives with them (`decoder_input_ids != pad_token_id`)."""
        x = keras.utils.unpack_x_y_sample_weight(data)[0]
        shifted = super()._with_decoder_inputs(data)
        if shifted is data or not isinstance(x, dict) or x.get("decoder_attention_mask") is not None:
            return shifted
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(shifted)
        mask = ops.cast(ops.not_equal(x["decoder_input_ids"], self.config["pad_token_id"]), "int32")
        return keras.utils.pack_x_y_sample_weight({**x, "decoder_attention_mask": mask}, y, sample_weight)

    def _project(self, encoder_hidden_states):
        """`(B, S, D_enc)` -> `(B, S, D_dec)` (`enc_to_dec_proj`, when the widths differ)."""
        if self.enc_to_dec_proj is None:
            return encoder_hidden_states
        return self.enc_to_dec_proj(encoder_hidden_states)

    # -- generation interface (tfmodels.generation.seq2seq) ---------------------------

    def encode(self, input_ids, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """The encoder's outputs on `input_ids` `(B, S)` (`last_hidden_state` `(B, S, D_enc)`, not projected)."""
        inputs = {"input_ids": input_ids}
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask
        return self.encoder(inputs, training=training, output_attentions=output_attentions,
                            output_hidden_states=output_hidden_states)

    def init_cache(self, batch_size, max_length):
        return self.decoder.init_cache(batch_size, max_length)

    def cross_key_values(self, encoder_hidden_states):
        """Every decoder layer's cross-attention keys/values `(B, 2, S, N, H)` from the (projected) encoder output."""
        return self.decoder.cross_key_values(self._project(encoder_hidden_states))

    def decode_step(self, decoder_input_ids, decoder_attention_mask, cache, cache_index, encoder_attention_mask,
                    cross_key_values):
        """One cached decoder pass: `(logits (B, T, V), updated caches)`."""
        return self.decoder.decode_step(decoder_input_ids, decoder_attention_mask, None, cache, cache_index,
                                        encoder_attention_mask=encoder_attention_mask,
                                        cross_key_values=cross_key_values)

    # -- construction from two checkpoints -----------------------------------------------

    @classmethod
    def from_encoder_decoder_pretrained(cls, encoder_pretrained_model_name_or_path=None,
                                        decoder_pretrained_model_name_or_path=None, **kwargs):
        """Builds the model from an encoder checkpoint and a decoder checkpoint, as the reference does.

        The encoder loads as its bare model with `is_decoder=False`, `add_cross_attention=False`; the
        decoder as its causal LM with `is_decoder=True`, `add_cross_attention=True`: its cross-attention
        layers (absent from an encoder checkpoint) are newly initialised, with a warning. Keywords
        `encoder_*` / `decoder_*` go to the encoder's / decoder's `from_pretrained` (prefix removed;
        `encoder_model=` / `decoder_model=` pass a built model instead); the others are top-level
        config fields (`decoder_start_token_id`, `pad_token_id`, ...).

        Args:
            encoder_pretrained_model_name_or_path: local directory or Hub id of the encoder.
            decoder_pretrained_model_name_or_path: local directory or Hub id of the decoder.
            **kwargs: see above.

        Returns:
            `EncoderDecoderModel`.

        Raises:
            ValueError: a missing path (without `encoder_model` / `decoder_model`), or as the constructor.
        """
        from tfmodels.auto import AutoModel, AutoModelForCausalLM

        encoder_kwargs = {k[len("encoder_"):]: kwargs.pop(k) for k in list(kwargs) if k.startswith("encoder_")}
        decoder_kwargs = {k[len("decoder_"):]: kwargs.pop(k) for k in list(kwargs)
                          if k.startswith("decoder_") and k != "decoder_start_token_id"}
        encoder = encoder_kwargs.pop("model", None)
        if encoder is None:
            if encoder_pretrained_model_name_or_path is None:
                raise ValueError("Pass encoder_pretrained_model_name_or_path (or encoder_model=).")
            encoder_kwargs = {"is_decoder": False, "add_cross_attention": False, **encoder_kwargs}
            encoder = AutoModel.from_pretrained(encoder_pretrained_model_name_or_path, **encoder_kwargs)
        decoder = decoder_kwargs.pop("model", None)
        if decoder is None:
            if decoder_pretrained_model_name_or_path is None:
                raise ValueError("Pass decoder_pretrained_model_name_or_path (or decoder_model=).")
            decoder_kwargs = {"is_decoder": True, "add_cross_attention": True, **decoder_kwargs}
            decoder = AutoModelForCausalLM.from_pretrained(decoder_pretrained_model_name_or_path, **decoder_kwargs)
        return cls(encoder=encoder, decoder=decoder, dtype=encoder.dtype_policy, **kwargs)
