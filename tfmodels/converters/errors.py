"""Errors raised while reading, converting or writing checkpoints."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be read (corrupt, truncated, wrong format)."""


class WeightMismatchError(ValueError):
    """Checkpoint keys or shapes do not match the model built from the config.

    Attributes:
        missing: Hugging Face keys the model needs that the checkpoint lacks.
        unexpected: checkpoint keys the model does not use.
        mismatched: `(key, checkpoint_shape, model_shape)` triples.
    """

    def __init__(self, message, missing=(), unexpected=(), mismatched=()):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


class UnknownModelTypeError(ValueError):
    """`config.json` names a `model_type` tfmodels does not implement."""


class BufferMismatchError(WeightMismatchError):
    """A checkpoint tensor the model recomputes (a sinusoid table, a position-id
    buffer, a tied decoder weight) differs from the model's value.

    Attributes:
        differing: `(key, max_abs_difference)` pairs (`inf` for another shape).
    """

    def __init__(self, message, differing=()):
        super().__init__(message)
        self.differing = list(differing)
