# shellcheck shell=bash
# Finds libclang the way RocksDB's bindgen does (clang-sys 1.x, `runtime` feature, Linux):
#   - if LIBCLANG_PATH is set, only that file or directory is searched;
#   - else `llvm-config --prefix`/{bin,lib,lib64}, LD_LIBRARY_PATH, LIBRARY_PATH, then the globs
#     /usr/local/llvm*/lib*, /usr/local/lib*/*/*, /usr/local/lib*/*, /usr/local/lib*,
#     /usr/lib*/*/*, /usr/lib*/*, /usr/lib*;
#   - file names libclang.so, libclang-*.so, libclang.so.*, libclang-*.so.*, but never one that
#     contains "-cpp." (libclang-cpp.so.14 is the C++ library, not libclang);
#   - the file must be a readable 64-bit ELF object.
# `libclang_find ROOT` prints the first match (paths under ROOT, "" for /) and returns 0, or
# returns 1. ROOT exists so that a test can run the search against a fake file tree.

libclang_is_elf64() {
  local magic
  magic=$(head -c 5 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n') || return 1
  [ "$magic" = "7f454c4602" ]
}

libclang_candidates_in() {
  local dir=$1 f name
  [ -d "$dir" ] || return 0
  for f in "$dir"/libclang.so "$dir"/libclang-*.so "$dir"/libclang.so.* "$dir"/libclang-*.so.*; do
    [ -e "$f" ] || continue
    name=${f##*/}
    case $name in *-cpp.*) continue ;; esac
    printf '%s\n' "$f"
  done
}

libclang_find() {
  local root=${1:-} dir f dirs=()
  if [ -n "${LIBCLANG_PATH:-}" ]; then
    if [ -f "$root$LIBCLANG_PATH" ]; then
      f="$root$LIBCLANG_PATH"
      case ${f##*/} in *-cpp.*) return 1 ;; libclang.so|libclang-*.so|libclang.so.*|libclang-*.so.*) ;; *) return 1 ;; esac
      libclang_is_elf64 "$f" && { printf '%s\n' "$f"; return 0; }
      return 1
    fi
    dirs=("$root$LIBCLANG_PATH")
  else
    if [ -z "$root" ] && command -v llvm-config >/dev/null 2>&1; then
      local prefix
      prefix=$(llvm-config --prefix 2>/dev/null | head -n 1)
      [ -n "$prefix" ] && dirs+=("$prefix/bin" "$prefix/lib" "$prefix/lib64")
    fi
    local IFS=:
    for dir in ${LD_LIBRARY_PATH:-} ${LIBRARY_PATH:-}; do dirs+=("$root$dir"); done
    unset IFS
    local pattern
    # Quoted: the patterns are expanded below ROOT, not against this machine's /usr.
    for pattern in '/usr/local/llvm*/lib*' '/usr/local/lib*/*/*' '/usr/local/lib*/*' '/usr/local/lib*' \
                   '/usr/lib*/*/*' '/usr/lib*/*' '/usr/lib*'; do
      for dir in "$root"$pattern; do [ -d "$dir" ] && dirs+=("$dir"); done
    done
  fi
  for dir in "${dirs[@]}"; do
    while IFS= read -r f; do
      libclang_is_elf64 "$f" && { printf '%s\n' "$f"; return 0; }
    done < <(libclang_candidates_in "$dir")
  done
  return 1
}
