#!/usr/bin/env bash
# End-to-end tests of `mda serve` on the demo's built-in data: the answers equal `mda search` for
# the same images, before and after live additions; additions acknowledged before a SIGKILL are
# searchable after a restart; hostile and malformed requests get clear 4xx answers; saturation
# gets 503 with Retry-After; SIGTERM finishes the request in flight; the curl examples of
# docs/serve.md run as written; the page shows results in headless Chromium.
#   serve_end_to_end.sh MDA_BINARY PYTHON_WITH_NUMPY SOURCE_DIR
set -uo pipefail
mda="$1"
python="$2"
source_dir="$3"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$mda" --help > "$work/help.txt"
grep -q "^  serve " "$work/help.txt" || { echo "SKIPPED: built without cpp-httplib"; exit 77; }
grep -q "^  demo " "$work/help.txt" || { echo "SKIPPED: built without libtorch (no model)"; exit 77; }
command -v curl > /dev/null || { echo "SKIPPED: no curl"; exit 77; }
[ -n "$python" ] || { echo "SKIPPED: no python3 with numpy"; exit 77; }

source "$source_dir/tests/end_to_end_checks.sh"

expect_status() {  # expect_status NAME STATUS FRAGMENT CURL_ARGS...: HTTP status and body fragment
  local name="$1" status="$2" fragment="$3"; shift 3
  local got
  got=$(curl -s -o "$work/body.txt" -w "%{http_code}" "$@")
  if [ "$got" = "$status" ] && grep -qF -- "$fragment" "$work/body.txt"; then
    passed=$((passed + 1))
  else
    echo "FAIL: $name (HTTP $got, wanted $status with '$fragment')"; head -c 400 "$work/body.txt"; echo
    failures=$((failures + 1))
  fi
}

# --- a small model, codebook and index on the demo's procedural images
small=(--set evaluation.image_size=256 --set "evaluation.scales=[1.0,0.707]" --set evaluation.features_num=200)
"$mda" demo --out "$work/demo" --objects 6 --epochs 1 --quiet > /dev/null || { echo "FAIL: demo"; exit 1; }
model="$work/demo/train/best.mdam"
data="$work/demo/data"
jpg="$data/synthetic/jpg"
"$mda" extract --model "$model" --data-root "$data" --dataset synthetic --split db --out "$work/db" \
  "${small[@]}" --quiet &&
  "$mda" train-codebook --features "$work/db" --out "$work/centroids.npy" \
    --set train_codebook.codebook.size=64 --quiet &&
  "$mda" build-index --codebook "$work/centroids.npy" --features "$work/db" --out "$work/index.mdai" \
    --quiet || { echo "FAIL: index"; exit 1; }
index_copy="$work/index.copy"
cp "$work/index.mdai" "$index_copy"

start_server() {  # start_server NAME ARGS...: sets server_pid and url
  local name="$1"; shift
  "$mda" serve --index "$work/index.mdai" --model "$model" --images-root "$jpg" --port 0 \
    "${small[@]}" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  server_pid=$!
  url=""
  for _ in $(seq 1 600); do
    url=$(sed -n 's/^mda serve: listening on //p' "$work/$name.out")
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  echo "FAIL: server $name did not start"; cat "$work/$name.err"; exit 1
}

stop_server() {  # SIGTERM; the server must exit 0
  kill -TERM "$server_pid"
  wait "$server_pid"
  local status=$?
  server_pid=""
  return $status
}

queries=(q000 q001 q002 q003 q004 q005)
for q in "${queries[@]}"; do echo "$jpg/$q.jpg"; done > "$work/queries.txt"

# Compares the server's answers (one JSON per query, $2/QUERY.json) with mda search's results.json.
same_as_mda_search() {  # same_as_mda_search RESULTS_JSON FOLDER
  "$python" - "$1" "$2" << 'PY'
import json, os, sys
reference = json.load(open(sys.argv[1]))["queries"]
for entry in reference:
    name = os.path.basename(entry["query"])[:-4]
    got = json.load(open(os.path.join(sys.argv[2], name + ".json")))["results"]
    want = entry["results"]
    if [r["name"] for r in got] != [r["name"] for r in want]:
        sys.exit(f"{name}: server {[r['name'] for r in got]} != mda search {[r['name'] for r in want]}")
    for a, b in zip(got, want):
        if abs(a["score"] - b["score"]) > 1e-6 * max(1.0, abs(b["score"])) or a["index"] != b["index"]:
            sys.exit(f"{name}: {a} != {b}")
print("same rankings and scores for", len(reference), "queries")
PY
}

