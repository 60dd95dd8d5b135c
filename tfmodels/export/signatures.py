"""Task serving signatures: what a client wants from each head, computed in-graph.

- sequence classification (`classify`): `probabilities (batch, num_labels)`
  (softmax; sigmoid for `multi_label_classification`; the raw value for
  regression), `label_id (batch,)`, `label (batch,)` string from `id2label`;
- token classification (`token_labels`): `probabilities (batch, seq_len,
  num_labels)`, `label_ids (batch, seq_len)` (-1 on padding), `labels`
  strings (`""` on padding);
- question answering (`answer_span`): the best span with `start <= end` and
  `end - start < max_answer_length` inside the attention mask: `start_index`,
  `end_index (batch,)` and `score` (start + end logit);
- causal and encoder-decoder LMs (`generate`, opt-in): `sequences` from the
  model's XLA-compiled `generate()` loop (`(batch, prompt_len + generated)`,
  or `(batch, 1 + generated)` decoder tokens for an encoder-decoder),
  compiled once for `(batch_size, prompt_length)`; any `batch <= batch_size`,
  `prompt_len <= prompt_length` is padded to it inside the graph.

Every post-processing step is plain tensor math (no Python control flow on
values), so the signatures compile with XLA and serve on TPUs.
"""

import tensorflow as tf

from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin
from tfmodels.models.heads import QuestionAnsweringMixin, SequenceClassificationMixin, TokenClassificationMixin


def _label_strings(model):
    id2label = model.config["id2label"]
    return tf.constant([str(id2label[str(i)]) for i in range(len(id2label))])


def classification_outputs(model, outputs, inputs):
    """`probabilities`, `label_id`, `label` from sequence-classification `logits`."""
    logits = tf.cast(outputs["logits"], tf.float32)
    problem_type = model.config.get("problem_type")
    if logits.shape[-1] == 1 and problem_type in (None, "regression"):
        return {"probabilities": logits, "label_id": tf.zeros(tf.shape(logits)[:1], tf.int32),
                "label": tf.gather(_label_strings(model), tf.zeros(tf.shape(logits)[:1], tf.int32))}
    if problem_type == "multi_label_classification":
        probabilities = tf.sigmoid(logits)
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)
    label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return {"probabilities": probabilities, "label_id": label_id, "label": tf.gather(_label_strings(model), label_id)}


def token_label_outputs(model, outputs, inputs):
    """`probabilities`, `label_ids`, `labels` per token from token-classification `logits`."""
    logits = tf.cast(outputs["logits"], tf.float32)
    label_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if "attention_mask" in inputs:
        valid = tf.not_equal(inputs["attention_mask"], 0)
        names = tf.where(valid, tf.gather(_label_strings(model), label_ids), "")
        label_ids = tf.where(valid, label_ids, -1)
    else:
        names = tf.gather(_label_strings(model), label_ids)
    return {"probabilities": tf.nn.softmax(logits, axis=-1), "label_ids": label_ids, "labels": names}


