"""Text generation: `generate()` with greedy, sampling and beam search over a KV cache, compiled with XLA."""

from tfmodels.generation.criteria import StopOnTokenSequences, StopStringCriteria
from tfmodels.generation.utils import TRACE_COUNTS, GenerationMixin

__all__ = ["GenerationMixin", "StopOnTokenSequences", "StopStringCriteria", "TRACE_COUNTS"]
