"""Text generation: `generate()` with greedy, sampling and beam search over a KV cache, compiled with XLA."""

from tfmodels.generation.utils import TRACE_COUNTS, GenerationMixin

__all__ = ["GenerationMixin", "TRACE_COUNTS"]
