"""Standard task losses, with Hugging Face semantics, computed in float32.

This module is the only place where labels become a loss. Every head's
loss is built from per-element losses (cross-entropy, binary cross-entropy,
squared error) reduced by `weighted_mean`, which fixes three rules:

- **Ignored labels.** Entries whose label is `-100` (`IGNORE_INDEX`), or
  that a head masks out otherwise (ELECTRA's padding), count for nothing.
- **Sample weights, as Keras applies them.** `sample_weight` multiplies the
  per-element losses; the divisor stays the number of valid elements (Keras'
  default `"sum_over_batch_size"` reduction with a mask), so a weight of 0
  removes an example and a weight of 2 counts it twice. A per-example weight
  `(batch,)` is broadcast over that example's tokens (or labels, for
  multi-label and multi-output regression); a weight of the labels' shape
  `(batch, seq_len)` weighs each token.
- **Global counts under `tf.distribute`.** Inside a replica context the
  count of valid elements is summed over all replicas, so each replica's
  loss, once passed through `replica_share`, is its exact share of the
  global-batch loss, even when replicas hold different numbers of `-100`
  labels: the shares (and their gradients) sum to the single-device loss.

Each loss function returns a float32 scalar that equals the `transformers`
PyTorch head's loss for the same logits and labels (without weights and on
one device). Under a strategy it is this replica's sum divided by the global
count, times the number of replicas (so a `MEAN` over replicas gives the
global loss); `replica_share` divides by the number of replicas.
"""

import tensorflow as tf
from keras import ops

IGNORE_INDEX = -100


def _as_float32(x):
    return ops.cast(x, "float32")


