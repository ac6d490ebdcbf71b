#!/usr/bin/env bash
# Regenerates docs/commands.md from the program's own --help texts; the hand-written part from
# "## Exit status" on is kept.
#   scripts/generate_command_docs.sh [path/to/mda]
set -euo pipefail
mda="${1:-build/mda}"
trailer="$(sed -n '/^## Exit status/,$p' docs/commands.md)"
{
  echo "# Commands"
  echo
  echo 'Generated from `mda <command> --help` by `scripts/generate_command_docs.sh`.'
  echo
  echo '```'
  "$mda" --help
  echo '```'
  for command in $("$mda" --help | awk '/^Commands:/ {on = 1; next} on && NF {print $1}'); do
    echo
    echo "## mda $command"
    echo
    echo '```'
    "$mda" "$command" --help
    echo '```'
  done
  echo
  echo "$trailer"
} > docs/commands.md.tmp
mv docs/commands.md.tmp docs/commands.md
echo "wrote docs/commands.md"
