# Shared by the project's scripts: run a noisy command quietly, showing its
# output only if it fails.
quietly() {
  local log
  if ! log=$("$@" 2>&1); then
    printf '%s\n' "$log" >&2
    echo "failed: $*" >&2
    return 1
  fi
}
