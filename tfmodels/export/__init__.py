"""SavedModel export (TF Serving signatures, in-graph tokenizer and detokenizer)."""

from tfmodels.export.detokenizer import InGraphDetokenizer
from tfmodels.export.marian_tokenizer import MarianInGraphDetokenizer, MarianInGraphTokenizer
from tfmodels.export.saved_model import export_saved_model, make_serving_function
from tfmodels.export.tokenizer import InGraphTokenizer

__all__ = ["InGraphDetokenizer", "InGraphTokenizer", "MarianInGraphDetokenizer", "MarianInGraphTokenizer",
           "export_saved_model", "make_serving_function"]
