"""Text generation: `generate()` with greedy, sampling and beam search over a KV cache, compiled with XLA."""

from tfmodels.generation.criteria import StopOnTokenSequences
from tfmodels.generation.utils import TRACE_COUNTS, GenerationMixin

__all__ = ["GenerationMixin", "StopOnTokenSequences", "TRACE_COUNTS"]
