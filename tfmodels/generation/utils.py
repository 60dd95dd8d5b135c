"""Placeholder, replaced below."""


class GenerationMixin:
    pass
