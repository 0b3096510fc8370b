"""`FaceStream` in a process of its own, so that face extraction and a network run side by side.

Detection, tracking and alignment are dlib and numpy on one core; a network uses the
others. Run one after the other, the predictor's speed is the sum of both stages' times;
side by side, the slower stage sets the pace.

The extraction runs as `python -m affectkeras.faces.background` (a fresh interpreter that
imports only the face pipeline, no TensorFlow, and none of the caller's modules, so no
`if __name__ == "__main__"` guard is needed anywhere) and streams its records back, pickled,
through a pipe. A thread of the caller reads them into a queue of at most `ahead` records,
so the extraction runs ahead while the network computes and memory stays bounded on any
video length (~27 KB per 96 px crop). An error in the extraction (a corrupt or truncated
video) is raised again in the caller; a caller that stops early ends the process.

A process that finished its video stays warm for the next one (one per interpreter, under
the same environment variables): its interpreter, dlib and the detector and landmark
models are loaded already, so the next video's first face comes ~0.6 s sooner (many inputs
in one `affectkeras predict`, `predict_video` in a loop). It ends with the caller's
interpreter.
"""

import atexit
import os
import pathlib
import pickle
import queue
import signal
import subprocess
import sys
import threading

from affectkeras.errors import MediaError

_RECORD, _DONE, _ERROR = "record", "done", "error"
_NETWORK_NICE = 10  # a CFS weight ~1/10 of a normal thread's: the faces win every contended core


