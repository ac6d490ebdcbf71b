# Sourced by the end-to-end test scripts: counted checks that print what failed. Needs $work (a
# scratch folder) and keeps the counts in $passed and $failures.
passed=0
failures=0

check() {  # check NAME COMMAND...: the command must succeed
  local name="$1"; shift
  if "$@" > "$work/check.txt" 2>&1; then
    passed=$((passed + 1))
  else
    echo "FAIL: $name"; sed 's/^/    /' "$work/check.txt" | tail -20
    failures=$((failures + 1))
  fi
}

expect_error() {  # expect_error NAME STATUS FRAGMENT COMMAND...: must exit STATUS, output holding FRAGMENT
  local name="$1" status="$2" fragment="$3"; shift 3
  "$@" > "$work/check.txt" 2>&1
  local got=$?
  if [ "$got" -eq "$status" ] && grep -qF -- "$fragment" "$work/check.txt"; then
    passed=$((passed + 1))
  else
    echo "FAIL: $name (exit $got, wanted $status with '$fragment')"; sed 's/^/    /' "$work/check.txt" | tail -10
    failures=$((failures + 1))
  fi
}
