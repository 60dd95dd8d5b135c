"""Standard task losses, with Hugging Face semantics, computed in float32.

Each function takes integer/float labels and the head's logits and returns
a scalar float32 loss, matching the loss the `transformers` PyTorch head
computes for the same labels.
"""

from keras import ops


def _as_float32(x):
    return ops.cast(x, "float32")


def masked_sparse_categorical_crossentropy(labels, logits, ignore_index=-100):
    """Mean cross-entropy over the labels that are not `ignore_index`.

    Args:
        labels: int tensor `(...)`; entries equal to `ignore_index` are skipped.
        logits: float tensor `(..., num_classes)`.
        ignore_index: int, label value to skip (`-100` in Hugging Face).

    Returns:
        float32 scalar; 0 when every label is ignored. Under `tf.distribute`
        with several replicas, the sum over this replica's labels divided by
        the global label count, times the number of replicas (see
        `_count_over_replicas`).
    """
    num_classes = ops.shape(logits)[-1]
    logits = ops.reshape(_as_float32(logits), (-1, num_classes))
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    valid = ops.not_equal(labels, ignore_index)
    safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
    log_probs = ops.log_softmax(logits, axis=-1)
    picked = ops.take_along_axis(log_probs, safe_labels[:, None], axis=-1)[:, 0]
    weights = ops.cast(valid, "float32")
    count, num_replicas = _count_over_replicas(ops.sum(weights))
    return -ops.sum(picked * weights) * num_replicas / ops.maximum(count, 1.0)


def _count_over_replicas(count):
    """Sums a label count over the replicas of a `tf.distribute` step.

    Inside a replica context with several replicas the count of valid labels
    is all-reduced, so that each replica's loss, once divided by the number
    of replicas (`PreTrainedModel.compute_loss`), is its share of the mean
    over the global batch, even when replicas hold different numbers of
    ignored (-100) labels. Elsewhere returns `(count, 1)`.
    """
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count, 1
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(count))
    return count, context.num_replicas_in_sync


def sequence_classification_loss(labels, logits, problem_type=None):
    """Loss of a sequence classification head, chosen as Hugging Face does.

    Args:
        labels: `(batch,)` int class ids, `(batch,)`/`(batch, 1)` floats for
            regression, or `(batch, num_labels)` floats (multi-label).
        logits: float tensor `(batch, num_labels)`.
        problem_type: `"regression"`, `"single_label_classification"`,
            `"multi_label_classification"` or `None` to infer it from
            `num_labels` and the labels' dtype.

    Returns:
        float32 scalar.
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
    logits = _as_float32(logits)
    if problem_type == "regression":
        labels = _as_float32(labels)
        if num_labels == 1:
            return ops.mean(ops.square(ops.reshape(logits, (-1,)) - ops.reshape(labels, (-1,))))
        return ops.mean(ops.square(logits - labels))
    if problem_type == "single_label_classification":
        return masked_sparse_categorical_crossentropy(labels, logits)
    if problem_type == "multi_label_classification":
        labels = _as_float32(labels)
        # Numerically stable binary cross-entropy with logits.
        loss = ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
        return ops.mean(loss)
    raise ValueError(
        "problem_type must be 'regression', 'single_label_classification' or "
        f"'multi_label_classification'. Received: problem_type={problem_type!r}"
    )


def span_loss(start_positions, end_positions, start_logits, end_logits):
    """Question-answering span loss: mean of start and end cross-entropies.

    Positions outside `[0, seq_len)` are clamped to `seq_len` and ignored,
    as in `transformers`' `BertForQuestionAnswering`.

    Args:
        start_positions, end_positions: int tensors `(batch,)` or `(batch, 1)`.
        start_logits, end_logits: float tensors `(batch, seq_len)`.

    Returns:
        float32 scalar.
    """
    seq_len = ops.shape(start_logits)[-1]

    def one(positions, logits):
        positions = ops.reshape(ops.cast(positions, "int32"), (-1,))
        positions = ops.clip(positions, 0, seq_len)
        positions = ops.where(ops.equal(positions, seq_len), -100, positions)
        return masked_sparse_categorical_crossentropy(positions, logits)

    return (one(start_positions, start_logits) + one(end_positions, end_logits)) / 2.0
