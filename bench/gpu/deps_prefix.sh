#!/usr/bin/env bash
# Unpacks the Debian packages of .gpu-bundle/debs (bench/gpu/bundle_deps.sh) into a private
# PREFIX, never into /, and makes them usable from there:
#   - the .pc files' /usr paths are rewritten to PREFIX/usr (Debian's say prefix=/usr);
#   - absolute symbolic links are pointed into PREFIX;
#   - PREFIX/bin/pkg-config runs the bundled pkgconf against PREFIX's .pc files only;
#   - PREFIX/env.sh exports LLMTUNE_DEPS_* variables for the build and for running llmtune.
# CMake config packages (nlohmann_json, yaml-cpp, simdjson, CLI11) are relocatable as
# shipped. Works without dpkg (Python reads the archives) in case the machine has none.
#
# Usage: bench/gpu/deps_prefix.sh BUNDLE_DIR PREFIX
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUNDLE_DIR PREFIX" >&2; exit 2; }
bundle="$(cd "$1" && pwd)"
mkdir -p "$2"
prefix="$(cd "$2" && pwd)"
case "$prefix" in
  / | /usr | /usr/* | /lib* | /bin* | /etc*) echo "deps_prefix: refusing PREFIX=$prefix" >&2; exit 2 ;;
esac
ls "$bundle"/debs/*.deb >/dev/null 2>&1 || { echo "deps_prefix: no debs in $bundle/debs" >&2; exit 3; }
rm -rf "${prefix:?}"/*

for d in "$bundle"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$d" "$prefix"
  else
    # A .deb is an ar archive whose data.tar.* member holds the files; Python reads both.
    python3 - "$d" "$prefix" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not an ar archive"
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            # Debian's own archives; their absolute symlinks are fixed up afterwards.
            if hasattr(tarfile, "fully_trusted_filter"):
                t.extractall(dest, filter="fully_trusted")
            else:
                t.extractall(dest)
        break
    pos += 60 + size + (size & 1)
else:
    sys.exit(deb + ": no data.tar member")
PY
  fi
done

multiarch=x86_64-linux-gnu
libdir="$prefix/usr/lib/$multiarch"
# Runtime libraries land in both lib/<arch> and usr/lib/<arch>.
libdirs="$libdir:$prefix/lib/$multiarch"

# .pc files: every /usr path (prefix=, libdir=, -I/usr/..., -L/usr/...) into the prefix.
while IFS= read -r -d '' pc; do
  sed -E -i "s#(^|[=[:space:]]|-I|-L)/usr(/|\$|[[:space:]])#\\1${prefix}/usr\\2#g" "$pc"
done < <(find "$prefix/usr" -name '*.pc' -print0)

# Absolute symbolic links (a few -dev packages use them) into the prefix.
while IFS= read -r -d '' link; do
  target="$(readlink "$link")"
  case "$target" in /*) ln -sfn "$prefix$target" "$link" ;; esac
done < <(find "$prefix" -type l -print0)

mkdir -p "$prefix/bin"
cat > "$prefix/bin/pkg-config" <<EOF
#!/bin/sh
# pkgconf from the bundle, seeing only the bundle's .pc files.
PKG_CONFIG_LIBDIR="$libdir/pkgconfig:$prefix/usr/share/pkgconfig" \\
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
exec "$prefix/usr/bin/pkgconf" "\$@"
EOF
chmod +x "$prefix/bin/pkg-config"

cat > "$prefix/env.sh" <<EOF
# Written by bench/gpu/deps_prefix.sh: source it before configuring or running llmtune.
export LLMTUNE_DEPS_PREFIX="$prefix"
# The prefix's libraries, for running llmtune (not exported as LD_LIBRARY_PATH, so python3,
# cmake and nvcc keep the machine's own libraries).
export LLMTUNE_DEPS_LIBDIR="$libdirs"
# CMake arguments: the prefix first in the search path, its pkg-config, its arch-specific and
# generic headers, and -rpath-link so the linker finds the libraries' own dependencies.
LLMTUNE_DEPS_CMAKE_ARGS=(
  "-DPKG_CONFIG_EXECUTABLE=$prefix/bin/pkg-config"
  "-DCMAKE_CXX_FLAGS=-isystem $prefix/usr/include/$multiarch -isystem $prefix/usr/include"
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$libdirs"
  "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-rpath-link,$libdirs"
  "-DCMAKE_MODULE_LINKER_FLAGS=-Wl,-rpath-link,$libdirs"
)
export PKG_CONFIG="$prefix/bin/pkg-config"
EOF
echo "deps_prefix: $(ls "$bundle"/debs/*.deb | wc -l) packages unpacked into $prefix"
