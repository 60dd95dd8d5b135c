"""ProphetNet's language-model heads: the encoder-decoder LM (`generate()`) and the decoder-only LM.

Both project the predict streams (not the main stream) onto the vocabulary
with the LM head (tied to `word_embeddings` unless `tie_word_embeddings=False`),
as the reference: `logits` is predict stream 1 (the next token, what
`generate()` decodes from), `logits_ngram` streams 2..G. The loss is the
reference's: every stream's log-softmax against the same `labels` (streams
2..G ignored with `disable_ngram_loss`), the mean over the labels that are
not `-100`, label-smoothed by `eps` (`label_smoothed_crossentropy`).

Size glossary: B batch, S source length, T target length, G `ngram`, D `hidden_size`, V `vocab_size`.

References:
    Qi et al., "ProphetNet: Predicting Future N-gram for Sequence-to-Sequence
    Pre-training", Findings of EMNLP 2020. Parity references:
    `transformers.ProphetNetForConditionalGeneration`, `ProphetNetForCausalLM` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin
from tfmodels.generation.utils import GenerationMixin
from tfmodels.layers.losses import label_smoothed_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import HeadModelMixin
from tfmodels.models.prophetnet.modeling import ProphetNetModel, ProphetNetPreTrainedModel, XLMProphetNetModel
from tfmodels.models.seq2seq import BackboneGenerationMixin, Seq2SeqLMMixin, decoder_input_ids_from, init_decoder_cache


class NgramLMHeadMixin:
    """The LM head over the predict streams and the n-gram loss (`stack_config` holds the ProphetNet fields)."""

    def _make_lm_head(self, tie_word_embeddings, config):
        self.lm_head = None
        if not tie_word_embeddings:
            self.lm_head = keras.layers.Dense(config["vocab_size"], use_bias=False, dtype=self.dtype_policy,
                                              kernel_initializer=hf_initializer(config["init_std"]), name="lm_head")

    def ngram_logits(self, stacks, hidden_ngram):
        """`(B, G * T, D)` predict streams -> `{"logits": (B, T, V), "logits_ngram": (B, G - 1, T, V)}`."""
        ngram = self.stack_config["ngram"]
        batch, width = ops.shape(hidden_ngram)[0], hidden_ngram.shape[-1]
        streams = ops.reshape(hidden_ngram, (batch, ngram, -1, width))  # (B, G, T, D)
        if self.lm_head is None:
            logits = stacks.word_embeddings(streams, reverse=True)
        else:
            logits = self.lm_head(streams)  # (B, G, T, V)
        outputs = {"logits": logits[:, 0]}
        if ngram > 1:
            outputs["logits_ngram"] = logits[:, 1:]
        return outputs

    def task_loss(self, labels, outputs, sample_weight=None):
        """The reference's `_compute_loss` over all streams (see the module docstring)."""
        config = self.stack_config
        logits = outputs["logits"][:, None]
        if "logits_ngram" in outputs:
            logits = ops.concatenate([logits, outputs["logits_ngram"]], axis=1)  # (B, G, T, V)
        labels = ops.cast(labels["labels"], "int32")[:, None]  # (B, 1, T)
        targets = ops.broadcast_to(labels, ops.shape(logits)[:3])
        if config["disable_ngram_loss"] and config["ngram"] > 1:
            ignored = ops.full_like(targets[:, 1:], -100)
            targets = ops.concatenate([targets[:, :1], ignored], axis=1)
        return label_smoothed_crossentropy(targets, logits, epsilon=config["eps"], sample_weight=sample_weight)


class ProphetNetForConditionalGeneration(NgramLMHeadMixin, Seq2SeqLMMixin, BackboneGenerationMixin,
                                         Seq2SeqGenerationMixin, HeadModelMixin, PreTrainedModel):
    """ProphetNet with its LM head on the predict streams; `generate()` from predict stream 1.

    Call inputs: as `ProphetNetModel`, plus `labels` `(B, T)` (`-100`
    ignored): without `decoder_input_ids` they are `labels` shifted right with
    `decoder_start_token_id` (`-100` -> `pad_token_id`).

    Returns:
        dict with `logits` `(B, T, V)`, `logits_ngram` `(B, G - 1, T, V)` (when
        `ngram > 1`), `loss` with `labels`, `encoder_last_hidden_state` and, when
        asked, the hidden states and attentions of `ProphetNetModel` (not its
        `last_hidden_state` / `last_hidden_state_ngram`).

    Training: `compile()` without a loss trains on the n-gram loss of `labels` (see
    `tfmodels.models.seq2seq.Seq2SeqLMMixin`).

    References: `transformers.ProphetNetForConditionalGeneration`.
    """

    model_type = "prophetnet"
    base_model_prefix = "prophetnet"
    backbone_class = ProphetNetModel
    backbone_kwargs = {}
    input_names = ProphetNetModel.input_names

    def __init__(self, tie_word_embeddings=True, **kwargs):
        backbone = self._init_backbone(kwargs)
        self.config = {"tie_word_embeddings": tie_word_embeddings}
        self._make_lm_head(tie_word_embeddings, backbone.config)

    @property
    def stack_config(self):
        return self.backbone.config

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return self.backbone.dummy_inputs(batch_size, seq_len)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        backbone_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        backbone_inputs["decoder_input_ids"] = decoder_input_ids_from(self.backbone, inputs)
        labels = self.pop_labels(inputs)
        backbone_outputs = self._backbone_outputs(backbone_inputs, training, output_attentions, output_hidden_states)
        outputs = self.ngram_logits(self.backbone, backbone_outputs["last_hidden_state_ngram"])
        outputs.update({k: v for k, v in backbone_outputs.items()
                        if k not in ("last_hidden_state", "last_hidden_state_ngram")})
        return self.with_task_loss(outputs, labels)

    # -- generation interface (tfmodels.generation.seq2seq; encode / caches: BackboneGenerationMixin) ----

    def decode_step(self, decoder_input_ids, decoder_attention_mask, cache, cache_index, encoder_attention_mask,
                    cross_key_values):
        """One cached decoder pass: `(logits (B, 1, V) of predict stream 1, updated caches)`.

        As the reference's cached pass, the step attends to every slot written so far (no decoder padding mask).
        """
        del decoder_attention_mask
        outputs = self.backbone.decode(decoder_input_ids, attention_mask=encoder_attention_mask, cache=cache,
                                       cache_update_index=cache_index, cross_key_values=cross_key_values,
                                       training=False)
        return self.ngram_logits(self.backbone, outputs["last_hidden_state_ngram"])["logits"], \
            outputs["past_key_values"]


