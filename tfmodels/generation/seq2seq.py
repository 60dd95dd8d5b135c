"""`generate()` for encoder-decoders: the encoder once, then the shared decoding loops.

`Seq2SeqGenerationMixin` reuses `GenerationMixin.generate` (argument checks,
one compiled program per settings and input shape, trace counts) and the
loops of `tfmodels.generation.search`. Inside the compiled program it runs
the encoder once, projects the encoder output into every decoder layer's
cross-attention keys/values once, and hands the loop a `_DecoderStep` whose
prompt is `decoder_start_token_id` `(B, 1)`; the self-attention KV cache is
preallocated for `1 + max_new_tokens` positions and written in place. The
result starts with `decoder_start_token_id`, as in `transformers`.

The model interface: `encode(input_ids, attention_mask)` -> dict with
`last_hidden_state` `(B, S, D)`; `cross_key_values(encoder_hidden_states)` ->
per-layer `(B, 2, S, N, H)`; `init_cache(batch, max_length)`;
`decode_step(decoder_input_ids, decoder_attention_mask, cache, cache_index,
encoder_attention_mask, cross_key_values)` -> `(logits (B, T, V), cache)`.
With beams, the encoder runs once per source row and its mask and keys/values
are repeated per beam (rows `b * num_beams + k`, the loops' layout); beams
are reordered within their row, so these never need gathering.
"""

import tensorflow as tf

from tfmodels.generation.utils import GenerationMixin, logger

# Generation fields of some checkpoints' config.json that `generate()` does not implement yet.
_NOT_APPLIED = ("encoder_no_repeat_ngram_size",)  # Blenderbot's configs set 3


class _DecoderStep:
    """The search loops' model interface, bound to one batch's encoder output."""

    def __init__(self, model, encoder_attention_mask, cross_key_values):
        self.model = model
        self.encoder_attention_mask = encoder_attention_mask
        self.cross_key_values = cross_key_values

    def init_cache(self, batch_size, max_length):
        return self.model.init_cache(batch_size, max_length)

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index):
        del position_ids  # encoder-decoders here place tokens by the cache index
        return self.model.decode_step(input_ids, attention_mask, cache, cache_index,
                                      self.encoder_attention_mask, self.cross_key_values)


class Seq2SeqGenerationMixin(GenerationMixin):
    """`generate(input_ids, attention_mask, max_new_tokens=..., ...)` for encoder-decoder LMs.

    Same arguments as `GenerationMixin.generate` (greedy, sampling, beam
    search); `input_ids` `(B, S)` is the source (padding anywhere, given by
    `attention_mask`). Returns int32 `(B, 1 + generated)` decoder tokens,
    starting with `decoder_start_token_id`.

    Raises:
        ValueError: as `GenerationMixin.generate`.
    """

    def generate(self, input_ids, attention_mask=None, **options):
        """`GenerationMixin.generate`; logs a warning (once per model) when the checkpoint sets a generation
        field that is not applied (`encoder_no_repeat_ngram_size`): outputs can then differ from `transformers`."""
        config = self._generation_model_config()
        ignored = {k: config[k] for k in _NOT_APPLIED if config.get(k)}
        if ignored and not getattr(self, "_warned_not_applied", False):
            object.__setattr__(self, "_warned_not_applied", True)
            logger.warning("%s: generation fields %s of the checkpoint are not applied by tfmodels' generate(); "
                           "its outputs can differ from transformers'.", type(self).__name__, ignored)
        return super().generate(input_ids, attention_mask=attention_mask, **options)

    def _max_generation_positions(self):
        return None  # relative or per-stack positions: the source length does not bound the target

    def _output_prefix_length(self, input_ids):
        return 1  # the decoder start token

    def _search_inputs(self, input_ids, attention_mask, num_beams):
        encoder_hidden_states = self.encode(input_ids, attention_mask, training=False)["last_hidden_state"]
        cross_key_values = self.cross_key_values(encoder_hidden_states)  # once, for every step
        if num_beams > 1:
            attention_mask = tf.repeat(attention_mask, num_beams, axis=0)  # (B * K, S)
            cross_key_values = tuple(tf.repeat(kv, num_beams, axis=0) for kv in cross_key_values)
        step = _DecoderStep(self, attention_mask, cross_key_values)
        start_id = self._generation_model_config()["decoder_start_token_id"]
        start = tf.fill((input_ids.shape[0], 1), tf.constant(start_id, tf.int32))
        return step, start, tf.ones_like(start)
