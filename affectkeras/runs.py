"""What every recipe needs around `model.fit`: its config as a command line, and a run folder.

- `config_field` / `parse_config`: a dataclass config whose fields are also the recipe's
  command-line options (`--learning-rate 1e-4`), plus `--config file.json` for a saved
  config; options given on the command line override the file.
- `RunFolder`: one folder per run, holding `config.json` (with the library version),
  `checkpoints/`, TensorBoard `logs/`, `history.csv`, `model.keras` and `metrics.json`;
  `callbacks()` makes an interrupted run resume from its last epoch (`resume=True`).
- `load_trained_model`: a `.keras` file or a run folder back to a `keras.Model`.

Files are written under a temporary name and renamed when complete, so an interrupted
run never leaves a config, model or metrics file that looks finished but is not.
"""

import argparse
import csv
import dataclasses
import datetime
import json
import math
import pathlib
import platform
import sys
import tempfile
import typing
import warnings
import zipfile

from affectkeras._version import __version__
from affectkeras.errors import AffectKerasError, InvalidArgumentError, WeightsError, check_choice, one_line
from affectkeras.files import atomic_path, write_json

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
# Inputs a recipe caches inside its run folder (preprocessed records): they do not make a
# folder "hold a run", and `overwrite` keeps them, as they do not depend on training.
CACHES = ("records",)


def config_field(default, help, *, choices=None, positional=False):
    """A dataclass field that is also a command-line option of the recipe.

    Args:
        default: the default value (an immutable one: str, int, float, bool, tuple, None).
        help: str. The option's help text.
        choices: sequence or None. The valid values.
        positional: bool. A positional argument instead of `--name` (then required
            unless a `--config` file gives it).
    """
    metadata = {"help": help, "choices": tuple(choices) if choices else None, "positional": positional}
    return dataclasses.field(default=default, metadata=metadata)


def _converter(kind):
    """The function turning an option's text into a value of type `kind` (None: a flag)."""
    if typing.get_origin(kind) is typing.Union:  # Optional[X]
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if (typing.get_origin(kind) or kind) is tuple:
        item = (typing.get_args(kind) or (str,))[0]

        def convert(text):
            return tuple(item(part.strip()) for part in text.split(",") if part.strip())

        convert.__name__ = f"comma-separated {item.__name__} list"
        return convert
    return None if kind is bool else kind


def _option(name):
    return "--" + name.replace("_", "-")