ask_queries() {  # ask_queries FOLDER: every query through POST /search?topk=10
  mkdir -p "$1"
  for q in "${queries[@]}"; do
    curl --fail -s -X POST --data-binary "@$jpg/$q.jpg" "$url/search?topk=10" > "$1/$q.json" || return 1
  done
}

# --- 1. the same answers as mda search, by raw body and by multipart upload
start_server main
check "healthz" bash -c "curl --fail -s '$url/healthz' | grep -q '\"images\": 30'"
"$mda" search --index "$work/index.mdai" --model "$model" --images "$work/queries.txt" --topk 10 \
  --out "$work/search0" "${small[@]}" --quiet
check "image queries" ask_queries "$work/served0"
check "image queries equal mda search" same_as_mda_search "$work/search0/results.json" "$work/served0"
curl -s -F "image=@$jpg/q003.jpg" "$url/search?topk=10" > "$work/multipart.json"
check "a multipart upload gives the same answer" "$python" -c "
import json, sys
a = json.load(open('$work/multipart.json'))['results']; b = json.load(open('$work/served0/q003.json'))['results']
sys.exit(0 if a == b else 'differ')"
expect_status "a query region" 200 '"results"' -X POST --data-binary "@$jpg/q001.jpg" "$url/search?topk=3&bbox=10,10,100,80"
expect_status "attention maps of 4 heads" 200 '"features_per_head": [' -X POST --data-binary "@$jpg/q001.jpg" "$url/attention"
check "attention maps are JPEG data URIs, one per head" bash -c "test \$(curl -s -X POST --data-binary @'$jpg/q001.jpg' '$url/attention' | grep -o 'data:image/jpeg;base64,' | wc -l) -eq 5"
expect_status "timings of every step" 200 '"quantize"' -X POST --data-binary "@$jpg/q001.jpg" "$url/search"

# Feature queries: the descriptors of the first database image find it first.
"$python" -c "
import numpy as np
vecs = np.load('$work/db/vecs.npy'); ids = np.load('$work/db/imids.npy')
np.save('$work/query.npy', vecs[ids == 0].astype(np.float32))"
first_name=$(head -1 "$work/db/images.txt")
check "feature query finds its own image first" bash -c \
  "curl --fail -s -X POST --data-binary @'$work/query.npy' '$url/search/features?topk=1' | grep -q '\"name\": \"$first_name\"'"

# --- 2. live additions and removals, checked against mda search on the compacted index
check "add an image" bash -c "curl --fail -s -X POST --data-binary @'$jpg/q000.jpg' '$url/images?name=added_q000' | grep -q '\"images\": 31'"
check "add a multipart image" bash -c "curl --fail -s -F image=@'$jpg/q004.jpg' '$url/images?name=added_q004' | grep -q '\"images\": 32'"
expect_status "the same name twice" 409 "already indexed" -X POST --data-binary "@$jpg/q001.jpg" "$url/images?name=added_q000"
check "an added image is found" bash -c "curl --fail -s -X POST --data-binary @'$jpg/q000.jpg' '$url/search?topk=1' | grep -q added_q000"
check "image queries after additions" ask_queries "$work/served1"
expect_status "compact" 200 '"generation": 1' -X POST "$url/admin/compact"
"$mda" search --index "$work/index.mdai.live/index-1.mdai" --model "$model" --images "$work/queries.txt" \
  --topk 10 --out "$work/search1" "${small[@]}" --quiet
check "after additions: equal to mda search on the compacted index" same_as_mda_search "$work/search1/results.json" "$work/served1"
expect_status "remove an image" 200 '"removed": "added_q004"' -X DELETE "$url/images/added_q004"
expect_status "remove it again" 404 "no image" -X DELETE "$url/images/added_q004"
check "a removed image is not found" bash -c "! curl --fail -s -X POST --data-binary @'$jpg/q004.jpg' '$url/search' | grep -q added_q004"
check "the base index file is never written" cmp "$work/index.mdai" "$index_copy"

