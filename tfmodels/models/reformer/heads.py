"""Reformer task heads; the LM head generates by re-running the prefix (no KV cache).

Every head reads the backbone's `(batch, seq_len, 2 * hidden_size)` output
and takes the backbone's `random_rotations` call keyword (see
`tfmodels.models.reformer.modeling`).

Generation (`ReformerModelWithLMHead.generate`): LSH attention hashes and
sorts the whole sequence, so keys/values of earlier steps cannot be kept in
the package's `(batch, max_len, heads, head_dim)` KV cache (the reference
caches hidden states and buckets instead, and its cached steps attend to
other chunks than a full pass would). `generate()` is the package's
(`tfmodels.generation`: greedy, sampling, beam search, all processors, one
XLA loop), with a "cache" that is the token buffer: every step re-runs the
whole prefix, at the length the reference would run it (its chunk padding),
which under XLA means one branch of a `tf.switch_case` per padded length
(`ceil(total / lcm(chunk lengths))` branches, each the whole model). The
cost of a step grows with the prefix; this is exact, not fast.

Padded prompts: the reference's `generate` drops the attention mask
(`ReformerModelWithLMHead.prepare_inputs_for_generation` pops
`attention_mask`; positions are always `0 .. n-1` from the first token).
Padding tokens of a prompt are therefore attended to as ordinary tokens and
shift the positions of a left-padded row; only the chunk padding the model
adds itself is masked. `generate()` does the same, so its tokens equal the
reference's, and logs a warning when the given mask has zeros.
"""

import logging

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.generation.utils import GenerationMixin, forget_compiled
from tfmodels.layers.losses import causal_lm_loss
from tfmodels.layers.utils import chunked_call
from tfmodels.models.heads import MaskedLMMixin, QuestionAnsweringMixin, SequenceClassificationMixin
from tfmodels.models.reformer.modeling import INPUT_NAMES, ReformerModel
from tfmodels.models.base import PreTrainedModel

logger = logging.getLogger("tfmodels")


class ReformerPreTrainedModel(PreTrainedModel):
    model_type = "reformer"
    base_model_prefix = "reformer"
    backbone_class = ReformerModel
    input_names = INPUT_NAMES

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return ReformerModel.dummy_inputs(self, batch_size, seq_len)


