"""Small shared helpers: atomic file writing, input and option validation, folder locks."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an interrupted write leaves
    the previous file (if any) intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_intensity(image, name: str = "intensity") -> np.ndarray:
    """Validate a 2-D, finite, non-negative intensity image; return it as float32.

    Raises
    ------
    ValueError
        With a message that says what is wrong and what was expected.
    """
    array = np.asarray(image)
    if np.iscomplexobj(array):
        raise ValueError(
            f"{name}: got complex data; expected a real intensity image "
            "(use s2v.domains.intensity_from_complex or domain='complex')")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (H, W) image, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name}: the image is empty (shape {array.shape})")
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise ValueError(f"{name}: expected a numeric image, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or Inf values; expected finite intensities")
    if array.min() < 0:
        raise ValueError(
            f"{name}: contains negative values (min {array.min():.3g}); intensity is |z|^2 >= 0 "
            "(is this log-compressed or B-mode data? use domain='bmode')")
    return array


def check_number(value, name: str, *, integer: bool = False, minimum: float = 0.0,
                 inclusive: bool = False):
    """A finite real number above ``minimum`` (an integer if ``integer``), or a ValueError.

    Every numeric option enters through this check (API and command line alike), so
    ``looks=inf``, ``tile_size=0`` or ``total_steps=-5`` are refused where they are given
    instead of producing a NaN image or silently meaning the default.

    Parameters
    ----------
    value : object
        The option's value (bools are refused: ``True`` is not a number of looks).
    name : str
        How the caller names the option in the message (``"looks"``, ``"--looks"``).
    integer : bool
        Require an integer (``8.0`` is refused for an integer option).
    minimum : float
        ``value`` must be greater than this (or equal with ``inclusive``).

    Returns
    -------
    int or float
        The value as a Python number.
    """
    import numbers

    kind = "an integer" if integer else "a finite number"
    bound = f"{'>=' if inclusive else '>'} {minimum:g}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or (integer and not isinstance(value, numbers.Integral)):
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}")
    number = int(value) if integer else float(value)
    if not np.isfinite(float(number)) or not (number >= minimum if inclusive else number > minimum):
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}")
    return number


def check_finite_output(array, name: str) -> np.ndarray:
    """Return ``array`` if every value is finite, else raise a ValueError (never a NaN output).

    Called on every result before it is returned or written: a diverged checkpoint or an
    overflow gives a clear error instead of a NaN image written with exit status 0.
    """
    array = np.asarray(array)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise ValueError(
            f"{name}: the result has {bad} NaN/Inf value(s) of {finite.size}, refused (a diverged "
            "checkpoint? values beyond the float32 range?)")
    return array


# ---------------------------------------------------------------------------------------------
# domains of files read by s2v.io.read_image
# ---------------------------------------------------------------------------------------------
def domain_of(array, meta: dict, domain: str | None = None) -> str:
    """The domain of data read by :func:`s2v.io.read_image`: ``domain`` if given, else the file's.

    One rule for every entry point: the file's own evidence (complex or 8-bit data, DICOM,
    a stored domain, a variable name such as ``rf``) is enough; when :func:`s2v.io.read_image`
    cannot tell (``meta['domain'] == 'unknown'``: a guess from the sign of the values is
    never made), a ValueError names the file, says why (``meta['domain_reason']``) and the
    option to pass, in Python words (``domain='rf'``; the command line says ``--domain rf``).

    Returns
    -------
    str
        A domain of :func:`s2v.domains.to_intensity`.
    """
    if domain is not None:
        return domain
    guessed = meta.get("domain", "unknown")
    if guessed != "unknown":
        return guessed
    values = np.asarray(array)
    reason = meta.get("domain_reason") or "nothing in the file says what the data is"
    if values.size and np.issubdtype(values.dtype, np.number) and not values.any():
        reason = f"all zeros: {reason}"
    if "domain=" not in reason:
        reason += "; pass domain= to say which"
    raise ValueError(f"{meta.get('path', 'the data')}: cannot tell the data's domain: {reason}")


# ---------------------------------------------------------------------------------------------
# one process per folder
# ---------------------------------------------------------------------------------------------
class FolderLockedError(OSError):
    """Another live process holds the lock of a folder (see :class:`FolderLock`)."""


class FolderLock:
    """An exclusive lock of a folder for one process: ``<folder>/.s2v.lock``.

    Taken with ``fcntl.flock`` on the lock file (``O_EXCL`` creation where ``fcntl`` does not
    exist), which holds the owner's PID; removed by :meth:`release`. A lock file left by a
    process that died (even by SIGKILL) is stale: the kernel dropped its ``flock`` (or, without
    ``fcntl``, its PID is no longer running), so the next process takes it over.

    Parameters
    ----------
    folder : path
        Created if missing.
    purpose : str
        What the owner does, for the message of a refused lock (``"s2v train"``).
    """

    NAME = ".s2v.lock"

    def __init__(self, folder, purpose: str = "s2v"):
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self.purpose = purpose
        self._fd = None

    @classmethod
    def held_by(cls, folder) -> str | None:
        """``"pid N"`` when a live process holds the lock of ``folder``, else None (creates nothing).

        A quick look before long work (the command line asks before loading TensorFlow);
        :meth:`acquire` is what decides.
        """
        path = Path(folder) / cls.NAME
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            fcntl = None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            text = os.pread(fd, 200, 0).decode(errors="replace").split()
            holder = f"pid {text[0]}" if text and text[0].isdigit() else "starting"
            if fcntl is None:  # pragma: no cover
                return holder if text and text[0].isdigit() and _pid_alive(int(text[0])) else None
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return holder
            return None
        finally:
            os.close(fd)

    def _refuse(self, holder: str):
        raise FolderLockedError(
            16, f"another {self.purpose} process ({holder}) is using this folder; wait for it to "
                "finish, or use another folder", str(self.folder))

    def acquire(self) -> "FolderLock":
        """Take the lock, or raise :class:`FolderLockedError` naming the owner's PID."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            return self._acquire_exclusive()
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "starting"
                os.close(fd)
                self._refuse(f"pid {holder.split()[0]}" if holder[:1].isdigit() else holder)
            try:  # the owner may have released (and removed) the file between open and flock
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(fd).st_ino:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return self
        self._refuse("busy")  # pragma: no cover

    def _acquire_exclusive(self) -> "FolderLock":  # pragma: no cover (Windows)
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666 & ~_UMASK)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    self._refuse("unknown pid")
                if _pid_alive(pid):
                    self._refuse(f"pid {pid}")
                self.path.unlink(missing_ok=True)  # stale: its owner died
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return self
        self._refuse("busy")

    def release(self):
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # removed while still held: no one else can own it
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _pid_alive(pid: int) -> bool:  # pragma: no cover (Windows fallback)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