# --- 3. bad and hostile requests
"$python" "$source_dir/tests/make_test_images.py" bomb "$work/bomb.png"
"$python" "$source_dir/tests/make_test_images.py" grey "$work/grey.png"
"$python" "$source_dir/tests/make_test_images.py" rgb16 "$work/rgb16.png"
"$python" "$source_dir/tests/make_test_images.py" palette "$work/palette.png"
"$python" "$source_dir/tests/make_test_images.py" cmyk "$work/cmyk.jpg" 2> /dev/null
head -c 2000 "$jpg/q000.jpg" > "$work/truncated.jpg"
printf 'GIF89a\001\000\001\000' > "$work/x.gif"
expect_status "unknown route" 404 "no such route" "$url/nothing"
expect_status "bad topk" 400 "topk must be" -X POST --data-binary "@$jpg/q000.jpg" "$url/search?topk=0"
expect_status "bad bbox" 400 "bbox must be" -X POST --data-binary "@$jpg/q000.jpg" "$url/search?bbox=5,5,1,1"
expect_status "bbox past the image" 400 "reaches past the image" -X POST --data-binary "@$jpg/q000.jpg" "$url/search?bbox=0,0,5000,5000"
expect_status "bad name" 400 "image name must be" -X POST --data-binary "@$jpg/q000.jpg" "$url/images?name=../x"
expect_status "no name" 400 "needs ?name" -X POST --data-binary "@$jpg/q000.jpg" "$url/images"
expect_status "empty body" 400 "empty request body" -X POST "$url/search"
expect_status "a pixel bomb is refused before decoding" 413 "refused before decoding" -X POST --data-binary "@$work/bomb.png" "$url/search"
expect_status "truncated JPEG" 400 "truncated" -X POST --data-binary "@$work/truncated.jpg" "$url/search"
expect_status "GIF" 415 "unsupported image format" -X POST --data-binary "@$work/x.gif" "$url/search"
expect_status "grey PNG" 200 '"results"' -X POST --data-binary "@$work/grey.png" "$url/search"
expect_status "16-bit PNG" 200 '"results"' -X POST --data-binary "@$work/rgb16.png" "$url/search"
expect_status "palette PNG" 200 '"results"' -X POST --data-binary "@$work/palette.png" "$url/search"
[ -s "$work/cmyk.jpg" ] && expect_status "CMYK JPEG" 200 '"results"' -X POST --data-binary "@$work/cmyk.jpg" "$url/search"
expect_status "bad .npy" 400 "request body" -X POST --data-binary "@$jpg/q000.jpg" "$url/search/features"
expect_status "thumbnail" 200 "" "$url/images/o000_v0?thumb=64"
expect_status "no image file" 404 "no image file" "$url/images/nothing_here"
expect_status "path outside the images root" 400 "image name must be" "$url/images/..%2F..%2Fetc%2Fpasswd"

# --- 4. the curl examples of docs/serve.md, as written
mkdir -p "$work/docs"
cp "$jpg/q002.jpg" "$work/docs/query.jpg"
cp "$jpg/q005.jpg" "$work/docs/new.jpg"
cp "$work/query.npy" "$work/docs/query.npy"
sed -n '/^```bash$/,/^```$/p' "$source_dir/docs/serve.md" | grep -v '^```' > "$work/docs/examples.sh"
check "docs/serve.md has curl examples" test "$(grep -c '^curl' "$work/docs/examples.sh")" -ge 9
check "docs/serve.md examples run" bash -c "cd '$work/docs' && MDA_URL='$url' bash -e examples.sh"
check "metrics" bash -c "curl --fail -s '$url/metrics' | grep -q 'mda_requests_total{endpoint=\"search\",code=\"200\"}'"
check "metrics: index and log gauges" bash -c "curl --fail -s '$url/metrics' | grep -q '^mda_index_images 31'"

# --- 5. the page in headless Chromium: a real query through the page shows result thumbnails
if command -v chromium > /dev/null; then
  browse=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1400
          --virtual-time-budget=30000)
  "${browse[@]}" --dump-dom "$url/?query=o002_v0" > "$work/page.html" 2> /dev/null
  check "page: result thumbnails" test "$(grep -o 'class="result-thumb"' "$work/page.html" | wc -l)" -ge 10
  check "page: the query's own image first" bash -c "grep -o 'o002_v0  [0-9.]*' '$work/page.html' | head -1 | grep -q o002_v0"
  check "page: step timings" grep -q "extract [0-9.]* ms" "$work/page.html"
  check "page: one attention map per head" test "$(grep -o 'class="attention-head"' "$work/page.html" | wc -l)" -eq 4
  check "page: kept features by head" test "$(grep -o 'class="attention-features"' "$work/page.html" | wc -l)" -eq 1
  "${browse[@]}" --screenshot="$work/page.png" "$url/?query=o002_v0" > /dev/null 2>&1
  check "page screenshot shows the pictures" "$python" "$source_dir/tests/screenshot_check.py" "$work/page.png" 0.05 500
