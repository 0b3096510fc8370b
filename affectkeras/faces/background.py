"""`iter_faces` in a process of its own, so that face extraction and a network run side by side.

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
"""

import pickle
import queue
import subprocess
import sys
import threading

_RECORD, _DONE, _ERROR = "record", "done", "error"


def iter_faces_in_background(video_path, *, ahead=512, **kwargs):
    """Yields `iter_faces(video_path, **kwargs)`'s records, extracted in another process.

    Args:
        video_path: str or path-like. The video file.
        ahead: int. Records the extraction may run ahead of the consumer.
        **kwargs: `affectkeras.faces.iter_faces`'s keyword arguments.

    Yields:
        `FaceRecord`s, in the order `iter_faces` gives them.

    Raises:
        The extraction's own errors (`MediaError`, `FileNotFoundError`, ...), and
        RuntimeError when the process ends without saying why.
    """
    process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pickle.dump((str(video_path), kwargs), process.stdin)
    process.stdin.close()
    records = queue.Queue(maxsize=ahead)
    reader = threading.Thread(target=_read, args=(process.stdout, records), daemon=True)
    reader.start()
    try:
        while True:
            kind, payload = records.get()
            if kind == _RECORD:
                yield payload
            elif kind == _DONE:
                break
            elif kind == _ERROR:
                raise payload
            else:  # the pipe ended without a result
                process.wait()
                raise RuntimeError(f"{video_path}: the face extraction process ended without a result "
                                   f"(exit code {process.returncode})")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _read(pipe, records):
    """The caller's reader thread: pickled messages from the pipe into the bounded queue."""
    while True:
        try:
            message = pickle.load(pipe)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            records.put(("ended", None))
            return
        records.put(message)
        if message[0] != _RECORD:
            return


def _main():
    """The process's work: every record of the video to stdout, then `done` (or the error)."""
    video_path, kwargs = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    try:
        from affectkeras.faces.extract import iter_faces

        for record in iter_faces(video_path, **kwargs):
            pickle.dump((_RECORD, record), out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BrokenPipeError:  # the caller stopped reading
        return
    except Exception as error:  # noqa: BLE001 - handed to the caller, which raises it
        try:
            payload = pickle.dumps((_ERROR, error))
        except Exception:  # noqa: BLE001 - an error that does not pickle goes as its text
            payload = pickle.dumps((_ERROR, RuntimeError(f"{type(error).__name__}: {error}")))
        out.write(payload)
        out.flush()
        return
    pickle.dump((_DONE, None), out)
    out.flush()


if __name__ == "__main__":
    _main()


__all__ = ["iter_faces_in_background"]