def build_parser(config_cls, *, description=None, prog=None):
    """The `argparse.ArgumentParser` of a dataclass config (see `parse_config`)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", metavar="FILE.json", help="read the options from a JSON file "
                        "(as a run folder's config.json); options given here override it")
    types = typing.get_type_hints(config_cls)
    for field in dataclasses.fields(config_cls):
        meta = field.metadata
        # argparse %-formats help texts: a literal "5 %" in prose must not be read as a format.
        help_text = f"{meta.get('help', '')} (default: {field.default!r})".replace("%", "%%")
        kwargs = {"default": argparse.SUPPRESS, "help": help_text}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        convert = _converter(types[field.name])
        if convert is None:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = convert
        if meta.get("positional"):
            kwargs["nargs"] = "?"
            kwargs["metavar"] = field.name.upper()
            parser.add_argument(field.name, **kwargs)
        else:
            parser.add_argument(_option(field.name), dest=field.name, **kwargs)
    return parser


def _read_config_file(path, config_cls, parser):
    try:
        data = json.loads(pathlib.Path(path).read_text())
    except FileNotFoundError:
        parser.error(f"--config {path}: no such file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        parser.error(f"--config {path}: not a JSON file ({error})")
    if isinstance(data, dict) and isinstance(data.get("config"), dict):  # a run folder's config.json
        data = data["config"]
    if not isinstance(data, dict):
        parser.error(f"--config {path}: expected a JSON object of options, got {type(data).__name__}")
    fields = {field.name: field for field in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        parser.error(f"--config {path}: unknown option(s) {unknown}; valid: {sorted(fields)}")
    for name, value in data.items():
        if isinstance(value, list):
            data[name] = tuple(value)
        choices = fields[name].metadata.get("choices")
        if choices and data[name] not in choices:
            parser.error(f"--config {path}: {name}={value!r} is not one of {list(choices)}")
    return data


def parse_config(config_cls, argv=None, *, description=None, prog=None):
    """Parses a recipe's command line into its dataclass config.

    Every field of `config_cls` is an option `--field-name` (booleans `--x` / `--no-x`,
    tuples a comma-separated list) and `--config FILE.json` reads options from a file
    (a plain object of options, or a run folder's `config.json`); options on the command
    line win over the file. With `--resume`, a config that has a `run_dir` field starts
    from the `config.json` of that run. Wrong options exit with a one-line message and code 2.

    Args:
        config_cls: a dataclass whose fields come from `config_field`.
        argv: list of str or None. None = `sys.argv[1:]`.
        description: str or None. Shown by `--help` (e.g. the recipe's docstring).
        prog: str or None. Program name shown in usage and errors.

    Returns:
        An instance of `config_cls`.

    Example:
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = config_field(10, "training epochs")
        >>> parse_config(Config, ["--epochs", "3"]).epochs
        3
    """
    parser = build_parser(config_cls, description=description, prog=prog)
    namespace = vars(parser.parse_args(argv))
    config_path = namespace.pop("config", None)
    run_dir = namespace.get("run_dir") or next(
        (field.default for field in dataclasses.fields(config_cls) if field.name == "run_dir"), None)
    if config_path is None and namespace.get("resume") and run_dir:
        # `[--run-dir X] --resume` continues the run with the options it was started with.
        saved = pathlib.Path(run_dir) / CONFIG_FILE
        config_path = saved if saved.is_file() else None
    values = _read_config_file(config_path, config_cls, parser) if config_path else {}
    values.update(namespace)
    missing = [f.name for f in dataclasses.fields(config_cls) if f.metadata.get("positional")
               and values.get(f.name, f.default) in (None, "")]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(m.upper() for m in missing)}")
    return config_cls(**values)


def set_seed(seed):
    """Seeds Python, numpy and the backend (`keras.utils.set_random_seed`)."""
    import keras

    keras.utils.set_random_seed(int(seed))


class RunFolder:
    """The folder of one training run: config, checkpoints, logs, model and metrics.

    Layout::

        <path>/config.json       the final config, library and Keras versions, command line
        <path>/checkpoints/      last.keras (every epoch), best.keras (with `monitor`)
        <path>/backup/           what `--resume` restarts from (weights, optimizer, epoch)
        <path>/logs/             TensorBoard
        <path>/history.csv       one row per epoch
        <path>/model.keras       the final model
        <path>/metrics.json      the recipe's final figures

    Args:
        path: str or Path. The run folder.
        resume: bool. Continue the run already in `path` (the callbacks restore its
            last epoch).
        overwrite: bool. Empty a finished or abandoned run in `path` (all but its cached
            `records/`) and start again.

    Raises:
        InvalidArgumentError: `path` holds files (other than `records/`) and neither
            `resume` nor `overwrite` is set, or `resume` is set but `path` holds no run.
    """

    @staticmethod
    def check(path, *, resume=False, overwrite=False):
        """Raises as `RunFolder(path, ...)` would, writing nothing: for recipes that read
        their data first, so that a run folder in the way fails before that work.

        Returns:
            list of `pathlib.Path`: the entries of a run already in `path` (not its caches).
        """
        path = pathlib.Path(path)
        entries = [entry for entry in path.iterdir() if entry.name not in CACHES] if path.is_dir() else []
        if resume and not (path / CONFIG_FILE).is_file():
            raise InvalidArgumentError(f"{path} holds no run to resume (no {CONFIG_FILE}). Received: resume=True")
        if entries and not (resume or overwrite):
            raise InvalidArgumentError(
                f"{path} already holds a run; pass --resume to continue it or --overwrite "
                f"to start again. Received: run_dir={str(path)!r}"
            )
        return entries

    def __init__(self, path, *, resume=False, overwrite=False):
        self.path = pathlib.Path(path)
        self.resume = resume
        entries = self.check(self.path, resume=resume, overwrite=overwrite)
        if entries and overwrite and not resume:
            import shutil

            for entry in entries:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        # Every shared folder is made here, by the chief, before any worker can save:
        # Keras's BackupAndRestore makes its folder with a check-then-create that another
        # worker, making `backup/worker-<i>` (and so `backup/`) at the same moment, races.
        for folder in (self.path, self.checkpoints_dir, self.logs_dir, self.backup_dir):
            folder.mkdir(parents=True, exist_ok=True)

    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    backup_dir = property(lambda self: getattr(self, "_backup_dir", None) or self.path / "backup")
    logs_dir = property(lambda self: self.path / "logs")
    config_path = property(lambda self: self.path / CONFIG_FILE)
    model_path = property(lambda self: self.path / MODEL_FILE)
    metrics_path = property(lambda self: self.path / METRICS_FILE)
    history_path = property(lambda self: self.path / HISTORY_FILE)

    def save_config(self, config):
        """Writes `config.json`: the config (a dataclass or dict), versions, command line."""
        import keras

        values = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        return write_json(self.config_path, {
            "config": values,
            "affectkeras_version": __version__,
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "python": platform.python_version(),
            "command": [sys.argv[0], *sys.argv[1:]],
            "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        })

    def load_config(self):
        """The config values (a dict) saved in `config.json`."""
        return json.loads(self.config_path.read_text())["config"]

    def callbacks(self, *, monitor=None, mode="max", tensorboard=True):
        """Keras callbacks that checkpoint, log and make the run resumable.

        Args:
            monitor: str or None. A logged metric (e.g. `"val_valence_arousal_ccc"`):
                also keep `checkpoints/best.keras`, the best epoch by it (in a resumed run,
                the best of all its epochs, those before the interruption included).
            mode: str. `"max"` (a score) or `"min"` (a loss) for `monitor`.
            tensorboard: bool. Write TensorBoard logs.

        Returns:
            A list of callbacks for `model.fit` (`BackupAndRestore` last: an epoch counts as
            done only once its checkpoints and its `history.csv` row are written).
        """
        import keras

        if self.resume:
            self._forget_unfinished_epochs()
        callbacks = [
            _keras_file_checkpoint(self.checkpoints_dir / "last.keras"),
            keras.callbacks.CSVLogger(str(self.history_path), append=self.resume),
        ]
        if monitor:
            check_choice("mode", mode, ("max", "min"))
            callbacks.append(_keras_file_checkpoint(self.checkpoints_dir / "best.keras", monitor=monitor, mode=mode,
                                                  best=self._best_logged(monitor, mode)))
        if tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(self.logs_dir), write_graph=False))
        # Restores weights, optimizer state and the epoch of an interrupted run. It keeps the
        # backup after training (delete_checkpoint=False), so a finished run can be resumed for
        # more epochs, and the one before it (double_checkpoint): the backup is written in
        # place, and a kill during the write falls back to the previous epoch.
        callbacks.append(keras.callbacks.BackupAndRestore(str(self.backup_dir), double_checkpoint=True,
                                                          delete_checkpoint=False))
        return callbacks

    def _forget_unfinished_epochs(self):
        """Drops the `history.csv` rows of epochs after the backup's last one.

        An epoch counts as done once the backup is written, after its row: a run killed in
        between trains that epoch again, and logs it once.
        """
        metadata = self.backup_dir / "training_metadata.json"
        if not (self.history_path.is_file() and metadata.is_file()):
            return
        try:
            done = json.loads(metadata.read_text())["epoch"]
        except (ValueError, KeyError):  # half-written: Keras falls back to the backup before it
            return
        with open(self.history_path, newline="") as file:
            rows = list(csv.reader(file))
        kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) < done]
        if len(kept) < len(rows):
            with atomic_path(self.history_path) as staging, open(staging, "w", newline="") as file:
                csv.writer(file).writerows(kept)

    def _best_logged(self, monitor, mode):
        """The best `monitor` of the epochs in `history.csv` when resuming (None otherwise).

        A resumed run's new checkpoint callback would otherwise take its first epoch as the
        best so far and overwrite `best.keras`, which holds a better epoch from before the
        interruption.
        """
        if not (self.resume and self.history_path.is_file()):
            return None
        with open(self.history_path, newline="") as file:
            logged = [float(row[monitor]) for row in csv.DictReader(file) if row.get(monitor)]
        logged = [value for value in logged if math.isfinite(value)]  # a diverged epoch is no best
        return (max if mode == "max" else min)(logged) if logged else None

    @classmethod
    def for_worker(cls, path, index):
        """The run folder of non-chief worker `index` of a multi-worker run in `path`.

        Its files go to a temporary folder, except its resume backup (`backup/worker-<index>`
        in `path`), so that a resumed run restores every worker to the same epoch. The
        worker runs the same callbacks as the chief: saving a distributed model is a
        collective operation that every worker must join.
        """
        run = cls(tempfile.mkdtemp(prefix=f"affectkeras-worker-{index}-"))
        run._backup_dir = pathlib.Path(path) / "backup" / f"worker-{index}"
        return run

    def save_model(self, model):
        """Saves `model` as `model.keras`, atomically."""
        with atomic_path(self.model_path) as staging:
            model.save(staging)
        return self.model_path

    def write_json(self, name, data):
        """Writes `data` as JSON to `<path>/<name>`, atomically."""
        return write_json(self.path / name, data)

    def write_metrics(self, metrics):
        """Writes the run's final figures to `metrics.json`, atomically."""
        return write_json(self.metrics_path, metrics)


def _keras_file_checkpoint(path, *, monitor=None, mode="max", best=None):
    """A callback saving the model to the `.keras` file `path` after every epoch, or only after
    those where `monitor` beats `best` (`mode` "max" or "min"; None: any first value).

    Unlike Keras's `ModelCheckpoint` it writes under a temporary name and renames, so a run
    killed during the write keeps its previous checkpoint whole.
    """
    import keras

    better = (lambda new, old: new > old) if mode == "max" else (lambda new, old: new < old)

    class KerasFileCheckpoint(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best = best

        def on_epoch_end(self, epoch, logs=None):
            if monitor:
                value = (logs or {}).get(monitor)
                if value is None:
                    warnings.warn(f"{path.name} not saved: the logs have no {monitor!r} (they have: "
                                  f"{sorted(logs or {})})", stacklevel=2)
                    return
                if not math.isfinite(value) or (self.best is not None and not better(value, self.best)):
                    return
                self.best = value
            with atomic_path(path) as staging:
                self.model.save(staging)

    return KerasFileCheckpoint()


def run_recipe(main, argv=None):
    """Runs a recipe's `main(argv)` as a script: errors the user can fix print one line.

    Returns:
        The exit code: 0, or 2 after an `AffectKerasError` or a missing file.
    """
    try:
        main(argv)
    except (AffectKerasError, FileNotFoundError) as error:
        print(f"{pathlib.Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        return 2
    return 0


def _custom_objects():
    # Importing these registers affectkeras's layers, losses and metrics with Keras.
    import affectkeras.layers  # noqa: F401
    import affectkeras.losses  # noqa: F401
    import affectkeras.metrics  # noqa: F401


def resolve_model_path(path):
    """The `.keras` file a model path names: the file itself, or a run folder's model.

    A run folder without `model.keras` (an interrupted run) falls back to
    `checkpoints/best.keras`, then `checkpoints/last.keras`.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        for candidate in (MODEL_FILE, "checkpoints/best.keras", "checkpoints/last.keras"):
            if (path / candidate).is_file():
                return path / candidate
        if (path / "saved_model.pb").is_file():
            raise WeightsError(
                f"{path} is a SavedModel (for serving); training and evaluation need a `.keras` "
                f"model or a run folder. Received: model={str(path)!r}"
            )
        raise FileNotFoundError(
            f"{path} holds no model ({MODEL_FILE} or checkpoints/*.keras); expected a run folder "
            f"or a .keras file"
        )
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file; expected a .keras file or a run folder")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise WeightsError(
            f"{path} is not a Keras model file (a .keras zip archive as model.save writes it). "
            f"Received: model={str(path)!r}"
        )
    return path


def load_trained_model(path, *, compile=False):
    """Loads a trained affectkeras network from a `.keras` file or a run folder.

    Args:
        path: str or Path. A `.keras` file, or a run folder (`model.keras`, else its best
            or last checkpoint).
        compile: bool. Restore the training configuration too (losses, metrics, optimizer).

    Returns:
        A `keras.Model`.

    Raises:
        FileNotFoundError: nothing at `path`, or a folder without a model.
        WeightsError: `path` is not a Keras model file (or is a SavedModel), or is corrupt.
    """
    import keras

    model_path = resolve_model_path(path)
    _custom_objects()
    try:
        return keras.saving.load_model(model_path, compile=compile)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise WeightsError(f"{model_path}: cannot load the model ({one_line(error)})") from error


__all__ = [
    "CACHES",
    "CONFIG_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "build_parser",
    "config_field",
    "load_trained_model",
    "parse_config",
    "resolve_model_path",
    "run_recipe",
    "RunFolder",
    "set_seed",
]
