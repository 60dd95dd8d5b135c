"""SavedModel export (TF Serving signatures, in-graph tokenizer)."""

from tfmodels.export.saved_model import export_saved_model, make_serving_function
from tfmodels.export.tokenizer import InGraphTokenizer

__all__ = ["InGraphTokenizer", "export_saved_model", "make_serving_function"]
