"""Shared test fixtures: quiet TensorFlow, a clean dtype policy, the shared real media."""

import contextlib
import os
import pathlib
import runpy
import types
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def load_recipe(name):
    """A recipe script's names (`main`, its config class), run as an imported module, not as __main__.

    Recipes are scripts, not part of the package: tests run their `main` end to end, and
    test the library functions they call where those live.
    """
    return types.SimpleNamespace(**runpy.run_path(str(REPO / "recipes" / f"{name}.py"), run_name=f"recipe_{name}"))


@pytest.fixture(autouse=True)
def _float32_policy():
    """Every test starts and ends with the float32 dtype policy."""
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def mixed_precision():
    """Runs a test under the `mixed_float16` policy."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def shared_data():
    """The folder of real media beside the repository; skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (it exists only beside the development checkout)")
    return SHARED_DATA


@contextlib.contextmanager
def no_keras_warnings():
    """Fails when Keras shows a warning inside the block.

    Keras warns when it is called wrongly ("`shuffle=True` was passed, but will be ignored",
    "Your input ran out of data"); the recipes call it so that it has no reason to. Python
    hides deprecation warnings (numpy 2's about TensorFlow tensors' `__array__`), so they
    do not count.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    shown = sorted({f"{w.filename}:{w.lineno}: {w.message}" for w in caught
                    if "/keras/" in w.filename and not issubclass(w.category, DeprecationWarning)})
    assert not shown, "\n".join(shown)
