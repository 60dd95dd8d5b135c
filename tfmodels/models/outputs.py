"""`ModelOutput`: the dict every tfmodels model returns, with attribute access.

    outputs = model(batch)
    outputs["logits"] is outputs.logits   # True
    outputs[0]                            # the first field, as in transformers

It is a plain `dict` subclass, so it works wherever Keras and TensorFlow take
dict outputs: `fit()`/`evaluate()`/`predict()`, `tf.function` and XLA,
SavedModel signatures (exported as a dict of tensors), `tf.nest`.

Keras 3 flattens nested structures with `optree` in its own namespace
("keras", checked against Keras 3.15): a dict subclass is a leaf there unless
registered, so `ModelOutput` registers itself as a node whose children are the
values in sorted-key order, exactly as for a plain dict.
"""

try:
    import optree
except ImportError:  # Keras then uses dm-tree, which treats any Mapping as a dict.
    optree = None


class ModelOutput(dict):
    """Model outputs by Hugging Face name, readable as keys or attributes.

    Integer and slice indices select fields in order (`outputs[0]` is `loss`
    when present, else the first output), as `transformers.ModelOutput` does.

    Raises:
        AttributeError: for an attribute that is not an output (the message
            lists the outputs present).
    """

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"This output has no field {name!r}. Fields present: {list(self.keys())} (outputs that were not "
                "requested, e.g. `hidden_states` without output_hidden_states=True, are absent)."
            ) from None

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self):
        """The values in field order."""
        return tuple(self.values())

    def __reduce__(self):
        return type(self), (dict(self),)


def _flatten(output):
    keys = sorted(output)
    return [output[k] for k in keys], tuple(keys), tuple(keys)


def _unflatten(keys, values):
    return ModelOutput(zip(keys, values))


if optree is not None:
    optree.register_pytree_node(ModelOutput, _flatten, _unflatten, namespace="keras")


def as_model_output(outputs):
    """Wraps a model's dict outputs in a `ModelOutput` (other values unchanged)."""
    if isinstance(outputs, dict) and not isinstance(outputs, ModelOutput):
        return ModelOutput(outputs)
    return outputs
