# shellcheck shell=bash
# mirror_for SUITE -> the URI of the first Debian source for SUITE that apt on this machine already uses,
# from deb822 *.sources or one-line *.list files (mawk-safe). Sourced by tests/lab/build-image.sh and
# tests/image/build.sh.
mirror_for() { # mirror_for SUITE -> URI, from deb822 *.sources or one-line *.list files (mawk-safe)
  local want=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        # One paragraph per record (blank lines separate them); a trailing blank line flushes the last.
        { cat "$f"; echo; } | awk -v want="$want" '
          /^[[:space:]]*#/ { next }
          /^[[:space:]]*$/ { if (uris != "" && (" " suites " ") ~ (" " want " ") && types ~ /(^| )deb( |$)/) { print uris; exit }
                             uris = ""; suites = ""; types = ""; next }
          tolower($1) == "uris:" { uris = $2 }
          tolower($1) == "types:" { types = substr($0, index($0, ":") + 1) }
          tolower($1) == "suites:" { suites = substr($0, index($0, ":") + 1); gsub(/[[:space:]]+/, " ", suites) }' ;;
      *)
        awk -v want="$want" '
          $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                        if ($(i + 1) == want) { print $i; exit } }' "$f" ;;
    esac
  done | head -n 1
}