class ProphetNetForCausalLM(NgramLMHeadMixin, GenerationMixin, ProphetNetPreTrainedModel):
    """The ProphetNet n-gram decoder alone with its LM head (checkpoint keys `prophetnet.decoder.*`,
    `prophetnet.word_embeddings`, the tied `lm_head`); `generate()` from predict stream 1.

    `generate()` (greedy, sampling, beam search; `tfmodels.generation`) follows the reference's
    cached `generate()`, its default: the left-padded prompt is one full pass (padding masked,
    positions from `pad_token_id + 1` whatever the padding; a left-padding row weighs its
    once-masked keys as the reference's summed masks, see `once_masked_keys`) whose main-stream
    keys/values seed the n-gram cache; each later token is one cached step that, as the
    reference's, attends every slot written so far, the prompt's padding included, with the
    reference's cached position and relative-bucket formulas. (The reference's uncached
    `generate()`, `use_cache=False`, masks the padding and reads the predict streams' relative
    values through its full-pass reshape at every step, so its two paths differ; a checkpoint
    whose generation config sets `use_cache=False` is still decoded the cached way here.)

    Call inputs: `input_ids` `(B, T)`, `attention_mask` `(B, T)`, optional
    `encoder_hidden_states` `(B, S, D)` and `encoder_attention_mask` `(B, S)`,
    `labels` `(B, T)` aligned with the logits (no shift, as the reference; `-100` ignored).

    Returns:
        dict with `logits` `(B, T, V)`, `logits_ngram` `(B, G - 1, T, V)`, `loss`
        with `labels` and, when asked, `hidden_states`, `hidden_states_ngram`,
        `attentions`, `ngram_attentions` (and `cross_attentions` with encoder states).

    References: `transformers.ProphetNetForCausalLM`.
    """

    has_encoder = False
    input_names = ("input_ids", "attention_mask", "encoder_hidden_states", "encoder_attention_mask")
    float_input_names = ("encoder_hidden_states",)
    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, tie_word_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self.config["tie_word_embeddings"] = tie_word_embeddings
        self._make_lm_head(tie_word_embeddings, self.config)

    @property
    def stack_config(self):
        return self.config

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        labels = self.pop_labels(inputs)
        outputs = self.decode(inputs["input_ids"], inputs.get("encoder_hidden_states"),
                              attention_mask=inputs.get("encoder_attention_mask"),
                              decoder_attention_mask=inputs.get("attention_mask"), training=training,
                              output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        outputs.pop("last_hidden_state")
        logits = self.ngram_logits(self, outputs.pop("last_hidden_state_ngram"))
        return self.with_task_loss({**logits, **outputs}, labels)

    # -- generation interface (tfmodels.generation) ----------------------------

    def _max_generation_positions(self):
        # a step at slot t reads position pad_token_id + 1 + t and its predict streams the next one
        return self.config["max_position_embeddings"] - self.config["pad_token_id"] - 2

    def init_cache(self, batch_size, max_length):
        return init_decoder_cache(self.decoder_blocks, batch_size, max_length, self.compute_dtype)

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index):
        """The prompt's full pass (`cache_index` the int 0) or one cached step: `(logits (B, T, V), caches)`."""
        del position_ids  # the reference numbers slots from pad_token_id + 1, whatever the padding
        first_pass = isinstance(cache_index, int) and cache_index == 0
        mask = attention_mask[:, :input_ids.shape[1]] if first_pass else None
        outputs = self.decode(input_ids, decoder_attention_mask=mask, cache=cache, cache_update_index=cache_index,
                              training=False)
        return self.ngram_logits(self, outputs["last_hidden_state_ngram"])["logits"], outputs["past_key_values"]


class XLMProphetNetForConditionalGeneration(ProphetNetForConditionalGeneration):
    """XLM-ProphetNet with its LM head. References: `transformers` 4.46 `XLMProphetNetForConditionalGeneration`."""

    model_type = "xlm-prophetnet"
    backbone_class = XLMProphetNetModel


class XLMProphetNetForCausalLM(ProphetNetForCausalLM):
    """XLM-ProphetNet's decoder alone with its LM head. References: `transformers` 4.46 `XLMProphetNetForCausalLM`."""

    model_type = "xlm-prophetnet"
