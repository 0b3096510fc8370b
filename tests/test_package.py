"""Packaging facts: one version, the console script, CI runs the README, a TF-free core."""

import ast
import importlib.metadata
import subprocess
import sys

import affectkeras
from tests.conftest import REPO

# The model code must run on Keras's JAX and PyTorch backends too: keras / keras.ops only.
KERAS_ONLY = [
    "affectkeras/layers",
    "affectkeras/losses.py",
    "affectkeras/metrics",
    "affectkeras/_labels.py",
    "affectkeras/backbones",
    "affectkeras/models",
    "affectkeras/weights",
    "affectkeras/training.py",
]


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_modules_do_not_import_tensorflow():
    files = []
    for entry in KERAS_ONLY:
        path = REPO / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    assert len(files) >= 4
    offenders = [
        f"{file.relative_to(REPO)} imports {module}"
        for file in files
        for module in imported_modules(file)
        if module.split(".")[0] == "tensorflow"
    ]
    assert not offenders


def test_version_has_one_source():
    assert importlib.metadata.version("affectkeras") == affectkeras.__version__


def test_console_script_reports_the_version():
    result = subprocess.run(
        [sys.executable, "-m", "affectkeras.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"affectkeras {affectkeras.__version__}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("pip install")]
    assert len(commands) >= 2, "README must start with the two set-up commands"
    assert "pytest" in commands[1] and "pytest" not in commands[0]
    assert "README.md" in (REPO / ".ci" / "run").read_text()


def test_errors_survive_a_process_pool():
    import pickle

    from affectkeras.errors import DataFormatError, MediaError

    for error in (DataFormatError("a.txt", 3, "short line"), MediaError("b.mp4", "no video stream")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)


def test_import_is_light_and_builders_load_on_first_use():
    code = (
        "import sys, affectkeras; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
        "from affectkeras import build_av_mt_vgg_rnn; print(build_av_mt_vgg_rnn.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "affectkeras.models.sequence"


def public_modules():
    """Every module of the package whose name (and whose packages' names) has no leading underscore."""
    for path in sorted((REPO / "affectkeras").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if not any(part.startswith("_") for part in parts[1:] if part != "__init__"):
            yield ".".join(part for part in parts if part != "__init__"), path


def test_every_public_module_declares_its_public_names():
    missing, unknown = [], []
    for name, path in public_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        declared = next((node.value for node in tree.body if isinstance(node, ast.Assign)
                         and any(getattr(t, "id", None) == "__all__" for t in node.targets)), None)
        if declared is None:
            missing.append(name)
            continue
        if name in ("affectkeras.data.beam", "affectkeras.audio.tfio"):  # optional extras: checked statically
            continue
        module = importlib.import_module(name)
        unknown += [f"{name}.{item}" for item in module.__all__ if not hasattr(module, item)]
    assert not missing, f"modules without __all__: {missing}"
    assert not unknown, f"__all__ names that do not exist: {unknown}"