def answer_span_outputs(model, outputs, inputs, max_answer_length=30):
    """Best answer span `(start_index, end_index, score)` from QA logits."""
    start = tf.cast(outputs["start_logits"], tf.float32)  # (batch, seq)
    end = tf.cast(outputs["end_logits"], tf.float32)
    seq_len = tf.shape(start)[1]
    positions = tf.range(seq_len)
    span_len = positions[None, :] - positions[:, None]  # (start, end) -> end - start
    allowed = (span_len >= 0) & (span_len < max_answer_length)  # (seq, seq)
    scores = start[:, :, None] + end[:, None, :]  # (batch, start, end)
    if "attention_mask" in inputs:
        valid = tf.not_equal(inputs["attention_mask"], 0)
        allowed = allowed[None] & valid[:, :, None] & valid[:, None, :]
    scores = tf.where(allowed, scores, tf.float32.min)
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
    best = tf.argmax(flat, axis=-1, output_type=tf.int32)
    return {"start_index": best // seq_len, "end_index": best % seq_len, "score": tf.reduce_max(flat, axis=-1)}


# (mixin, signature name, post-processing); the first match wins.
TASK_SIGNATURES = (
    (SequenceClassificationMixin, "classify", classification_outputs),
    (TokenClassificationMixin, "token_labels", token_label_outputs),
    (QuestionAnsweringMixin, "answer_span", answer_span_outputs),
)


def task_signature(model):
    """`(signature_name, postprocess)` for `model`'s head, or `None`."""
    for mixin, name, postprocess in TASK_SIGNATURES:
        if isinstance(model, mixin):
            return name, postprocess
    return None


def make_generation_function(model, batch_size, prompt_length, max_new_tokens, **generate_kwargs):
    """A `tf.function` over int32 `input_ids`, `attention_mask` `(batch, prompt_len)` with
    `batch <= batch_size` and `prompt_len <= prompt_length`, returning `{"sequences": model.generate(...)}`.

    - causal LMs: left-padded prompts; `sequences (batch * num_return_sequences, prompt_len + generated)`;
    - encoder-decoders (`Seq2SeqGenerationMixin`: T5, BART, ...): `prompt_length` is the longest source,
      padded anywhere (given by the mask); `sequences (batch * num_return_sequences, 1 + generated)`, the
      decoder tokens from `decoder_start_token_id` on, as `model.generate()` returns them.

    The generation loop (one XLA program: for an encoder-decoder, the encoder once, then the decoder
    over a preallocated KV cache) is compiled once, for `(batch_size, prompt_length)`: smaller inputs
    are padded inside the graph (prompts on the left, sources on the right, with a 0 attention mask,
    which does not change the result; the batch with copies of its last row, which cannot change when
    generation stops) and the padding is cut from the output. Larger inputs, or a mask of another
    shape, raise `tf.errors.InvalidArgumentError` naming the limits.

    Args:
        model: a model with `generate()` (causal or encoder-decoder LM).
        batch_size: int, most prompts (sources) per call.
        prompt_length: int, longest prompt (source).
        max_new_tokens: int, tokens generated at most.
        **generate_kwargs: other `generate()` arguments (`num_beams`, `num_return_sequences`, ...).

    Raises:
        TypeError: `model` has no `generate()`.
        ValueError: for a size that is not a positive integer.
    """
    if not hasattr(model, "generate"):
        raise TypeError(f"{type(model).__name__} has no generate(); generation signatures need a causal or "
                        "encoder-decoder LM.")
    for name, value in (("batch_size", batch_size), ("prompt_length", prompt_length)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"generation {name} must be a positive integer. Received: {name}={value!r}")
    model.build_from_dummy_inputs()
    encoder_decoder = isinstance(model, Seq2SeqGenerationMixin)
    spec = [tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")]
    limits = (f"The 'generate' signature takes int32 input_ids and attention_mask of one shape (batch, prompt_len) "
              f"with 1 <= batch <= {batch_size} and 1 <= prompt_len <= {prompt_length} (export_saved_model "
              "generation={'batch_size': ..., 'prompt_length': ...}); split or truncate larger inputs.")

    @tf.function(input_signature=spec)
    def generate(input_ids, attention_mask):
        shape = tf.shape(input_ids)
        batch, length = shape[0], shape[1]
        checks = [
            tf.debugging.assert_equal(tf.shape(attention_mask), shape, message=limits),
            tf.debugging.assert_greater(tf.reduce_min(shape), 0, message=limits),
            tf.debugging.assert_less_equal(batch, batch_size, message=limits),
            tf.debugging.assert_less_equal(length, prompt_length, message=limits),
        ]
        with tf.control_dependencies(checks):
            rows = tf.minimum(tf.range(batch_size), batch - 1)  # extra rows repeat the last prompt
            # Encoder-decoders: sources padded on the right (absolute positions stay); prompts on the left.
            padding = [[0, 0], [0, prompt_length - length] if encoder_decoder else [prompt_length - length, 0]]
            ids = tf.pad(tf.gather(input_ids, rows), padding)  # (batch_size, prompt_length), id 0 under mask 0
            mask = tf.pad(tf.gather(attention_mask, rows), padding)
        ids = tf.ensure_shape(ids, [batch_size, prompt_length])
        mask = tf.ensure_shape(mask, [batch_size, prompt_length])
        sequences = model.generate(ids, attention_mask=mask, max_new_tokens=max_new_tokens, **generate_kwargs)
        returned = tf.shape(sequences)[0] // batch_size  # num_return_sequences: rows b * n + r
        sequences = sequences[: batch * returned]
        return {"sequences": sequences if encoder_decoder else sequences[:, prompt_length - length:]}

    return generate
