"""`TaskTrainingMixin`: Keras training hooks for the heads' built-in losses and metrics.

`PreTrainedModel` mixes this in: `compile()` without `loss=` trains on the
head's `task_loss` (labels in the input dict or as `y`), `sample_weight` and
`class_weight` weigh it as Keras' losses do, metrics skip `-100` labels, and
under `tf.distribute` each replica returns its share of the global loss
(`tfmodels.layers.losses.replica_share`).

Keras internals used (checked against Keras 3.15.1): `Model._compile_loss`
(whether `compile()` got a loss), `Model._maybe_symbolic_build` (the TF
trainer's first-batch build, overridden for dict batches under a strategy)
and the `_keras_mask` attribute that Keras' metrics read.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers.losses import IGNORE_INDEX, broadcast_sample_weight, replica_share


def _plain(outputs):
    """A `ModelOutput` as the plain dict Keras' compiled losses and metrics expect (same keys and values)."""
    return dict(outputs) if isinstance(outputs, dict) and type(outputs) is not dict else outputs


class TaskTrainingMixin:
    """Training hooks of `PreTrainedModel` (see the module docstring).

    Heads set `label_names`, optionally `loss_input_names` (inputs their loss
    also reads, e.g. `attention_mask`), and implement `task_loss`.
    """

    label_names = ()
    loss_input_names = ()

    def task_loss(self, labels, outputs, sample_weight=None):
        """The head's standard loss (a function of `tfmodels.layers.losses`).

        Args:
            labels: dict keyed by `label_names` (plus any `loss_input_names`
                given with the inputs).
            outputs: the model's output dict.
            sample_weight: optional `(batch,)` per-example weights (broadcast
                over each example's tokens in token-level heads), or
                labels-shaped per-token weights.

        Returns:
            float32 scalar (see `tfmodels.layers.losses.weighted_mean`).
        """
        raise NotImplementedError(f"{type(self).__name__} has no task loss; pass `loss=` to compile().")

    def pop_labels(self, inputs):
        """Removes the head's labels from a prepared input dict; returns them (with any `loss_input_names`).

        Returns:
            dict of labels, or `None` unless every one of `label_names` is present (then the call
            returns no `loss`, as in `transformers`).
        """
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        if not labels or len(labels) != len(self.label_names):
            return None
        labels.update({k: inputs[k] for k in self.loss_input_names if inputs.get(k) is not None})
        return labels

    def with_task_loss(self, outputs, labels):
        """`{"loss": task_loss(labels, outputs), **outputs}` when `labels` (from `pop_labels`) is given.

        The one place a call's labels become its `loss` output; `fit()` reaches
        the same `task_loss` through `compute_loss`.
        """
        if labels is None:
            return outputs
        return {"loss": self.task_loss(labels, outputs), **outputs}

    def _labels_from(self, x, y):
        if y is not None:
            if isinstance(y, dict):
                return y
            if len(self.label_names) != 1:
                raise ValueError(
                    f"{type(self).__name__} needs labels {list(self.label_names)}; pass them as a dict `y`."
                )
            return {self.label_names[0]: y}
        if isinstance(x, dict):
            labels = {k: x[k] for k in self.label_names if k in x}
            if labels:
                return labels
        return None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The task loss on `labels` (compiled without `loss=`), else Keras' compiled loss.

        `sample_weight` (from `fit`/`evaluate`, or made by Keras from
        `class_weight`) weighs each example as Keras' losses do; under
        `tf.distribute` the result is this replica's share of the global loss.
        """
        if self._compile_loss is not None:
            # Keras' compiled losses and metrics match their structure against plain dicts.
            return super().compute_loss(x=x, y=y, y_pred=_plain(y_pred), sample_weight=sample_weight,
                                        training=training)
        labels = self._labels_from(x, y)
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} was compiled without a loss, so it trains on its standard "
                f"loss, which needs labels {list(self.label_names)} in the input dict or as `y`."
            )
        if isinstance(x, dict):
            labels = {**labels, **{k: x[k] for k in self.loss_input_names if x.get(k) is not None}}
        loss = self.task_loss(labels, y_pred, sample_weight=self._one_sample_weight(sample_weight))
        if self.losses:
            loss = loss + ops.cast(ops.sum(self.losses), loss.dtype)
        return replica_share(loss)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras `fit`; labels inside a dict `x` are moved to `y` when weights are given.

        Keras drops `sample_weight` (and cannot map `class_weight`) when `y`
        is `None`, so with labels inside the input dict and a
        `sample_weight`/`class_weight` argument the labels are passed as `y`.
        Keras maps `class_weight` to one weight per example; for integer
        token-level labels (an array `(batch, seq_len)`) with the built-in
        loss each token gets its class's weight instead.
        """
        x, y = self._labels_as_y(x, y, kwargs)
        self._build_optimizer_before_tracing()
        class_weight = kwargs.get("class_weight")
        token_labels = isinstance(y, np.ndarray) and y.ndim >= 2 and np.issubdtype(y.dtype, np.integer)
        if class_weight is not None and token_labels and self._compile_loss is None:
            lookup = np.vectorize(lambda c: float(class_weight.get(int(c), 1.0)), otypes=["float32"])
            kwargs = {**kwargs, "class_weight": None, "sample_weight": lookup(y)}
        return super().fit(x, y, *args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        """Keras `train_on_batch`, with the optimizer built before its train function is traced."""
        self._build_optimizer_before_tracing()
        return super().train_on_batch(*args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras `evaluate`, with the label handling of `fit`."""
        x, y = self._labels_as_y(x, y, kwargs)
        return super().evaluate(x, y, *args, **kwargs)

    def _labels_as_y(self, x, y, kwargs):
        weighted = kwargs.get("sample_weight") is not None or kwargs.get("class_weight") is not None
        if y is not None or not weighted or not isinstance(x, dict) or not any(k in x for k in self.label_names):
            return x, y
        labels = {k: x[k] for k in self.label_names if k in x}
        x = {k: v for k, v in x.items() if k not in labels}
        return x, (next(iter(labels.values())) if len(labels) == 1 else labels)

    def _one_sample_weight(self, sample_weight):
        """The task loss's sample weight when Keras gives one per label.

        With `y` a dict of labels, Keras replicates a `sample_weight` array
        over its entries (or the user passes one per entry); a task loss takes
        one weight for all its labels: the entry of the head's first label.
        """
        if isinstance(sample_weight, dict):
            names = [k for k in self.label_names if k in sample_weight] or list(sample_weight)
            return sample_weight[names[0]] if names else None
        if isinstance(sample_weight, (list, tuple)):
            return sample_weight[0] if sample_weight else None
        return sample_weight

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Builds compile state from one replica's batch under a strategy.

        Keras 3's TF trainer gets the shapes of the first distributed batch by
        `strategy.reduce("MEAN", batch)`, which fails for dict batches under
        `MultiWorkerMirroredStrategy` (and would average token ids); the
        first local replica's batch gives the same shapes without a reduce.
        """
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is None or iterator is None or data_batch is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, data_iterator in iterator:
            data_batch = next(data_iterator)
            break
        data_batch = tf.nest.map_structure(
            lambda v: strategy.experimental_local_results(v)[0]
            if isinstance(v, tf.distribute.DistributedValues) else v,
            data_batch,
        )
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def _build_optimizer_before_tracing(self):
        """Creates the optimizer's slot variables now, outside the train function.

        Without a strategy Keras 3 defers that build to the first trace of the
        train function; a `tf.function` that creates variables is traced twice,
        so the whole forward, backward and optimizer step were traced twice in
        the first `fit()` call (about a third of BERT-base's first step). Keras
        builds the same way (`optimizer.build(trainable_variables)`) under a
        strategy (then it builds it itself, in the strategy's scope, so this
        does nothing); an unbuilt model keeps Keras' deferred build. Only
        `fit` and `train_on_batch` call it: `evaluate` and `predict` never
        allocate the slots.
        """
        optimizer = getattr(self, "optimizer", None)
        if getattr(self, "_distribute_strategy", None) is not None:
            return
        if optimizer is None or optimizer.built or not self.built:
            return
        if not all(layer.built for layer in self._flatten_layers()):
            return
        optimizer.build(self.trainable_variables)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        results = self._task_metrics(x, y, _plain(y_pred), sample_weight)
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 reduces multi-worker logs with `strategy.reduce("MEAN", v, axis=0)`, which fails on
            # scalars (tensorflow/tensorflow#72388). Metric variables are summed over replicas already, so
            # every replica holds the same value and a (1,)-shaped copy reduces to it.
            results = {k: ops.reshape(v, (1,)) if len(getattr(v, "shape", (0,))) == 0 else v
                       for k, v in results.items()}
        return results

    def _metric_targets(self, labels, logits):
        """The `(labels, logits)` pair Keras metrics compare; causal LMs shift them."""
        return labels, logits

    def _task_metrics(self, x, y, y_pred, sample_weight=None):
        """Compiled metrics of a single-label head, with `-100` labels masked out.

        The mask reaches every metric: as the Keras mask of the logits (read
        by the metrics passed as `metrics=`, which get no sample weight) and
        inside the sample weight of `weighted_metrics=` (times the user's
        `sample_weight`, broadcast over the tokens as in the loss).
        """
        labels = self._labels_from(x, y) if self._compile_loss is None else None
        if labels is None or len(labels) != 1 or "logits" not in y_pred:
            return super().compute_metrics(x, y, y_pred, sample_weight)
        label, logits = self._metric_targets(ops.convert_to_tensor(next(iter(labels.values()))), y_pred["logits"])
        valid = ops.not_equal(label, IGNORE_INDEX)
        weights = ops.cast(valid, "float32")
        sample_weight = self._one_sample_weight(sample_weight)
        if sample_weight is not None:
            weights = weights * broadcast_sample_weight(sample_weight, weights)
        label = ops.where(valid, label, ops.zeros_like(label))
        logits = tf.identity(logits)
        logits._keras_mask = valid  # the attribute Keras' metrics read (`keras.src.backend.get_keras_mask`)
        return super().compute_metrics(x, label, logits, weights)