def _count_over_replicas(count):
    """Sums a count of valid elements over the replicas of a `tf.distribute` step.

    Returns:
        `(global_count, num_replicas)`; `(count, 1)` outside a replica
        context or with a single replica.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count, 1
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(count))
    return count, context.num_replicas_in_sync


def replica_share(loss):
    """This replica's share of the global loss: `loss / num_replicas_in_sync`.

    Under `tf.distribute` the gradients of every replica are summed, so the
    loss each replica differentiates must be its share of the global-batch
    loss (what Keras' own `compile(loss=...)` does). With one replica this is
    the identity; Keras' `fit()` multiplies it back when it reports the loss.

    Args:
        loss: float scalar, a loss from this module (plus any layer losses).

    Returns:
        the scaled loss, same dtype.
    """
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if num_replicas > 1:
        loss = loss * ops.cast(1.0 / num_replicas, loss.dtype)
    return loss


def broadcast_sample_weight(sample_weight, values):
    """Float32 sample weights broadcastable to `values (batch, ...)`.

    A weight of the same rank as `values` is used as is (per element); a
    `(batch,)` or `(batch, 1)` weight gets trailing unit axes (per example).
    """
    weight = _as_float32(ops.convert_to_tensor(sample_weight))
    rank = len(values.shape)
    if len(weight.shape) == rank:
        return weight
    weight = ops.reshape(weight, (-1,))
    return ops.reshape(weight, (-1,) + (1,) * (rank - 1))


def weighted_mean(values, valid=None, sample_weight=None):
    """Sum of weighted per-element losses over the (global) number of valid elements.

    Args:
        values: float tensor `(batch, ...)` of per-element losses.
        valid: optional bool tensor of `values`' shape; `None` means all valid.
        sample_weight: optional `(batch,)` per-example or `values`-shaped
            per-element weights (see the module docstring).

    Returns:
        float32 scalar: `sum(values * valid * sample_weight) / count(valid)`,
        0 when nothing is valid. Under `tf.distribute` the count is global
        and the result is multiplied by the number of replicas.
    """
    values = _as_float32(values)
    weights = ops.ones_like(values) if valid is None else _as_float32(valid)
    count, num_replicas = _count_over_replicas(ops.sum(weights))
    if sample_weight is not None:
        weights = weights * broadcast_sample_weight(sample_weight, values)
    return ops.sum(values * weights) * float(num_replicas) / ops.maximum(count, 1.0)


def sparse_categorical_crossentropy(labels, logits, ignore_index=IGNORE_INDEX, from_logits=True):
    """Per-element cross-entropy and validity.

    Args:
        labels: int tensor `(...)`; entries equal to `ignore_index` are invalid.
        logits: float tensor `(..., num_classes)`: logits, or log-probabilities
            with `from_logits=False` (Transformer-XL's adaptive softmax).
        ignore_index: int, label value to skip (`-100` in Hugging Face).
        from_logits: bool, whether `logits` still need a log-softmax.

    Returns:
        `(losses, valid)`: float32 `(...)` and bool `(...)`.
    """
    log_probs = _as_float32(logits)
    if from_logits:
        log_probs = ops.log_softmax(log_probs, axis=-1)
    labels = ops.cast(labels, "int32")
    valid = ops.not_equal(labels, ignore_index)
    safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
    picked = ops.take_along_axis(log_probs, safe_labels[..., None], axis=-1)[..., 0]
    return -picked, valid


def masked_sparse_categorical_crossentropy(labels, logits, ignore_index=IGNORE_INDEX, sample_weight=None,
                                           from_logits=True):
    """Mean cross-entropy over the labels that are not `ignore_index` (PyTorch `CrossEntropyLoss`).

    Args:
        labels: int tensor `(batch, ...)`.
        logits: float tensor `(batch, ..., num_classes)`.
        ignore_index: int, label value to skip.
        sample_weight: optional `(batch,)` or labels-shaped weights.
        from_logits: bool, `False` when `logits` are log-probabilities.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    losses, valid = sparse_categorical_crossentropy(labels, logits, ignore_index, from_logits)
    return weighted_mean(losses, valid, sample_weight)


def binary_crossentropy(labels, logits, mask=None, sample_weight=None):
    """Mean binary cross-entropy with logits (PyTorch `BCEWithLogitsLoss`).

    Args:
        labels: 0/1 (or soft) targets of `logits`' shape; `-100` entries are ignored.
        logits: float tensor `(batch, ...)`.
        mask: optional tensor of `logits`' shape; only entries equal to 1
            count (ELECTRA and Funnel discriminators pass `attention_mask`).
        sample_weight: optional `(batch,)` or `logits`-shaped weights.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    logits = _as_float32(logits)
    labels = ops.convert_to_tensor(labels)
    valid = ops.not_equal(labels, IGNORE_INDEX)
    if mask is not None:
        valid = ops.logical_and(valid, ops.equal(ops.reshape(mask, ops.shape(logits)), 1))
    targets = _as_float32(labels)
    # Numerically stable form of -(t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))).
    losses = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    return weighted_mean(losses, valid, sample_weight)


def mean_squared_error(labels, predictions, sample_weight=None):
    """Mean squared error over every element (PyTorch `MSELoss`).

    Args:
        labels, predictions: float tensors of the same shape `(batch, ...)`.
        sample_weight: optional `(batch,)` or element-wise weights.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    return weighted_mean(ops.square(_as_float32(predictions) - _as_float32(labels)), None, sample_weight)


def sequence_classification_loss(labels, logits, problem_type=None, sample_weight=None):
    """Loss of a sequence classification head, chosen as Hugging Face does.

    Args:
        labels: `(batch,)` int class ids, `(batch,)`/`(batch, 1)` floats for
            regression, or `(batch, num_labels)` floats (multi-label).
        logits: float tensor `(batch, num_labels)`.
        problem_type: `"regression"`, `"single_label_classification"`,
            `"multi_label_classification"` or `None` to infer it from
            `num_labels` and the labels' dtype.
        sample_weight: optional `(batch,)` per-example weights.

    Returns:
        float32 scalar.

    Raises:
        ValueError: for an unknown `problem_type`.
    """
    num_labels = logits.shape[-1]
    labels = ops.convert_to_tensor(labels)
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif "int" in str(labels.dtype):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return mean_squared_error(ops.reshape(labels, (-1,)), ops.reshape(logits, (-1,)), sample_weight)
        return mean_squared_error(labels, logits, sample_weight)
    if problem_type == "single_label_classification":
        return masked_sparse_categorical_crossentropy(ops.reshape(labels, (-1,)), logits,
                                                      sample_weight=sample_weight)
    if problem_type == "multi_label_classification":
        return binary_crossentropy(labels, logits, sample_weight=sample_weight)
    raise ValueError(
        "problem_type must be 'regression', 'single_label_classification' or "
        f"'multi_label_classification'. Received: problem_type={problem_type!r}"
    )


def span_loss(start_positions, end_positions, start_logits, end_logits, sample_weight=None):
    """Question-answering span loss: mean of start and end cross-entropies.

    Positions outside `[0, seq_len)` are clamped to `seq_len` and ignored,
    as in `transformers`' `BertForQuestionAnswering`.

    Args:
        start_positions, end_positions: int tensors `(batch,)` or `(batch, 1)`.
        start_logits, end_logits: float tensors `(batch, seq_len)`.
        sample_weight: optional `(batch,)` per-example weights.

    Returns:
        float32 scalar.
    """
    seq_len = ops.shape(start_logits)[-1]

    def one(positions, logits):
        positions = ops.reshape(ops.cast(positions, "int32"), (-1,))
        positions = ops.clip(positions, 0, seq_len)
        positions = ops.where(ops.equal(positions, seq_len), IGNORE_INDEX, positions)
        return masked_sparse_categorical_crossentropy(positions, logits, sample_weight=sample_weight)

    return (one(start_positions, start_logits) + one(end_positions, end_logits)) / 2.0


def causal_lm_loss(labels, logits, sample_weight=None, from_logits=True):
    """Next-token cross-entropy: logits at `t` predict `labels[t + 1]`; -100 ignored.

    Args:
        labels: int tensor `(batch, seq_len)` (`labels = input_ids` works).
        logits: float tensor `(batch, seq_len, vocab_size)` (log-probabilities
            with `from_logits=False`).
        sample_weight: optional `(batch,)` per-example or `(batch, seq_len)`
            per-token weights (the weight of position `t + 1`'s label).
        from_logits: bool, `False` when `logits` are log-probabilities.

    Returns:
        float32 scalar.
    """
    labels = ops.convert_to_tensor(labels)
    if sample_weight is not None and len(ops.convert_to_tensor(sample_weight).shape) == len(labels.shape) == 2:
        sample_weight = ops.convert_to_tensor(sample_weight)[:, 1:]
    return masked_sparse_categorical_crossentropy(labels[:, 1:], logits[:, :-1], sample_weight=sample_weight,
                                                  from_logits=from_logits)


def contrastive_loss(logits_per_text):
    """CLIP's symmetric image-text contrastive loss (InfoNCE over the batch).

    The matching pairs lie on the diagonal: cross-entropy of each text over
    the images (rows) and of each image over the texts (columns), averaged.
    Under `tf.distribute` the negatives are the replica's own batch (the
    embeddings are not gathered across replicas).

    Args:
        logits_per_text: float tensor `(batch, batch)`, scaled cosine
            similarities of text `i` with image `j`; text and image batches
            must have the same size.

    Returns:
        float32 scalar, `(CE(logits_per_text) + CE(logits_per_text^T)) / 2`.

    References:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021. Parity reference:
        `transformers.models.clip.modeling_clip.image_text_contrastive_loss`.
    """
    logits = _as_float32(logits_per_text)
    labels = ops.arange(ops.shape(logits)[0], dtype="int32")
    caption_loss = masked_sparse_categorical_crossentropy(labels, logits)
    image_loss = masked_sparse_categorical_crossentropy(labels, ops.transpose(logits))
    return (caption_loss + image_loss) / 2.0


def masked_image_modeling_loss(pixel_values, reconstruction, mask, num_channels):
    """SimMIM's L1 reconstruction loss over the masked pixels.

    `sum(|pixel_values - reconstruction| * mask) / (sum(mask) + 1e-5) / num_channels`,
    with `mask` counted once per pixel (not per channel), as the reference.

    Args:
        pixel_values: float tensor `(batch, height, width, channels)`.
        reconstruction: float tensor of the same shape.
        mask: 0/1 or bool tensor `(batch, height, width)`, 1 = masked pixel.
        num_channels: int.

    Returns:
        float32 scalar.

    References:
        Xie et al., "SimMIM: A Simple Framework for Masked Image Modeling",
        2022. Parity reference: `transformers.ViTForMaskedImageModeling.forward`.
    """
    mask = _as_float32(mask)
    errors = ops.abs(_as_float32(pixel_values) - _as_float32(reconstruction)) * mask[..., None]
    return ops.sum(errors) / (ops.sum(mask) + 1e-5) / float(num_channels)


def _shift_left(target, pad_token_id):
    """`target (B, T)` shifted one token left, `pad_token_id` appended (the next-token labels of decoder inputs)."""
    target = ops.cast(target, "int32")
    pad = ops.full((ops.shape(target)[0], 1), pad_token_id, dtype="int32")
    return ops.concatenate([target[:, 1:], pad], axis=1)


def _smoothed_nll(ll, smooth, vocab_size, epsilon, reduce_loss):
    """`(1 - epsilon) * -ll + epsilon / vocab_size * -smooth`, summed over the batch with `reduce_loss`."""
    nll_loss, smooth_loss = -ll, -smooth
    if reduce_loss:
        nll_loss, smooth_loss = ops.sum(nll_loss), ops.sum(smooth_loss)
    return (1.0 - epsilon) * nll_loss + (epsilon / vocab_size) * smooth_loss


def rag_token_nll(log_probs, target, pad_token_id, reduce_loss=False, epsilon=0.0):
    """RAG-token negative log-likelihood of the decoder inputs under the document-marginalised distribution.

    The labels are `target` shifted left (its first token is the decoder start); `pad_token_id`
    positions count for nothing. With `epsilon > 0`, label smoothing over the vocabulary.

    Args:
        log_probs: float `(batch, target_len, vocab)`, the marginalised log-probabilities
            `logsumexp_z(log p(z | x) + log p(y_t | x, z, y_<t))`.
        target: int `(batch, target_len)`, the decoder inputs (`labels` as RAG feeds them).
        pad_token_id: int, the generator's padding id.
        reduce_loss: bool, sum the per-example losses.
        epsilon: float, label smoothing.

    Returns:
        float32 `(batch,)`, or a scalar with `reduce_loss`.

    References:
        Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks", NeurIPS 2020;
        `transformers.RagTokenForGeneration.get_nll`.
    """
    log_probs = _as_float32(log_probs)
    target = _shift_left(target, pad_token_id)
    keep = ops.cast(ops.not_equal(target, pad_token_id), "float32")  # (B, T)
    ll = ops.take_along_axis(log_probs, target[:, :, None], axis=-1)[..., 0] * keep
    smooth = ops.sum(log_probs, axis=-1) * keep
    return _smoothed_nll(ops.sum(ll, 1), ops.sum(smooth, 1), log_probs.shape[-1], epsilon, reduce_loss)


def rag_sequence_nll(seq_log_probs, doc_log_probs, target, pad_token_id, bos_token_id=None, reduce_loss=False,
                     epsilon=0.0, exclude_bos_score=False):
    """RAG-sequence negative log-likelihood: per document the sequence log-likelihood, then `logsumexp` over documents.

    As the reference, the document log-prior is added at the second target position, and with
    `exclude_bos_score` the first label is left out when every row's first label is `bos_token_id`.

    Args:
        seq_log_probs: float `(batch, n_docs, target_len, vocab)`, per-document log-probabilities.
        doc_log_probs: float `(batch, n_docs)`, `log_softmax(doc_scores)`.
        target: int `(batch, target_len)`, the decoder inputs.
        pad_token_id: int; bos_token_id: int or `None`.
        reduce_loss, epsilon: as `rag_token_nll`.
        exclude_bos_score: bool, see above.

    Returns:
        float32 `(batch,)`, or a scalar with `reduce_loss`.

    References: `transformers.RagSequenceForGeneration.get_nll`.
    """
    seq_log_probs = _as_float32(seq_log_probs)
    target = _shift_left(target, pad_token_id)
    target_len = seq_log_probs.shape[2]
    at_second = ops.cast(ops.equal(ops.arange(target_len), 1), "float32")  # (T,)
    log_probs = seq_log_probs + _as_float32(doc_log_probs)[:, :, None, None] * at_second[None, None, :, None]
    n_docs = log_probs.shape[1]
    index = ops.repeat(target[:, None, :, None], n_docs, axis=1)  # (B, n_docs, T, 1)
    keep = ops.cast(ops.not_equal(target, pad_token_id), "float32")[:, None, :]
    ll = ops.take_along_axis(log_probs, index, axis=-1)[..., 0] * keep  # (B, n_docs, T)
    smooth = ops.sum(log_probs, axis=-1) * keep
    ll_sum = ops.sum(ll, 2)
    if exclude_bos_score and bos_token_id is not None:
        use_bos = ops.all(ops.equal(target[:, 0], bos_token_id))
        ll_sum = ops.where(use_bos, ops.sum(ll[:, :, 1:], 2), ll_sum)
    ll_sum = ops.logsumexp(ll_sum, axis=1)
    smooth_sum = ops.logsumexp(ops.sum(smooth, 2), axis=1)
    return _smoothed_nll(ll_sum, smooth_sum, log_probs.shape[-1], epsilon, reduce_loss)
