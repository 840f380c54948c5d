#!/bin/sh
# Installs the Debian packages runnel needs to build and test, when any is
# missing. Called by `make` targets and by .ci/run; safe to run repeatedly.
# Needs root (or sudo) only when something has to be installed.
set -eu

# build
PKGS="build-essential cmake pkg-config libyaml-dev libjansson-dev libssl-dev
libarchive-dev libcmocka-dev libcurl4-openssl-dev libgrpc-dev
protobuf-c-compiler libprotobuf-c-dev libavro-dev zlib1g-dev libsnappy-dev
libzstd-dev libluajit-5.1-dev libcsv-dev"
# tests and tools: clang for the fuzz targets, compressors to make test data
PKGS="$PKGS clang gzip bzip2 xz-utils zstd lz4 iproute2 procps curl"
# node + npm for the local S3 server of the tests. The stock image may carry
# NodeSource's nodejs (npm included), which conflicts with Debian's npm
# package: ask for Debian's only when the commands are missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi
# tests: systemd-analyze for the unit files, Python gRPC for the
# other-language client test
PKGS="$PKGS systemd python3 python3-grpcio python3-grpc-tools python3-avro avro-bin"
# benchmarks (bench/): the Dask anchors (Debian's dask 2022.12; psutil
# samples the memory of its worker processes)
PKGS="$PKGS python3-dask python3-distributed python3-psutil"
if [ "${RUNNEL_DEPS_EXTRA:-}" != "" ]; then
    PKGS="$PKGS $RUNNEL_DEPS_EXTRA"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: need root to install:$missing" >&2
        exit 1
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
