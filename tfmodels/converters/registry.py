"""Weight tables by Hugging Face `model_type`."""

from tfmodels.converters.errors import UnknownModelTypeError

WEIGHT_TABLES = {}


def register_weight_table(model_type):
    """Decorator: registers `fn(model) -> WeightTable` for `model_type`."""

    def decorator(fn):
        WEIGHT_TABLES[model_type] = fn
        return fn

    return decorator


def weight_table_for(model):
    """Returns the `WeightTable` of a built tfmodels model.

    Raises:
        UnknownModelTypeError: if no table is registered for its `model_type`.
    """
    try:
        table_fn = WEIGHT_TABLES[model.model_type]
    except KeyError:
        raise UnknownModelTypeError(
            f"No weight table for model_type={model.model_type!r}. Registered: {sorted(WEIGHT_TABLES)}."
        ) from None
    return table_fn(model)
