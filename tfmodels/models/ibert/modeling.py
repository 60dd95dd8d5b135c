"""I-BERT: RoBERTa whose layers can run in integer-only arithmetic (`quant_mode`).

With `quant_mode=False` (the default, and how checkpoints are fine-tuned
before quantization-aware training) I-BERT computes exactly RoBERTa's
function: its `QuantLinear` / `QuantEmbedding` / `QuantAct` / `IntGELU` /
`IntSoftmax` / `IntLayerNorm` modules fall back to `nn.Linear`, embedding
lookups, identity (plus the residual), exact gelu, softmax and layer norm.
These classes are the RoBERTa implementation under the `ibert` model type
and checkpoint prefix; the quantization buffers a checkpoint stores (ranges,
integer weight copies, scaling factors, shifts) do not affect the float
outputs and are ignored on loading (`tfmodels.converters.ibert`).

With `quant_mode=True` the backbone is integer-only (`IntegerEmbeddings`,
`IntegerEncoderBlock` of `tfmodels.layers.integer_encoder`, built on
`tfmodels.layers.quantization`), inference only, with the calibrated
activation ranges and LayerNorm shifts of the checkpoint; the pooler and the
task heads stay in float, as in the reference.

References:
    Kim et al., "I-BERT: Integer-only BERT Quantization", ICML 2021.
    Parity reference: `transformers.models.ibert.modeling_ibert` (PyTorch).
"""

from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.integer_encoder import IntegerEmbeddings, IntegerEncoderBlock
from tfmodels.layers.kv_cache import check_sequence_length
from tfmodels.models.base import stack_outputs
from tfmodels.models.encoder import attention_mask_to_bool
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.roberta.modeling import RobertaModel, RobertaPreTrainedModel


class IBertModel(RobertaModel):
    """The I-BERT encoder in float mode: `RobertaModel` under `model_type="ibert"`.

    Args: the fields of a Hugging Face I-BERT `config.json`: RoBERTa's, plus
        quant_mode: bool, integer-only inference (see the module docstring).
        force_dequant: str, which nonlinear layers stay in float in quant
            mode (`"none"`, `"gelu"`, `"softmax"`, `"layernorm"`,
            `"nonlinear"`); no effect in float mode.

    Returns: as `RobertaModel` (in quant mode the hidden states are the
    dequantized values `q * scaling_factor`, the attentions the 8-bit
    probabilities).

    Raises:
        ValueError: for `hidden_act` other than `"gelu"` (the reference only
            has `IntGELU`) or an unknown `force_dequant`.
        NotImplementedError: when called with `training=True` in quant mode.

    References: `transformers.IBertModel`.
    """

    model_type = "ibert"

    def __init__(self, quant_mode=False, force_dequant="none", hidden_act="gelu", **kwargs):
        if hidden_act != "gelu":
            raise ValueError(f"I-BERT only supports hidden_act='gelu'. Received: hidden_act={hidden_act!r}")
        self.quant_mode = bool(quant_mode)
        self.force_dequant = force_dequant
        super().__init__(hidden_act=hidden_act, **kwargs)
        self.config.update(quant_mode=quant_mode, force_dequant=force_dequant)
        if self.quant_mode:
            config = self.config
            self.embeddings = IntegerEmbeddings(
                config["vocab_size"], config["hidden_size"], config["max_position_embeddings"],
                config["type_vocab_size"], padding_idx=config["pad_token_id"], layer_norm_eps=config["layer_norm_eps"],
                quant_mode=True, force_dequant=force_dequant, initializer_range=config["initializer_range"],
                dtype="float32", name="embeddings",  # integer arithmetic: float32/float64 under any policy
            )

    def _make_encoder_layer(self, index):
        if not self.quant_mode:
            return super()._make_encoder_layer(index)
        kwargs = self._block_kwargs
        return IntegerEncoderBlock(
            kwargs["num_heads"], kwargs["intermediate_size"], layer_norm_eps=kwargs["layer_norm_eps"],
            quant_mode=True, force_dequant=self.force_dequant, kernel_initializer=kwargs["kernel_initializer"],
            dtype="float32", name=f"encoder_layer_{index}",
        )

    def _run(self, inputs, training, output_attentions, output_hidden_states, past_key_values=None,
             cache_update_index=None):
        if not self.quant_mode:
            return super()._run(inputs, training, output_attentions, output_hidden_states, past_key_values,
                                cache_update_index)
        if past_key_values is not None:
            raise ValueError("IBertModel has no KV cache (it is an encoder).")
        if "position_ids" not in inputs:
            check_sequence_length(inputs["input_ids"], self.max_positions, type(self).__name__,
                                  position_offset=self._position_offset)
        x = self.embeddings(inputs["input_ids"], token_type_ids=inputs.get("token_type_ids"),
                            position_ids=inputs.get("position_ids"), training=training)  # (values, scale)
        # As the reference's `IBertEncoder`, every layer reads its input with the embeddings' scaling factor:
        # `IBertLayer` drops its output factor and the encoder never updates `hidden_states_scaling_factor`.
        embedding_scale = x[1]
        stack = run_block_stack(
            self.encoder_layers, x, call_kwargs={"attention_mask": attention_mask_to_bool(inputs.get("attention_mask"))},
            call_block=lambda step, block, streams, **kwargs: block(streams[0], embedding_scale, **kwargs),
            output_attentions=output_attentions, training=training,
        )
        outputs = {"last_hidden_state": stack.x[0]}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(stack.x[0])
        return stack_outputs(outputs, output_hidden_states, output_attentions,
                             [h[0] for h in stack.hidden_states], stack.attentions)


class IBertPreTrainedModel(RobertaPreTrainedModel):
    model_type = "ibert"
    base_model_prefix = "ibert"
    backbone_class = IBertModel


class IBertForSequenceClassification(SequenceClassificationMixin, IBertPreTrainedModel):
    """I-BERT + `IBertClassificationHead` (dense + tanh + out_proj on `<s>`); `logits (batch, num_labels)`.

    References: `transformers.IBertForSequenceClassification`.
    """

    classifier_activation = "tanh"


class IBertForTokenClassification(TokenClassificationMixin, IBertPreTrainedModel):
    """I-BERT + per-token linear classifier; `logits (batch, seq_len, num_labels)`.

    References: `transformers.IBertForTokenClassification`.
    """


class IBertForQuestionAnswering(QuestionAnsweringMixin, IBertPreTrainedModel):
    """I-BERT + span head; `start_logits`, `end_logits (batch, seq_len)`.

    References: `transformers.IBertForQuestionAnswering`.
    """


class IBertForMultipleChoice(MultipleChoiceMixin, IBertPreTrainedModel):
    """I-BERT scoring `(batch, num_choices, seq_len)` inputs from the pooler; `logits (batch, num_choices)`.

    References: `transformers.IBertForMultipleChoice`.
    """


class IBertForMaskedLM(MaskedLMMixin, IBertPreTrainedModel):
    """I-BERT + `IBertLMHead` (dense, gelu, LayerNorm, tied decoder + bias); `logits (batch, seq_len, vocab)`.

    References: `transformers.IBertForMaskedLM`.
    """

    lm_head_activation = "gelu"
