"""FER+: the expression network that ships as the `ferplus` preset, and its data.

The large database is FER+ (35,710 web faces, 10 votes each; `annotations.read_ferplus`):

- `ferplus_datasets`: Train with the training augmentation (`data.downstream.face_augmentation`)
  and the vote distributions as targets (the FER+ paper's best protocol: cross-entropy on
  the label distribution); Valid and Test with their majority-vote labels, for scoring.
- `build_expression_network`: MT-VGG with the expression head only (VGG-Face conv blocks
  and fc6, the visual stream of the papers' sequence networks, so the trained stream can
  start an A/V-MT-VGG-RNN of the same width and face size), on grey faces: a
  `FaceRescaling(grayscale=True)` in the model turns colour crops grey as FER+'s were.

`recipes/pretrain.py` runs them: model selection on Valid only (best epoch by Valid
accuracy, then the test-time views' crop by `choose_test_time_crop`), Test scored once at
the end.

Example:
    >>> data = ferplus_datasets("ferplus", size=64, batch_size=64, seed=0)
    >>> model = compile_soft_labels(build_expression_network(width=0.5, input_size=64),
    ...                             learning_rate=1e-3, weight_decay=FERPLUS_WEIGHT_DECAY,
    ...                             total_steps=30 * data.steps_per_epoch)
    >>> model.fit(data.train, validation_data=data.validation_soft, epochs=30)
"""

import dataclasses
import math


FERPLUS_NETWORK = dict(feature_layer="fc6", normalization="gray", tasks=("expr",), num_expressions=8)
# AdamW's weight decay for FER+. Keras decays by weight_decay x learning rate per step, so
# 1e-4 hardly regularised; 0.05 won on Valid (BENCHMARKS.md, "FER+ pretraining").
FERPLUS_WEIGHT_DECAY = 0.05
# Centre crops the test-time views (`models.average_views`) are tried with, on Valid.
FERPLUS_TEST_TIME_CROPS = (0.85, 0.9, 0.95)


@dataclasses.dataclass(frozen=True)
class FerPlusData:
    """FER+ as `tf.data` pipelines of `({"faces"}, {"expression"})` batches.

    Attributes:
        train: augmented, shuffled Train faces with vote distributions `(batch, 8)`.
        validation_soft: Valid faces with vote distributions (the loss Keras reports).
        validation, test: Valid / Test faces with majority-vote labels `(batch,)`, for
            `evaluation.score_classes`.
        sizes: dict split -> number of images (after FER+'s protocol).
        steps_per_epoch: int. Training batches per epoch.
    """

    train: object
    validation_soft: object
    validation: object
    test: object
    sizes: dict
    steps_per_epoch: int


def ferplus_datasets(root, *, size, batch_size, seed=0, limit=None, erase=0.0):
    """Reads FER+ (`annotations.read_ferplus`) into training and scoring pipelines.

    Args:
        root: str or Path. The folder with `FER2013Train/`, `FER2013Valid/`, `FER2013Test/`.
        size: int. Side of the faces given to the network (48x48 images resized).
        batch_size: int. Images per batch.
        seed: int. Seed of the shuffle and the augmentation.
        limit: int or None. Use only the first `limit` images of each split (quick runs, tests).
        erase: float in [0, 1). Share of the Train faces with a random patch erased
            (`face_augmentation`'s `erase`).

    Returns:
        `FerPlusData`.
    """
    from affectkeras.annotations import read_ferplus
    from affectkeras.data.downstream import expression_image_dataset

    splits = {split: read_ferplus(root, split)[:limit] for split in ("train", "validation", "test")}
    shared = dict(size=size, batch_size=batch_size)
    return FerPlusData(
        train=expression_image_dataset(splits["train"], shuffle=True, seed=seed, augment=True, erase=erase,
                                       soft_labels=True, **shared),
        validation_soft=expression_image_dataset(splits["validation"], soft_labels=True, **shared),
        validation=expression_image_dataset(splits["validation"], **shared),
        test=expression_image_dataset(splits["test"], **shared),
        sizes={split: len(records) for split, records in splits.items()},
        steps_per_epoch=math.ceil(len(splits["train"]) / batch_size),
    )


def choose_test_time_crop(model, validation, *, crops=FERPLUS_TEST_TIME_CROPS, batch_size=64):
    """The centre crop whose four test-time views (`models.average_views`) score best on Valid.

    Args:
        model: keras.Model. The trained expression network (one view).
        validation: the Valid pipeline (`FerPlusData.validation`): model selection only.
        crops: sequence of float. Crops to try.
        batch_size: int. Faces per model call.

    Returns:
        `(crop, scores)`: the best crop by accuracy (the first of equals) and a dict crop ->
        its Valid scores (`evaluation.score_classes`).
    """
    from affectkeras.evaluation import score_classes
    from affectkeras.models import average_views

    scores = {crop: score_classes(average_views(model, crop=crop), validation, num_classes=8, batch_size=batch_size)
              for crop in crops}
    return max(scores, key=lambda crop: scores[crop]["accuracy"]), scores


def build_expression_network(*, width=0.5, input_size=64, dropout=0.5, name="ferplus"):
    """The FER+ network: MT-VGG's grey-face VGG-Face stream up to fc6, dropout, 8 expressions.

    Args:
        width: float. Width of VGG-Face (1.0 = the papers' full size).
        input_size: int. Face side in pixels.
        dropout: float. Dropout on fc6 before the expression head.
        name: str. Model name.

    Returns:
        A `keras.Model` from uint8 RGB faces `(batch, size, size, 3)` to `expression`
        `(batch, 8)` probabilities over `constants.EXPRESSIONS_8` (FER+'s contempt under
        Other).
    """
    from affectkeras.models import get_network

    return get_network("mt_vgg").build(width=width, input_size=input_size, dropout=dropout, name=name,
                                       **FERPLUS_NETWORK)


__all__ = ["FERPLUS_NETWORK", "FERPLUS_TEST_TIME_CROPS", "FERPLUS_WEIGHT_DECAY", "FerPlusData",
           "build_expression_network", "choose_test_time_crop", "ferplus_datasets"]