else
  echo "SKIPPED: page checks in a browser (no chromium)"
fi

# --- 6. SIGTERM: the request in flight is answered, then the server exits 0
# The signal waits until /metrics reports the request running (on a loaded machine no fixed sleep
# is enough for it to arrive); a request that ends before it is seen is sent again.
seen_running=0
for _ in $(seq 1 20); do
  curl -s -X POST --data-binary "@$jpg/q000.jpg" "$url/search?topk=1" > "$work/inflight.json" &
  curl_pid=$!
  while kill -0 "$curl_pid" 2> /dev/null; do
    if curl -s "$url/metrics" | grep -q '^mda_requests_running [1-9]'; then seen_running=1; break; fi
  done
  [ "$seen_running" = 1 ] && break
  wait "$curl_pid"
done
check "SIGTERM: a search seen running before the signal" test "$seen_running" = 1
check "SIGTERM: clean exit" stop_server
wait "$curl_pid"
check "SIGTERM: the request in flight was answered" grep -q '"results"' "$work/inflight.json"

# --- 7. saturation: one slot, no waiting room, two connection threads
start_server saturated --threads 1 --queue 0 --connections 2
for i in $(seq 1 12); do
  curl -s -o /dev/null -D "$work/headers$i" -w "%{http_code}\n" -X POST --data-binary "@$jpg/q000.jpg" \
    "$url/search?topk=3" > "$work/code$i" &
done
wait $(jobs -p | grep -v "^$server_pid$")
codes=$(cat "$work"/code* | sort | uniq -c | tr '\n' ' ')
check "saturation: some answered ($codes)" grep -qx 200 $work/code*
check "saturation: the rest refused at once with 503 ($codes)" test "$(cat "$work"/code* | grep -cv '^\(200\|503\)$')" -eq 0 -a "$(cat "$work"/code* | grep -c '^503$')" -ge 1
check "saturation: every 503 says Retry-After" test "$(grep -l '^HTTP/1.1 503' "$work"/headers* | xargs grep -L 'Retry-After' | wc -l)" -eq 0
stop_server

# --- 8. durability: SIGKILL in the middle of a stream of additions
start_server durable
: > "$work/acknowledged.txt"
: > "$work/attempted.txt"
(
  for i in $(seq 0 199); do
    name="stream_$i"
    echo "$name" >> "$work/attempted.txt"
    code=$(curl -s -o /dev/null -w "%{http_code}" -X POST --data-binary "@$jpg/o00$((i % 6))_v1.jpg" "$url/images?name=$name")
    [ "$code" = 201 ] && echo "$name" >> "$work/acknowledged.txt"
  done
) &
stream_pid=$!
for _ in $(seq 1 300); do
  [ "$(wc -l < "$work/acknowledged.txt")" -ge 8 ] && break
  sleep 0.05
done
kill -9 "$server_pid"
wait "$server_pid" 2> /dev/null
server_pid=""
wait "$stream_pid"
start_server restarted
curl -s "$url/images?limit=100000" > "$work/names.json"
check "durability: additions were acknowledged before the kill" test "$(wc -l < "$work/acknowledged.txt")" -ge 8
check "durability: every acknowledged addition is there after a restart" "$python" -c "
import json, sys
names = set(json.load(open('$work/names.json'))['names'])
acked = open('$work/acknowledged.txt').read().split()
attempted = set(open('$work/attempted.txt').read().split())
missing = [n for n in acked if n not in names]
stray = [n for n in names if n.startswith('stream_') and n not in attempted]
sys.exit(f'missing {missing}, stray {stray}' if missing or stray else 0)"
check "durability: the index is consistent (healthz count = names)" bash -c \
  "curl --fail -s '$url/healthz' | grep -q \"\\\"images\\\": \$('$python' -c \"import json; print(len(json.load(open('$work/names.json'))['names']))\")\""
check "durability: searches work after the replay" bash -c "curl --fail -s -X POST --data-binary @'$jpg/q000.jpg' '$url/search?topk=1' | grep -q '\"results\"'"
stop_server

echo "serve_end_to_end: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