class FacesInBackground:
    """`FaceStream(video_path, **kwargs)`'s records, extracted in another process.

    The process starts at once, so the caller can prepare other things (the audio
    windows, the network) while the first frames are analysed; iterate to get the records,
    in `FaceStream`'s order, then read `persons` and `main_tracks` as on a `FaceStream`.
    Use it as a context manager (or call `close`) so that the process ends also when the
    caller stops early.

    Args:
        video_path: str or path-like. The video file.
        ahead: int. Records the extraction may run ahead of the consumer.
        **kwargs: `affectkeras.faces.FaceStream`'s keyword arguments.

    Attributes:
        persons, main_tracks: as `FaceStream`'s, once the iteration has ended.

    Raises (while iterating):
        The extraction's own errors (`MediaError`, `FileNotFoundError`, ...), and a
        `MediaError` naming the video when the process ends without saying why.

    Example:
        >>> with FacesInBackground("clip.mp4", size=96) as records:
        ...     audio = video_audio_windows("clip.mp4")  # meanwhile, the faces are found
        ...     crops = [r.crop for r in records if r.crop is not None]
        >>> records.main_tracks
        frozenset({0})
    """

    def __init__(self, video_path, *, ahead=512, **kwargs):
        self.video_path = str(video_path)
        # A warm process keeps the folder it started in: it gets the absolute path.
        self._worker = _start((os.path.abspath(video_path), kwargs))
        self._process = self._worker.process
        self._records = queue.Queue(maxsize=ahead)
        self.persons = self.main_tracks = None
        self._answered = False  # the process said `done` or `error`: it waits for the next video
        self._stop = threading.Event()
        threading.Thread(target=_read, args=(self._process.stdout, self._records, self._stop), daemon=True).start()

    def __iter__(self):
        while True:
            kind, payload = self._records.get()
            if kind == _RECORD:
                yield payload
            elif kind == _DONE:
                self._answered = True
                self.persons, self.main_tracks = payload
                return
            elif kind == _ERROR:
                self._answered = True
                raise payload
            else:  # the pipe ended (or a message was broken) without a result
                self.close()  # not answered: the process is ended
                raise MediaError(self.video_path, "the face extraction process ended without a result "
                                                  f"(exit code {self._process.returncode})")

    def close(self):
        """Keeps the process warm for the next video if it finished this one, else ends it
        (the caller stopped early: it is still extracting)."""
        self._stop.set()
        worker, self._worker = self._worker, None
        if worker is not None and not (self._answered and _give_back(worker)):
            worker.end()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Worker:
    """One extraction process (`python -m affectkeras.faces.background`), videos one after another."""

    def __init__(self):
        # The child finds this very package even where it is not installed (a script's sys.path).
        package_root = str(pathlib.Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        self.environment = dict(os.environ)  # a later caller with another one gets a fresh process

    def send(self, job):
        pickle.dump(job, self.process.stdin)
        self.process.stdin.flush()

    def end(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe to a killed process
                pass


_idle = []  # at most one warm process, waiting for a video
_idle_lock = threading.Lock()


def _forget_idle_workers():
    """In a forked child: the warm process is the parent's (neither used nor ended here)."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_idle_workers)


def _start(job):
    """A process working on `job`: the warm one, or a fresh one."""
    worker = _take_idle_worker()
    if worker is not None:
        try:
            worker.send(job)
            return worker
        except OSError:  # it has gone (killed from outside)
            worker.end()
        except BaseException:  # e.g. arguments that cannot be pickled: half a job was written
            worker.end()
            raise
    worker = _Worker()
    try:
        worker.send(job)
    except BaseException:
        worker.end()
        raise
    return worker


def _take_idle_worker():
    """The warm process, or None (none, or it started under another environment)."""
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is not None and worker.environment != dict(os.environ):
        worker.end()
        return None
    return worker


def _give_back(worker):
    """Keeps `worker` warm unless one already is (or it died); True if kept."""
    with _idle_lock:
        if _idle or worker.process.poll() is not None:
            return False
        _idle.append(worker)
        return True


@atexit.register
def _end_idle_workers():
    with _idle_lock:
        workers = _idle[:]
        _idle.clear()
    for worker in workers:
        worker.end()


def _read(pipe, records, stop):
    """The caller's reader thread: pickled messages from the pipe into the bounded queue,
    until the last one, the pipe's end, or `stop` (the consumer closed: nobody will read)."""
    while not stop.is_set():
        try:
            message = pickle.load(pipe)
        except Exception:  # noqa: BLE001 - a broken pipe or message: the consumer hears "ended"
            message = ("ended", None)
        while not stop.is_set():
            try:
                records.put(message, timeout=0.2)
                break
            except queue.Full:
                continue
        if message[0] != _RECORD:
            return


def _main():
    """The process's work: for each video sent, every record to stdout, then `done` with
    the persons and the main subject's tracks (or the error); until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it ends this process
    jobs, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            video_path, kwargs = pickle.load(jobs)
        except EOFError:  # the caller's interpreter has ended
            return
        try:
            _extract(video_path, kwargs, out)
        except BrokenPipeError:  # the caller stopped reading
            return


def _extract(video_path, kwargs, out):
    try:
        from affectkeras.faces.extract import FaceStream

        stream = FaceStream(video_path, **kwargs)
        for record in stream:
            pickle.dump((_RECORD, record), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BrokenPipeError:
        raise
    except Exception as error:  # noqa: BLE001 - handed to the caller, which raises it
        try:
            payload = pickle.dumps((_ERROR, error))
            pickle.loads(payload)  # some exceptions pickle but do not load back
        except Exception:  # noqa: BLE001 - such an error goes as its text
            payload = pickle.dumps((_ERROR, MediaError(video_path, f"{type(error).__name__}: {error}")))
        out.write(payload)
        out.flush()
        return
    pickle.dump((_DONE, (stream.persons, stream.main_tracks)), out)
    out.flush()


def yield_cores_to_faces():
    """Lowers the scheduling priority (nice 10) of the calling process's other threads.

    For a process that only predicts (`predict_video(..., yield_cores=True)`, as `affectkeras
    predict` calls it), once the network has loaded (its framework's threads exist): the
    face extraction process, at normal priority, then has a core whenever it has work, and
    the network's threads take the rest. Where the faces are the slower stage (the full A/V
    network in bf16 on 2 cores), end to end comes closer to the faces' own pace; where the
    network is the slower stage, it changes little (BENCHMARKS.md). An unprivileged process
    cannot raise a priority again, so nothing does this unless asked. The calling thread
    keeps its priority, and so do the threads and processes it starts afterwards.

    Returns:
        int. The number of threads lowered (0 where threads have no priority of their own:
        not Linux).
    """
    tasks = pathlib.Path("/proc/self/task")
    if not tasks.is_dir():
        return 0
    caller, lowered = threading.get_native_id(), 0
    for task in tasks.iterdir():
        thread = int(task.name)
        try:
            if thread != caller and os.getpriority(os.PRIO_PROCESS, thread) < _NETWORK_NICE:
                os.setpriority(os.PRIO_PROCESS, thread, _NETWORK_NICE)
                lowered += 1
        except OSError:  # a thread that ended meanwhile
            continue
    return lowered


if __name__ == "__main__":
    _main()


__all__ = ["FacesInBackground", "yield_cores_to_faces"]
