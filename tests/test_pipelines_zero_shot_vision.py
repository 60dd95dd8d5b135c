"""`zero-shot-classification`, `image-classification` and `zero-shot-image-classification` pipelines
against `transformers.pipeline` (PyTorch, v5.24) on the same tiny checkpoints.

Images are real photographs shipped inside scikit-image (`skimage.data`:
astronaut, chelsea the cat, coffee, rocket), given as arrays, Pillow images
and files. Labels must be identical, scores within 1e-5.
"""

import numpy as np
import pytest
import skimage.data
from PIL import Image

import tfmodels
from tfmodels.processors import ImageProcessor
from tests.pipeline_checkpoints import build
from tests.test_pipelines import assert_same

PHOTOS = {name: getattr(skimage.data, name)() for name in ("astronaut", "chelsea", "coffee", "rocket")}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    import transformers

    root = tmp_path_factory.mktemp("pipelines")
    made = {}

    def get(task, kind):
        if (task, kind) not in made:
            path = build(kind, root / kind)
            made[task, kind] = (tfmodels.pipeline(task, model=path), transformers.pipeline(task, model=path))
        return made[task, kind]
    return get


def check(pipelines, task, kind, inputs, **kwargs):
    ours, reference = pipelines(task, kind)
    expected = reference(inputs, **kwargs)
    assert_same(ours(inputs, **kwargs), expected)
    return expected


def test_zero_shot_classification(pipelines):
    task, kind = "zero-shot-classification", "bert-nli"
    labels = ["cat", "city", "house"]
    check(pipelines, task, kind, "the cat sat on the mat", candidate_labels=labels)
    check(pipelines, task, kind, ["john lives in paris", "the dog ran far away"], candidate_labels="dog, city",
          batch_size=3)
    check(pipelines, task, kind, "mary works at google", candidate_labels=labels, multi_label=True,
          hypothesis_template="this is about {} .")
    check(pipelines, task, kind, "the big red house", candidate_labels=["house"])  # one label: entail vs contradict
    ours, _ = pipelines(task, kind)
    assert ours.entailment_id == 2
    assert ours("the cat", ["cat", "dog"]) == ours("the cat", candidate_labels=["cat", "dog"])
    with pytest.raises(ValueError, match="at least one label"):
        ours("the cat", candidate_labels=[])
    with pytest.raises(ValueError, match="no place for the label"):
        ours("the cat", candidate_labels=["cat"], hypothesis_template="no slot here")


def test_image_classification_on_real_photographs(pipelines, tmp_path):
    task, kind = "image-classification", "vit-image-classification"
    path = tmp_path / "chelsea.png"
    Image.fromarray(PHOTOS["chelsea"]).save(path)
    result = check(pipelines, task, kind, Image.fromarray(PHOTOS["astronaut"]))
    assert len(result) == 4  # top_k 5 capped at the 4 labels
    check(pipelines, task, kind, [str(path), Image.fromarray(PHOTOS["coffee"]), Image.fromarray(PHOTOS["rocket"])],
          top_k=2, batch_size=2)
    check(pipelines, task, kind, str(path), function_to_apply="sigmoid")
    ours, _ = pipelines(task, kind)
    with pytest.raises(ValueError, match="function_to_apply"):
        ours(str(path), function_to_apply="tanh")
    with pytest.raises(ValueError, match="Incorrect image source"):
        ours(str(tmp_path / "missing.png"))


def test_zero_shot_image_classification_on_real_photographs(pipelines):
    task, kind = "zero-shot-image-classification", "clip"
    labels = ["cat", "dog", "house", "tree"]
    check(pipelines, task, kind, Image.fromarray(PHOTOS["chelsea"]), candidate_labels=labels)
    check(pipelines, task, kind, [Image.fromarray(PHOTOS[n]) for n in ("astronaut", "coffee", "rocket")],
          candidate_labels=labels[:3], hypothesis_template="a photo of the {} .", batch_size=2)
    ours, _ = pipelines(task, kind)
    with pytest.raises(ValueError, match="candidate_labels"):
        ours(Image.fromarray(PHOTOS["chelsea"]))


def test_image_pipelines_need_an_image_processor(tmp_path):
    path = build("vit-image-classification", tmp_path / "vit")
    model = tfmodels.AutoModelForImageClassification.from_pretrained(path)
    with pytest.raises(ValueError, match="image_processor="):
        tfmodels.pipeline("image-classification", model=model)
    processor = ImageProcessor.from_pretrained(path)
    pipe = tfmodels.pipeline("image-classification", model=model, image_processor=processor)
    assert np.isclose(sum(r["score"] for r in pipe(PHOTOS["coffee"])), 1.0, atol=1e-5)
