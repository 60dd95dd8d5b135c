"""SavedModel export (TF Serving signatures)."""

from tfmodels.export.saved_model import export_saved_model, make_serving_function

__all__ = ["export_saved_model", "make_serving_function"]