class _ReformerHead:
    """Head mixin (first in the bases): the `random_rotations` call keyword reaches the backbone."""

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             random_rotations=None):
        object.__setattr__(self, "_call_rotations", random_rotations)
        try:
            return super().call(inputs, training=training, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states)
        finally:
            object.__setattr__(self, "_call_rotations", None)

    def _backbone_outputs(self, inputs, training, output_attentions, output_hidden_states):
        outputs = self.backbone.forward(
            inputs["input_ids"], attention_mask=inputs.get("attention_mask"), position_ids=inputs.get("position_ids"),
            random_rotations=getattr(self, "_call_rotations", None), training=training,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        self.backbone.built = True  # `forward` bypasses Keras' `__call__`, which would mark it built
        return outputs


class _ReformerLMHead(_ReformerHead, MaskedLMMixin):
    """`ReformerOnlyLMHead`: one `Dense(vocab_size)` on `2 * hidden_size`, chunked by `chunk_size_lm_head`."""

    def _make_lm_head(self):
        init = keras.initializers.RandomNormal(stddev=self.backbone.config["initializer_range"])
        self.lm_head = keras.layers.Dense(self.backbone.config["vocab_size"], kernel_initializer=init,
                                          dtype=self.dtype_policy, name="lm_head")

    def _lm_logits(self, hidden_states):
        return chunked_call(self.lm_head, hidden_states, self.backbone.config["chunk_size_lm_head"], "lm_head")


class ReformerForMaskedLM(_ReformerLMHead, ReformerPreTrainedModel):
    """Reformer + `ReformerOnlyLMHead`; `logits (batch, seq_len, vocab_size)`, loss on `labels` (-100 ignored).

    Raises:
        ValueError: with `is_decoder=True` (the reference refuses it: masked LM needs bidirectional attention).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.backbone.is_decoder:
            raise ValueError("ReformerForMaskedLM needs bidirectional attention: set is_decoder=False. "
                             "Received: is_decoder=True")


class ReformerModelWithLMHead(GenerationMixin, _ReformerLMHead, ReformerPreTrainedModel):
    """Reformer causal LM (`is_decoder=True`); `logits (batch, seq_len, vocab_size)`; `generate()`.

    `labels` `(batch, seq_len)` give the shifted causal-LM loss (-100 ignored).
    `generate()` takes the package's arguments (`tfmodels.generation.utils.
    GenerationMixin.generate`) plus `random_rotations` (as the model call);
    see the module docstring for how it runs without a KV cache.

    Without `is_decoder=True` (the reference refuses it) attention is
    bidirectional, with a warning, as the package's other encoder causal LMs.

    Raises:
        ValueError: with chunks after the query (`lsh_num_chunks_after` /
            `local_num_chunks_after` > 0) in a decoder, as the reference.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        config = self.backbone.config
        if not self.backbone.is_decoder:  # the reference refuses it; the package's encoder causal LMs warn
            logger.warning("ReformerModelWithLMHead without is_decoder=True in its config attends bidirectionally; "
                           "set is_decoder=True to use it as a causal LM.")
        for kind in ("lsh", "local"):
            if self.backbone.is_decoder and kind in config["attn_layers"] and config[f"{kind}_num_chunks_after"]:
                raise ValueError(f"A causal Reformer attends to no later chunk: set {kind}_num_chunks_after=0. "
                                 f"Received: {kind}_num_chunks_after={config[f'{kind}_num_chunks_after']}")
        object.__setattr__(self, "_generation_rotations", None)

    def task_loss(self, labels, outputs, sample_weight=None):
        return causal_lm_loss(labels["labels"], outputs["logits"], sample_weight)

    def _metric_targets(self, labels, logits):
        return labels[:, 1:], logits[:, :-1]  # logits at t predict the label at t + 1

    def generate(self, input_ids, attention_mask=None, random_rotations=None, **kwargs):
        """`GenerationMixin.generate` (same arguments and result), plus `random_rotations`.

        Args:
            input_ids, **kwargs: see `GenerationMixin.generate`.
            attention_mask: accepted and, as in the reference, not used: prompt
                padding is attended to (module docstring); a warning is logged
                when it has zeros.
            random_rotations: optional, the LSH rotations of every step (as the
                model call); `None` draws them as the LSH layers do.
        """
        if attention_mask is not None and tuple(np.shape(attention_mask)) == tuple(np.shape(input_ids)):
            if not np.all(np.asarray(attention_mask) != 0):
                logger.warning("ReformerModelWithLMHead.generate() ignores attention_mask, as the reference does: "
                               "prompt padding is attended to like ordinary tokens. Generate unpadded prompts "
                               "(e.g. one row at a time) to avoid it.")
            attention_mask = None  # all ones
        if random_rotations is not None or self._generation_rotations is not None:
            forget_compiled(self)  # the traced loop captured the previous rotations
        rotations = random_rotations
        if rotations is not None:
            rotations = ([None if r is None else tf.constant(r, tf.float32) for r in rotations]
                         if isinstance(rotations, (list, tuple)) else tf.constant(rotations, tf.float32))
        object.__setattr__(self, "_generation_rotations", rotations)
        return super().generate(input_ids, attention_mask=attention_mask, **kwargs)

    # -- generation interface (tfmodels.generation.search) ----------------------

    def _bucket(self, length):
        """The length a prefix of `length` tokens runs at: the reference's chunk padding, and at least
        the shortest chunk (a prefix of one chunk is plain attention either way)."""
        backbone = self.backbone
        return backbone.min_chunk_length if length <= backbone.min_chunk_length else backbone.padded_length(length)

    def init_cache(self, batch_size, max_length):
        """The "cache": a token buffer `(batch, bucket(max_length))` int32, one tuple entry."""
        return (ops.zeros((batch_size, self._bucket(max_length)), "int32"),)

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index):
        """Writes `input_ids` at `cache_index` and runs the prefix: `(logits (batch, 1, vocab), cache)`."""
        tokens = cache[0]
        buffer_len = tokens.shape[1]
        step_len = input_ids.shape[1]
        tokens = ops.slice_update(tokens, [0, cache_index], ops.cast(input_ids, "int32"))
        total = attention_mask.shape[1]
        mask = tf.cast(tf.not_equal(attention_mask, 0), "int32")
        mask = tf.pad(mask, [(0, 0), (0, buffer_len - mask.shape[1])])
        if isinstance(cache_index, int):  # the prefill: a static length
            return self._prefix_logits(tokens, mask, cache_index + step_len), (tokens,)
        length = cache_index + step_len
        buckets = sorted({self._bucket(n) for n in range(1, total + 1)})
        branch = tf.reduce_sum(tf.cast(tf.constant(buckets) < length, tf.int32))
        logits = tf.switch_case(branch, [lambda size=size: self._prefix_logits(tokens, mask, length, size)
                                         for size in buckets])
        return logits, (tokens,)

    def _prefix_logits(self, tokens, mask, length, size=None):
        """Logits `(batch, 1, vocab)` of the last of the first `length` tokens, the prefix run at `size`."""
        size = self._bucket(length) if size is None else size
        keep = tf.cast(tf.range(size) < length, "int32")[None, :]
        outputs = self.backbone.forward(tokens[:, :size], attention_mask=mask[:, :size] * keep,
                                        random_rotations=self._generation_rotations, training=False)
        self.backbone.built = True
        last = tf.gather(outputs["last_hidden_state"], tf.reshape(length - 1, [1]), axis=1)  # (batch, 1, 2 * hidden)
        return self._lm_logits(last)


class ReformerForSequenceClassification(_ReformerHead, SequenceClassificationMixin, ReformerPreTrainedModel):
    """Reformer + `ReformerClassificationHead` (dropout, dense, tanh, dropout, out_proj) on the first token;
    `logits (batch, num_labels)`."""

    classifier_activation = "tanh"


class ReformerForQuestionAnswering(_ReformerHead, QuestionAnsweringMixin, ReformerPreTrainedModel):
    """Reformer + span head `qa_outputs` on `2 * hidden_size`; `start_logits`, `end_logits (batch, seq_len)`."""
