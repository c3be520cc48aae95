#!/usr/bin/env bash
# Build the cxstream connector jar with plain javac (no Maven: Maven Central is not reachable from
# the project's machines, so the Flink and Kafka client jars come from the apache-flink wheel and
# from a pinned PyPI wheel instead; see cxstream/jars.py).
#
# usage: connector/build.sh OUT_JAR PYFLINK_DIR LIB_DIR
#   OUT_JAR      the jar to write
#   PYFLINK_DIR  the installed pyflink package (its lib/ and opt/ hold Flink's jars)
#   LIB_DIR      the third-party jars (kafka-clients, avro, jackson, compression codecs)
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 OUT_JAR PYFLINK_DIR LIB_DIR" >&2
    exit 2
fi
out_jar=$1
pyflink_dir=$2
lib_dir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for d in "$pyflink_dir/lib" "$lib_dir"; do
    [ -d "$d" ] || { echo "build.sh: no such directory: $d" >&2; exit 2; }
done

classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT

# The connector only compiles against these jars; at run time Flink provides its own and the job
# ships the third-party ones with pipeline.jars.
mapfile -t sources < <(find "$here/src/main/java" -name '*.java' | sort)
javac --release 17 -encoding UTF-8 -nowarn -Xlint:none \
    -cp "$pyflink_dir/lib/*:$pyflink_dir/opt/*:$lib_dir/*" \
    -d "$classes" "${sources[@]}"

mkdir -p "$(dirname "$out_jar")"
jar cf "$out_jar" -C "$classes" . -C "$here/src/main/resources" .
echo "built $out_jar (${#sources[@]} sources)"
