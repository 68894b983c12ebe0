"""File helpers: atomic writes, hashing, and reading text in whatever encoding a source uses."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask_mode() -> int:
    """The mode a normally created file gets (0666 less the umask); mkstemp makes 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def ensure_dir(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) if needed; an ``InputError`` naming the
    path when that is impossible (a file of that name, or a file where a parent folder should
    be, or no permission) instead of a bare ``OSError``."""
    from .errors import InputError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise InputError(
            f"cannot create the output folder {path}: {blocker} is a file",
            path=blocker,
            expected="a folder",
            found="a file",
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot create the output folder ({exc.strerror})",
            path=path,
            expected="a folder kvk may write to",
        ) from None
    return path


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (renames into it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write ``path`` atomically: to a temporary file in the same folder, then rename.

    A failure inside the ``with`` block leaves any existing file untouched and no partial file.
    """
    path = Path(path)
    ensure_dir(path.parent)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    For writers that want a file name (``DataFrame.to_parquet``, ``Figure.savefig``, WeasyPrint).
    """
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def detect_encoding(raw: bytes) -> str:
    """Guess the encoding of a text file: UTF-8 with BOM, UTF-16/32 (with BOM, or UTF-16
    without BOM when every other byte of ASCII text is zero), UTF-8, else cp1252.

    Norwegian sources come in UTF-8 and cp1252; Excel's "Unicode text" is UTF-16 with a BOM
    (``utf-16``/``utf-32`` decode and drop the BOM).  charset-normalizer is asked only when
    the bytes are neither valid UTF-8 nor plausible cp1252.
    """
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = raw[:4096]
    if len(head) >= 4 and head.count(0) * 3 > len(head):
        half = len(head) // 2
        if head[1::2].count(0) > 0.9 * half:
            return "utf-16-le"
        if head[0::2].count(0) > 0.9 * half:
            return "utf-16-be"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return best.encoding if best is not None else "latin-1"


def check_encoding(encoding: str | None) -> str | None:
    """``encoding`` unchanged if Python knows it (``None`` passes); else an ``InputError``."""
    if encoding is None:
        return None
    try:
        codecs.lookup(encoding)
    except LookupError:
        from .errors import InputError

        raise InputError(
            "unknown encoding (--encoding)",
            expected="an encoding such as utf-8, cp1252 or utf-16",
            found=encoding,
        ) from None
    return encoding


def read_text(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """Read a text file; return ``(text, encoding_used)``.  ``encoding=None`` detects it."""
    raw = Path(path).read_bytes()
    enc = encoding or detect_encoding(raw)
    try:
        return raw.decode(enc), enc
    except UnicodeDecodeError as exc:
        from .errors import InputError

        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"cannot decode the file as {enc}; give the right encoding (e.g. --encoding cp1252)",
            path=path,
            row=line,
            expected=f"text in {enc}",
            found=raw[exc.start : exc.end],
        ) from None
