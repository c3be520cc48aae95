"""What the embedded Flink logged during a test (pyflink writes it under its package's log/ folder).

The gateway re-creates its log file when a JVM starts, so a mark taken before the first job of a
test process points past the end of the new file; such a file is read whole.
"""

from __future__ import annotations

from pathlib import Path

LogMark = dict[Path, tuple[int, int]]


def log_dir() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent / "log"


def mark() -> LogMark:
    """Where each log file ends now (inode, size)."""
    return {p: (p.stat().st_ino, p.stat().st_size) for p in log_dir().glob("*.log")}


def since(start: LogMark) -> str:
    """Everything logged after `start`."""
    out = []
    for path in log_dir().glob("*.log"):
        inode, size = start.get(path, (0, 0))
        st = path.stat()
        with open(path, "rb") as f:
            f.seek(size if st.st_ino == inode and st.st_size >= size else 0)
            out.append(f.read().decode("utf-8", "replace"))
    return "".join(out)
