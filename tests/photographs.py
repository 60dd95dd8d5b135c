"""Real photographs for the vision tests: the sample images shipped inside scikit-image (`skimage.data`).

astronaut (512x512, RGB), chelsea (300x451, RGB, a cat), coffee (400x600, RGB, a cup), rocket
(427x640, RGB) and camera (512x512, grayscale: a cameraman). All are stored in the package; nothing
is downloaded.
"""

import io

import numpy as np
import pytest

RGB_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
GRAY_PHOTOS = ("camera",)
CAPTIONS = {"astronaut": "a photo of an astronaut", "chelsea": "a photo of a cat", "coffee": "a photo of a cup of coffee",
            "rocket": "a photo of a rocket on the launch pad"}


def photo(name):
    """uint8 `(height, width, 3)` (or `(height, width)` for grayscale) pixels of a scikit-image sample."""
    data = pytest.importorskip("skimage.data", reason="the real photographs ship with scikit-image (test extra)")
    return np.ascontiguousarray(getattr(data, name)())


def encoded(pixels, format, **options):
    """`pixels` encoded by Pillow as `format` ("PNG", "JPEG"), bytes."""
    import PIL.Image

    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format, **options)
    return buffer.getvalue()
