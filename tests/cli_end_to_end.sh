#!/usr/bin/env bash
# End-to-end tests of the mda program on tiny data: the built-in demo, `mda evaluate` cross-checked
# against an independent Python implementation of the protocol, and the CLI's errors on bad input.
#   cli_end_to_end.sh MDA_BINARY PYTHON_WITH_NUMPY SHARED_DATA_DIR
set -uo pipefail
mda="$1"
python="$2"
shared="$3"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
source "$here/end_to_end_checks.sh"

# --- the built-in demo, on a very small dataset (it needs the libtorch build; without it the
# evaluate checks below run on the same procedural data written by `mda synthetic`)
"$mda" --help > "$work/help.txt"
if grep -q "^  demo " "$work/help.txt"; then
  check "demo runs" bash -c "'$mda' demo --out '$work/demo' --objects 6 --epochs 1 --quiet > '$work/demo.txt'"
  check "demo prints the comparison" grep -q "MDA trained 1 epochs, ASMK\*" "$work/demo.txt"
  # The demo's report, opened in headless Chromium: the expected elements are in the page, and a
  # screenshot shows the pictures (a copy with broken image data must fail the same check).
  check "demo wrote the report" test -s "$work/demo/report.html"
  if command -v chromium > /dev/null && [ -n "$python" ]; then
    browse=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1600)
    "${browse[@]}" --dump-dom "file://$work/demo/report.html" > "$work/dom.html" 2>/dev/null
    check "report: query rows" test "$(grep -o 'class="query"' "$work/dom.html" | wc -l)" -eq 6
    check "report: result thumbnails" test "$(grep -o 'class="thumb ' "$work/dom.html" | wc -l)" -eq 48
    check "report: positives marked" grep -q 'class="thumb positive"' "$work/dom.html"
    check "report: one attention map per head and image" test "$(grep -o 'class="attention-head"' "$work/dom.html" | wc -l)" -eq 8
    check "report: features coloured by head" test "$(grep -o 'class="attention-features"' "$work/dom.html" | wc -l)" -eq 2
    check "report: three training curves" test "$(grep -o '<svg class="curve"' "$work/dom.html" | wc -l)" -eq 3
    check "report: configuration and timings" grep -q 'id="timings"' "$work/dom.html"
    check "report: per-head statistics of every validation" test "$(grep -o '<tr><td>[0-9]*</td><td>[0-9]* / ' "$work/dom.html" | wc -l)" -ge 2
    "${browse[@]}" --screenshot="$work/shot.png" "file://$work/demo/report.html" > /dev/null 2>&1
    check "report screenshot shows the pictures" "$python" "$here/screenshot_check.py" "$work/shot.png" 0.15 2000
    sed 's|data:image/jpeg;base64,|broken:|g' "$work/demo/report.html" > "$work/broken.html"
    "${browse[@]}" --screenshot="$work/broken.png" "file://$work/broken.html" > /dev/null 2>&1
    expect_error "screenshot check fails without pictures" 1 "does not show the pictures" \
      "$python" "$here/screenshot_check.py" "$work/broken.png" 0.15 2000
  else
    echo "SKIPPED: report checks in a browser (no chromium or no python3)"
  fi
  check "demo wrote every method's ranking" test -s "$work/demo/results/ranks_thumbnail.npy" \
    -a -s "$work/demo/results/ranks_untrained.npy" -a -s "$work/demo/results/ranks_trained.npy"
  check "demo wrote ranks" test -s "$work/demo/results/ranks.npy"
  check "demo wrote metrics" test -s "$work/demo/results/metrics.json"
  check "demo saved its configuration" grep -q "features_num" "$work/demo/results/metrics.config.yaml"
else
  echo "SKIPPED: demo checks (built without libtorch)"
  check "procedural data without the demo" "$mda" synthetic --root "$work/demo/data" --name synthetic --objects 6 --quiet
fi

# --- evaluate on the demo dataset (it has easy, hard and junk), checked against the reference
syn="$work/demo/data/synthetic/gnd_synthetic.json"
if [ -n "$python" ]; then
  for mode in identity reverse random; do
    check "rank synthetic $mode" "$python" "$here/revisitop_reference.py" rank "$syn" "$work/r_$mode.npy" "$mode" 1
    check "evaluate synthetic $mode" "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic \
      --ranks "$work/r_$mode.npy" --json "$work/m_$mode.json" --quiet
    check "synthetic $mode matches the reference" "$python" "$here/revisitop_reference.py" check "$syn" \
      "$work/r_$mode.npy" "$work/m_$mode.json"
  done
  check "evaluate saved its configuration" test -s "$work/m_random.config.yaml"
  if [ -f "$work/demo/results/ranks.npy" ]; then
    cp "$work/demo/results/ranks.npy" "$work/demo_ranks.npy"
    check "evaluate the demo's own ranking" "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic \
      --ranks "$work/demo_ranks.npy" --json "$work/m_demo.json"
    check "demo ranking matches the reference" "$python" "$here/revisitop_reference.py" check "$syn" \
      "$work/demo_ranks.npy" "$work/m_demo.json"
  fi

  # --- the shared development data (pickle ground truth), when present
  if [ -d "$shared/ukbench1k" ]; then
    for dataset in ukbench1k grocery; do
      gnd="$shared/$dataset/gnd_$dataset.json"
      for mode in identity random; do
        check "rank $dataset $mode" "$python" "$here/revisitop_reference.py" rank "$gnd" "$work/${dataset}_$mode.npy" "$mode" 3
        check "evaluate $dataset $mode" "$mda" evaluate --data-root "$shared" --dataset "$dataset" \
          --ranks "$work/${dataset}_$mode.npy" --json "$work/${dataset}_$mode.json"
        check "$dataset $mode matches the reference" "$python" "$here/revisitop_reference.py" check "$gnd" \
          "$work/${dataset}_$mode.npy" "$work/${dataset}_$mode.json"
      done
      # Hard has no positives in these datasets: reported as not applicable, not as an error.
      check "$dataset hard is n/a" grep -q '"applicable": false' "$work/${dataset}_identity.json"
    done
  else
    echo "SKIPPED: shared data checks ($shared/ukbench1k is absent)"
  fi

  # --- bad rankings
  "$python" -c "import numpy as np; np.save('$work/bad_shape.npy', np.zeros((3, 2), np.int64))"
  expect_error "wrong shape" 1 "bad_shape.npy: ranks have shape (3, 2)" \
    "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic --ranks "$work/bad_shape.npy"
  "$python" -c "
import numpy as np, json
n = len(json.load(open('$syn'))['imlist']); q = len(json.load(open('$syn'))['qimlist'])
r = np.tile(np.arange(n)[:, None], (1, q)); r[1, 0] = 0
np.save('$work/dup.npy', r)"
  expect_error "duplicate index" 1 "dup.npy: query 0 ranks database index 0 twice" \
    "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic --ranks "$work/dup.npy"
else
  echo "SKIPPED: numpy cross-checks (no python3 with numpy)"
fi

# --- codebook, inverted file and search on toy features, checked against a numpy ASMK*
if [ -n "$python" ]; then
  toy="$work/toy"
  check "make toy features" "$python" "$here/asmk_reference.py" make "$toy"
  small=(--set train_codebook.codebook.size=24 --quiet)
  check "train-codebook" "$mda" train-codebook --features "$toy/db" --out "$toy/centroids.npy" "${small[@]}"
  check "codebook report" grep -q '"objective"' "$toy/centroids.json"
  check "build-index" "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/db" --out "$toy/db.ivf" --quiet
  check "index statistics" grep -q '"vectors_per_image"' "$toy/db.ivf.stats.json"
  check "search" "$mda" search --index "$toy/db.ivf" --codebook "$toy/centroids.npy" --features "$toy/q" --out "$toy/out" --quiet
  check "search matches numpy ASMK*" "$python" "$here/asmk_reference.py" check "$toy" "$toy/centroids.npy" "$toy/out"
  check "pairs file" grep -q "^q00 " "$toy/out/pairs.txt"
  check "evaluate the search" "$mda" evaluate --data-root "$toy/data" --dataset toy --ranks "$toy/out/ranks.npy" \
    --json "$toy/metrics.json" --quiet
  check "toy retrieval works" "$python" -c "
import json, sys; m = json.load(open('$toy/metrics.json'))['protocols']['medium']['map']; print('toy mAP', m); sys.exit(0 if m > 0.9 else 1)"
  check "search --pairs-topk 0" "$mda" search --index "$toy/db.ivf" --features "$toy/q" --out "$toy/nopairs" --pairs-topk 0 --quiet
  check "--pairs-topk 0: the same ranks, no pairs" "$python" -c "
import json, sys, numpy as np
same = np.array_equal(np.load('$toy/out/ranks.npy'), np.load('$toy/nopairs/ranks.npy'))
empty = open('$toy/nopairs/pairs.txt').read() == '' and all(
    not q['results'] for q in json.load(open('$toy/nopairs/results.json'))['queries'])
sys.exit(0 if same and empty else 1)"
  check "search --pairs-topk 2" "$mda" search --index "$toy/db.ivf" --features "$toy/q" --out "$toy/twopairs" --pairs-topk 2 --quiet
  check "--pairs-topk 2: the first two lines of each query's pairs" "$python" -c "
import sys
full = [l.split() for l in open('$toy/out/pairs.txt')]
two = [l.split() for l in open('$toy/twopairs/pairs.txt')]
queries = list(dict.fromkeys(l[0] for l in full))
want = [l for q in queries for l in [x for x in full if x[0] == q][:2]]
sys.exit(0 if two == want and len(two) == 2 * len(queries) else 1)"
  check "search --topk 5" "$mda" search --index "$toy/db.ivf" --features "$toy/q" --out "$toy/top5" --topk 5 --quiet
  check "evaluate a top-k ranking" "$mda" evaluate --data-root "$toy/data" --dataset toy --ranks "$toy/top5/ranks.npy" \
    --json "$toy/top5.json" --quiet
  for kernel in "1 3.0 0.0 1 1" "0 3.0 -0.2 5 1"; do
    set -- $kernel
    binary=true; [ "$1" = 0 ] && binary=false
    check "build-index binary=$binary" "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/db" \
      --out "$toy/k.ivf" --set build_ivf.kernel.binary=$binary --quiet
    check "search binary=$binary tau=$3 ma=$4" "$mda" search --index "$toy/k.ivf" --codebook "$toy/centroids.npy" \
      --features "$toy/q" --out "$toy/k" --set query_ivf.similarity.similarity_threshold=$3 \
      --set query_ivf.quantize.multiple_assignment=$4 --quiet
    check "numpy agrees, binary=$binary tau=$3 ma=$4" "$python" "$here/asmk_reference.py" check "$toy" \
      "$toy/centroids.npy" "$toy/k" $kernel
  done
  # Shards: two halves with id offsets, merged, give the same ranking as one build.
  "$python" -c "
import numpy as np, os
for name, keep in (('a', lambda i: i < 18), ('b', lambda i: i >= 18)):
    v = np.load('$toy/db/vecs.npy'); m = np.load('$toy/db/imids.npy')
    sel = np.array([keep(i) for i in m]); os.makedirs('$toy/' + name, exist_ok=True)
    np.save('$toy/%s/vecs.npy' % name, v[sel]); np.save('$toy/%s/imids.npy' % name, m[sel] - (0 if name == 'a' else 18))"
  check "shard a" "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/a" --out "$toy/a.ivf" --quiet
  check "shard b" "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/b" --out "$toy/b.ivf" --id-offset 18 --quiet
  check "merge shards" "$mda" merge-index --index "$toy/a.ivf" --index "$toy/b.ivf" --out "$toy/ab.ivf" --quiet
  check "search merged" "$mda" search --index "$toy/ab.ivf" --codebook "$toy/centroids.npy" --features "$toy/q" --out "$toy/ab" --quiet
  check "merged = single build" cmp "$toy/ab/ranks.npy" "$toy/out/ranks.npy"
  expect_error "overlapping shards" 1 "overlapping shards" \
    "$mda" merge-index --index "$toy/a.ivf" --index "$toy/a.ivf" --out "$toy/aa.ivf"
  check "append" "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/b" --out "$toy/a.ivf" --append --quiet
  check "search appended" "$mda" search --index "$toy/a.ivf" --codebook "$toy/centroids.npy" --features "$toy/q" --out "$toy/ap" --quiet
  check "appended = single build" cmp "$toy/ap/ranks.npy" "$toy/out/ranks.npy"
  # Appends to one index at once take turns (a lock beside the file): none is lost.
  cp "$toy/a.ivf" "$toy/both.ivf"
  "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/b" --out "$toy/both.ivf" --append --quiet &
  "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/b" --out "$toy/both.ivf" --append --quiet &
  wait
  check "two concurrent appends both land" "$python" -c "
import json, sys; n = json.load(open('$toy/both.ivf.stats.json'))['images']; print('images', n); sys.exit(0 if n == 72 else 1)"
  # The index holds its codebook and the images' names: --codebook is optional, and checked.
  check "search without --codebook" "$mda" search --index "$toy/db.ivf" --features "$toy/q" --out "$toy/nocb" --quiet
  check "same ranking without --codebook" cmp "$toy/nocb/ranks.npy" "$toy/out/ranks.npy"
  check "results.json names the ranked images" "$python" -c "
import json, os, numpy as np
ranks = np.load('$toy/out/ranks.npy'); results = json.load(open('$toy/out/results.json'))['queries']
names_file = '$toy/db/images.txt'
names = open(names_file).read().split() if os.path.exists(names_file) else [str(i) for i in range(ranks.shape[0])]
assert len(results) == ranks.shape[1]
for q, query in enumerate(results):
    assert [r['index'] for r in query['results']] == list(ranks[:len(query['results']), q])
    assert [r['name'] for r in query['results']] == [names[i] for i in ranks[:len(query['results']), q]]
"
  check "pairs.txt names the database image" bash -c "head -1 '$toy/out/pairs.txt' | awk 'NF == 4 { ok = 1 } END { exit !ok }'"
  expect_error "append with another encoding" 1 "one index holds one encoding" \
    "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/b" --out "$toy/db.ivf" --append \
    --set build_ivf.quantize.multiple_assignment=2
  # Writers refuse an output that is one of their inputs; non-finite features are errors.
  cp "$toy/centroids.npy" "$toy/c_copy.npy"
  expect_error "build-index over its codebook" 1 "is an input" \
    "$mda" build-index --codebook "$toy/c_copy.npy" --features "$toy/db" --out "$toy/c_copy.npy"
  check "the codebook is intact" cmp "$toy/c_copy.npy" "$toy/centroids.npy"
  expect_error "train-codebook over its features" 1 "is an input" \
    "$mda" train-codebook --features "$toy/db" --out "$toy/db/vecs.npy" "${small[@]}"
  expect_error "evaluate over its ranks" 1 "is an input" \
    "$mda" evaluate --data-root "$toy/data" --dataset toy --ranks "$toy/out/ranks.npy" --json "$toy/out/ranks.npy"
  cp -r "$toy/q" "$toy/q_nan"
  "$python" -c "
import numpy as np; v = np.load('$toy/q_nan/vecs.npy'); v[3, 5] = np.nan; np.save('$toy/q_nan/vecs.npy', v)"
  expect_error "NaN query features" 1 "vecs.npy: descriptor 3 holds nan at column 5" \
    "$mda" search --index "$toy/db.ivf" --features "$toy/q_nan" --out "$toy/x"
  cp "$toy/db.ivf" "$toy/old.ivf" && printf 'MDAIVF01' | dd of="$toy/old.ivf" conv=notrunc status=none
  expect_error "index of the previous format" 1 "rebuild it with this version" \
    "$mda" search --index "$toy/old.ivf" --features "$toy/q" --out "$toy/x"
  # Bad input.
  "$python" -c "
import numpy as np, os; os.makedirs('$toy/wide', exist_ok=True)
np.save('$toy/wide/vecs.npy', np.zeros((4, 64), np.float32)); np.save('$toy/wide/imids.npy', np.array([0, 0, 1, 1]))"
  expect_error "dimension differs from the codebook" 1 "descriptors are 64-d, the codebook's words are 32-d" \
    "$mda" build-index --codebook "$toy/centroids.npy" --features "$toy/wide" --out "$toy/w.ivf"
  cp -r "$toy/q" "$toy/q_gap" && echo "extra_query" >> "$toy/q_gap/images.txt"
  expect_error "image with no features" 1 "image 12 ('extra_query') has no local features" \
    "$mda" search --index "$toy/db.ivf" --codebook "$toy/centroids.npy" --features "$toy/q_gap" --out "$toy/x"
  head -c 1000 "$toy/db.ivf" > "$toy/cut.ivf"
  expect_error "truncated index" 1 "cut.ivf: truncated" \
    "$mda" search --index "$toy/cut.ivf" --codebook "$toy/centroids.npy" --features "$toy/q" --out "$toy/x"
  expect_error "foreign index" 1 "centroids.npy: not an mda index" \
    "$mda" search --index "$toy/centroids.npy" --codebook "$toy/centroids.npy" --features "$toy/q" --out "$toy/x"
  "$python" -c "import numpy as np; np.save('$toy/other.npy', np.ones((24, 32), np.float32))"
  expect_error "another codebook" 1 "was built with another codebook" \
    "$mda" search --index "$toy/db.ivf" --codebook "$toy/other.npy" --features "$toy/q" --out "$toy/x"
fi

# --- pretrained weights -> model files (needs the libtorch build)
if grep -q import-weights "$work/help.txt"; then
  coral="$shared/weights/coral"
  if [ -f "$coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" ]; then
    check "import TFLite MobileNetV1" "$mda" import-weights --weights "$coral/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite" \
      --set model.backbone=mobilenet_v1 --set model.heads=4 --set model.dim=32 --out "$work/mnv1.mdam" --quiet
    check "model file written" test -s "$work/mnv1.mdam"
    check "model configuration saved" grep -q "mobilenet_v1" "$work/mnv1.config.yaml"
    expect_error "TFLite into a ResNet" 1 "need a MobileNet backbone" \
      "$mda" import-weights --weights "$coral/mobilenet_v2_1.0_224_quant.tflite" --out "$work/x.mdam"
    expect_error "V2 weights into V1" 1 "does not match" \
      "$mda" import-weights --weights "$coral/mobilenet_v2_1.0_224_quant.tflite" --set model.backbone=mobilenet_v1 --out "$work/x.mdam"
    # evaluation.precision int8: MobileNetV1's convolutions in int8; the folder records it.
    small=(--set evaluation.image_size=96 --set "evaluation.scales=[1.0, 0.5]" --set evaluation.features_num=40 --quiet)
    if grep -qE "avx512_vnni|avx_vnni" /proc/cpuinfo; then
      check "int8 extraction (MobileNetV1)" "$mda" extract --model "$work/mnv1.mdam" --data-root "$work/demo/data" \
        --dataset synthetic --out "$work/int8" "${small[@]}" --set evaluation.precision=int8
      check "int8 extraction recorded" grep -q '"precision": "int8"' "$work/int8/parts/source.json"
      expect_error "float features into an int8 folder" 1 "was extracted from other extraction" \
        "$mda" extract --model "$work/mnv1.mdam" --data-root "$work/demo/data" --dataset synthetic --out "$work/int8" "${small[@]}"
    else
      expect_error "int8 refused without VNNI" 1 "no VNNI instructions" "$mda" extract --model "$work/mnv1.mdam" \
        --data-root "$work/demo/data" --dataset synthetic --out "$work/int8" "${small[@]}" --set evaluation.precision=int8
    fi
  else
    echo "SKIPPED: TFLite import checks ($coral is absent)"
  fi
  if [ -n "$python" ] && "$python" "$here/torchvision_reference.py" "$work" resnet18 1 2>/dev/null; then
    check "import torchvision ResNet-18" "$mda" import-weights --weights "$work/resnet18.pth" \
      --set model.backbone=resnet18 --set model.heads=2 --set model.dim=16 --out "$work/r18.mdam" --quiet
    expect_error "ResNet-18 weights into a ResNet-50" 1 "resnet18.pth: tensor" \
      "$mda" import-weights --weights "$work/resnet18.pth" --out "$work/x.mdam"
    # Extraction on the demo dataset, then the whole retrieval pipeline on it.
    tiny=(--set model.backbone=resnet18 --set model.skip_layer=2 --set model.heads=2 --set model.dim=16)
    check "import a tiny model" "$mda" import-weights --weights "$work/resnet18.pth" "${tiny[@]}" --out "$work/tiny.mdam" --quiet
    ex=(--set evaluation.image_size=96 --set "evaluation.scales=[1.0, 0.5]" --set evaluation.features_num=40 --part-size 16 --quiet)
    check "extract database" "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --out "$work/fx/db" "${ex[@]}"
    check "extract queries (cropped)" "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --split queries --out "$work/fx/q" "${ex[@]}"
    check "extract wrote the HOW layout" test -s "$work/fx/db/vecs.npy" -a -s "$work/fx/db/locs.npy" -a -s "$work/fx/db/images.txt"
    check "rerun resumes" bash -c "'$mda' extract --model '$work/tiny.mdam' --data-root '$work/demo/data' --dataset synthetic \
      --out '$work/fx/db' --set evaluation.image_size=96 --set 'evaluation.scales=[1.0, 0.5]' --set evaluation.features_num=40 \
      --part-size 16 2>&1 | grep -q 'already extracted'"
    # A part damaged on disk is extracted again by the rerun (it used to fail every rerun).
    cp "$work/fx/db/vecs.npy" "$work/vecs_before.npy"
    part=$(ls "$work"/fx/db/parts/part-*.mdaf | head -1)
    head -c 200 "$part" > "$work/part_head" && cp "$work/part_head" "$part"
    check "a damaged part is extracted again" bash -c "'$mda' extract --model '$work/tiny.mdam' --data-root '$work/demo/data' --dataset synthetic \
      --out '$work/fx/db' --set evaluation.image_size=96 --set 'evaluation.scales=[1.0, 0.5]' --set evaluation.features_num=40 \
      --part-size 16 2>&1 | grep -q 'is damaged.*extracting it again'"
    check "the repaired folder equals the first extraction" cmp "$work/vecs_before.npy" "$work/fx/db/vecs.npy"
    # Hostile image lists: degenerate sizes are extracted, non-files are errors (a FIFO used to hang).
    "$python" -c "
import numpy as np, zlib, struct, sys
def png(path, w, h):
    raw = b''.join(b'\\x00' + bytes([100, 150, 200] * w) for _ in range(h))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
png(sys.argv[1], 1, 1); png(sys.argv[2], 5000, 3)" "$work/one.png" "$work/thin.png"
    printf '%s\n' "$work/one.png" "$work/thin.png" > "$work/odd.txt"
    check "1x1 and 5000x3 images are extracted" "$mda" extract --model "$work/tiny.mdam" --images "$work/odd.txt" \
      --out "$work/fx/odd" "${ex[@]}"
    mkfifo "$work/fifo.png" && echo "$work/fifo.png" > "$work/fifo.txt"
    expect_error "a FIFO in an image list" 1 "not a regular file" \
      timeout 60 "$mda" extract --model "$work/tiny.mdam" --images "$work/fifo.txt" --out "$work/fx/fifo" "${ex[@]}"
    # runtime.on_bad_image: skip keeps an unreadable image's place without features; it is indexed
    # and searched without words (never retrieved), and fail (the default) names it.
    mkdir -p "$work/skip"
    for i in 0 1 2 3; do cp "$(ls "$work"/demo/data/synthetic/jpg/*.jpg | sed -n "$((i + 1))p")" "$work/skip/s$i.jpg"; done
    head -c 200 "$work/skip/s0.jpg" > "$work/skip/s2.jpg"
    ls "$work"/skip/s*.jpg > "$work/skip.txt"
    expect_error "a corrupt image fails extraction by default, named" 1 "skip/s2.jpg" \
      "$mda" extract --model "$work/tiny.mdam" --images "$work/skip.txt" --out "$work/fx/skip_fail" "${ex[@]}"
    check "on_bad_image skip: extraction succeeds" "$mda" extract --model "$work/tiny.mdam" --images "$work/skip.txt" \
      --out "$work/fx/skip" "${ex[@]}" --set runtime.on_bad_image=skip
    check "on_bad_image skip: skipped.txt names the image" grep -qx "$work/skip/s2.jpg" "$work/fx/skip/skipped.txt"
    check "on_bad_image skip: it keeps its place" test "$(sed -n 3p "$work/fx/skip/images.txt")" = "$work/skip/s2.jpg"
    check "on_bad_image skip: codebook" "$mda" train-codebook --features "$work/fx/skip" --out "$work/skip_c.npy" \
      --set train_codebook.codebook.size=8 --quiet
    check "on_bad_image skip: index" "$mda" build-index --codebook "$work/skip_c.npy" --features "$work/fx/skip" \
      --out "$work/skip.mdai" --quiet
    check "on_bad_image skip: search" "$mda" search --index "$work/skip.mdai" --features "$work/fx/skip" \
      --out "$work/skip_s" --quiet
    check "on_bad_image skip: the skipped image is never retrieved" \
      awk -v s="$work/skip/s2.jpg" '$4 == s && $3 != 0 {bad = 1} END {exit bad}' "$work/skip_s/pairs.txt"
    check "on_bad_image skip: the other queries are scored" \
      awk -v s="$work/skip/s2.jpg" '$1 != s && !($1 in seen) {seen[$1] = 1; if ($3 <= 0) bad = 1} END {exit bad || length(seen) != 3}' "$work/skip_s/pairs.txt"
    # A folder remembers what it was extracted from: other images, settings or models are refused.
    expect_error "extract other images into a used folder" 1 "was extracted from other images" \
      "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --split queries --out "$work/fx/db" "${ex[@]}"
    expect_error "extract with other settings into a used folder" 1 "was extracted from other extraction" \
      "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --out "$work/fx/db" "${ex[@]}" --set evaluation.features_num=41
    expect_error "int8 needs a MobileNetV1" 1 "evaluation.precision int8 is not available for its resnet18 backbone" \
      "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --out "$work/fx/int8" "${ex[@]}" --set evaluation.precision=int8
    expect_error "unknown precision" 1 "evaluation.precision must be float, bf16 or int8, found 'fp16'" \
      "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
      --out "$work/fx/fp16" "${ex[@]}" --set evaluation.precision=fp16
    check "the same model under another path is the same model" bash -c "cp '$work/tiny.mdam' '$work/tiny_copy.mdam' &&
      '$mda' extract --model '$work/tiny_copy.mdam' --data-root '$work/demo/data' --dataset synthetic \
      --out '$work/fx/db' --set evaluation.image_size=96 --set 'evaluation.scales=[1.0, 0.5]' \
      --set evaluation.features_num=40 --part-size 16 --quiet"
    for k in 0 1 2; do
      check "extract shard $k/3" "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic \
        --out "$work/fx/sharded" --shard $k/3 "${ex[@]}"
    done
    check "shards = one run" cmp "$work/fx/sharded/vecs.npy" "$work/fx/db/vecs.npy"
    check "extract reports the features per head" bash -c "'$mda' extract --model '$work/tiny.mdam' --data-root '$work/demo/data' \
      --dataset synthetic --out '$work/fx/quota' --set evaluation.image_size=96 --set 'evaluation.scales=[1.0, 0.5]' \
      --set evaluation.features_num=40 --set evaluation.selection=quota 2>&1 | grep -q 'features per head: '"
    if [ -n "$python" ]; then
      check "quota selection gives each of the 2 heads 20 features per image" "$python" -c "
import numpy as np, sys
heads = np.load(sys.argv[1]); ids = np.load(sys.argv[2])
for image in np.unique(ids):
    counts = np.bincount(heads[ids == image], minlength=2)
    assert counts.min() >= 20, counts" "$work/fx/quota/heads.npy" "$work/fx/quota/imids.npy"
    fi
    expect_error "unknown selection mode" 1 "evaluation.selection must be joint, head_max or quota" \
      "$mda" extract --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic --out "$work/fx/bad" \
      --set evaluation.selection=per_head --quiet
    check "pipeline: codebook" "$mda" train-codebook --features "$work/fx/db" --out "$work/fx/c.npy" --set train_codebook.codebook.size=32 --quiet
    check "pipeline: index" "$mda" build-index --codebook "$work/fx/c.npy" --features "$work/fx/db" --out "$work/fx/db.ivf" --quiet
    check "pipeline: search" "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" --features "$work/fx/q" --out "$work/fx/out" --quiet
    check "pipeline: evaluate" "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic --ranks "$work/fx/out/ranks.npy" --quiet
    fromimg=(--set evaluation.image_size=96 --set "evaluation.scales=[1.0, 0.5]" --set evaluation.features_num=40 --quiet)
    check "search from query images" "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" \
      --model "$work/tiny.mdam" --data-root "$work/demo/data" --dataset synthetic --out "$work/fx/out_img" "${fromimg[@]}"
    check "search from images ranks as extract + search" cmp "$work/fx/out_img/ranks.npy" "$work/fx/out/ranks.npy"
    check "search from an image list" bash -c "sed -n 1,3p '$work/fx/db/images.txt' | sed 's|^|$work/demo/data/synthetic/jpg/|; s|\$|.jpg|' > '$work/three.txt' &&
      '$mda' search --index '$work/fx/db.ivf' --codebook '$work/fx/c.npy' --model '$work/tiny.mdam' --images '$work/three.txt' \
        --out '$work/fx/out_list' --set evaluation.image_size=96 --quiet && test \$(wc -l < '$work/fx/out_list/pairs.txt') -gt 0"
    expect_error "search with a negative alpha" 1 "query_ivf.similarity.alpha must be positive, found -1" \
      "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" --features "$work/fx/q" --out "$work/x" \
      --set query_ivf.similarity.alpha=-1
    expect_error "search with a threshold above 1" 1 "similarity_threshold must be in [-1, 1], found 1.5" \
      "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" --features "$work/fx/q" --out "$work/x" \
      --set query_ivf.similarity.similarity_threshold=1.5
    expect_error "search with features and a model" 2 "give either --features PATH or --model FILE" \
      "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" --features "$work/fx/q" --model "$work/tiny.mdam" --out "$work/x"
    expect_error "search from images without images" 2 "give --images FILE" \
      "$mda" search --index "$work/fx/db.ivf" --codebook "$work/fx/c.npy" --model "$work/tiny.mdam" --out "$work/x"
    check "codebook with libtorch on the CPU" "$mda" train-codebook --features "$work/fx/db" --out "$work/fx/ct.npy" \
      --set train_codebook.codebook.size=32 --device torch-cpu --quiet
    if ! command -v nvidia-smi > /dev/null; then
      expect_error "codebook on a missing GPU" 1 "no CUDA device" "$mda" train-codebook --features "$work/fx/db" \
        --out "$work/x.npy" --set train_codebook.codebook.size=32 --device cuda
    fi
    expect_error "codebook on an unknown device" 1 "no nearest-centroid backend for device 'tpu'" "$mda" train-codebook \
      --features "$work/fx/db" --out "$work/x.npy" --set train_codebook.codebook.size=32 --device tpu
    # mda run: the same pipeline in one command, cached, on the demo dataset.
    runcfg=(--set run.data_root="$work/demo/data" --set run.dataset=synthetic --set run.model="$work/tiny.mdam"
            --set run.codebook_dataset=synthetic --set run.out="$work/run" --set train_codebook.codebook.size=32
            --set evaluation.image_size=96 --set "evaluation.scales=[1.0, 0.5]" --set evaluation.features_num=40)
    check "mda run" "$mda" run "${runcfg[@]}" --quiet
    check "run metrics" grep -q '"medium"' "$work/run/metrics.json"
    check "run caches every stage" bash -c "'$mda' run $(printf "'%s' " "${runcfg[@]}") 2>&1 | grep -c cached | grep -q 6"
    expect_error "run with another configuration" 1 "holds results of another configuration" \
      "$mda" run "${runcfg[@]}" --set evaluation.features_num=30
    expect_error "run without a dataset" 2 "set run.data_root, run.dataset and run.model" "$mda" run
    check "shipped configurations parse" bash -c "for c in '$here'/../configs/*.yml; do '$mda' config --config \$c > /dev/null || exit 1; done"
    expect_error "extract without input" 2 "give --images FILE" "$mda" extract --model "$work/tiny.mdam" --out "$work/fx/x"
    expect_error "bad shard" 2 "--shard expects k/N" "$mda" extract --model "$work/tiny.mdam" --images "$work/nothing" --out "$work/x" --shard 3/3
    printf 'not a zip' > "$work/broken.pth"
    expect_error "corrupt .pth" 1 "broken.pth: not a zip archive" \
      "$mda" import-weights --weights "$work/broken.pth" --out "$work/x.mdam"
  else
    echo "SKIPPED: torchvision import checks (no python3-torchvision)"
  fi
  # --- training on the built-in procedural data: runs, resumes after a kill -9, and says why not
  check "synthetic training data" "$mda" synthetic --root "$work/syn" --name tr --objects 8 --seed 1 --width 96 --height 72 --quiet
  check "synthetic validation data" "$mda" synthetic --root "$work/syn" --name va --objects 6 --seed 2 --width 96 --height 72 --quiet
  check "synthetic manifest" grep -q "object0" "$work/syn/tr/train.tsv"
  tr=(--set training.manifest="$work/syn/tr/train.tsv" --set model.backbone=resnet18 --set model.skip_layer=2
      --set model.heads=2 --set model.dim=16 --set training.qsize=10 --set training.poolsize=40
      --set training.image_size=96 --set training.epochs=3 --set training.reduction.images=20
      --set training.validation.data_root="$work/syn" --set training.validation.dataset=va
      --set training.validation.image_size=96 --set training.validation.codebook_size=16 --set training.validation.every=1)
  check "train (uninterrupted)" "$mda" train "${tr[@]}" --set training.out="$work/tr_straight" --quiet
  check "train wrote its files" test -s "$work/tr_straight/best.mdam" -a -s "$work/tr_straight/last.mdam" \
    -a -s "$work/tr_straight/checkpoint.pt" -a -s "$work/tr_straight/train.config.yaml"
  check "history has three epochs" grep -q '"epoch": 3' "$work/tr_straight/history.json"
  # Killed at an arbitrary moment once the first checkpoint exists, then resumed.
  "$mda" train "${tr[@]}" --set training.out="$work/tr_killed" --quiet > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 600); do [ -f "$work/tr_killed/checkpoint.pt" ] && break; sleep 0.1; done
  sleep 1
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  check "no temporary files left by the kill are trusted" test -s "$work/tr_killed/checkpoint.pt"
  check "train --resume after kill -9" "$mda" train "${tr[@]}" --set training.out="$work/tr_killed" --resume --quiet
  check "resumed weights = uninterrupted weights" cmp "$work/tr_straight/last.mdam" "$work/tr_killed/last.mdam"
  check "stop after one epoch" "$mda" train "${tr[@]}" --set training.out="$work/tr_stop" --stop-after 1 --quiet
  check "stopped run has one epoch" bash -c "grep -q '\"epoch\": 1' '$work/tr_stop/history.json' && ! grep -q '\"epoch\": 2' '$work/tr_stop/history.json'"
  expect_error "fresh start over a run" 1 "continue it with --resume" \
    "$mda" train "${tr[@]}" --set training.out="$work/tr_stop"
  expect_error "resume with another configuration" 1 "only training.epochs may change" \
    "$mda" train "${tr[@]}" --set training.out="$work/tr_stop" --set training.margin=0.5 --resume
  # Training never reads evaluation.*: a setting there (or a key a newer mda adds there) does not
  # strand a run.
  check "resume with another evaluation section" "$mda" train "${tr[@]}" --set training.out="$work/tr_stop" \
    --set evaluation.features_num=77 --resume --quiet
  expect_error "resume without a checkpoint" 1 "no checkpoint" \
    "$mda" train "${tr[@]}" --set training.out="$work/tr_none" --resume
  check "trained model extracts" "$mda" extract --model "$work/tr_straight/best.mdam" --data-root "$work/syn" --dataset va \
    --out "$work/tr_features" --set evaluation.image_size=96 --set "evaluation.scales=[1.0]" --quiet
  expect_error "train without a manifest" 2 "set training.manifest" "$mda" train
  expect_error "missing manifest" 1 "nothing.tsv" "$mda" train --set training.manifest="$work/nothing.tsv"
  expect_error "bad --stop-after" 2 "--stop-after expects an integer, found 'x'" "$mda" train "${tr[@]}" --stop-after x
  expect_error "bad training value" 1 "training.optimizer.lr_decay must be in (0, 1], found 2" \
    "$mda" train "${tr[@]}" --set training.optimizer.lr_decay=2
  expect_error "missing pretrained file" 1 "model.pretrained: no such file" \
    "$mda" train "${tr[@]}" --set training.out="$work/tr_x" --set model.pretrained="$work/nothing.pth"
  expect_error "missing weights" 1 "nothing.pth" "$mda" import-weights --weights "$work/nothing.pth" --out "$work/x.mdam"
  expect_error "bad architecture" 1 "model.attention 'dot'" \
    "$mda" import-weights --weights "$work/nothing.pth" --set model.attention=dot --out "$work/x.mdam"
else
  echo "SKIPPED: import-weights checks (built without libtorch)"
  expect_error "search from images without libtorch" 2 "built without libtorch" \
    "$mda" search --index x.ivf --codebook x.npy --model x.mdam --images x.txt --out "$work/x"
fi

# --- the program without libtorch hands the network commands to mda-net beside it (the demo and
# the extractions above went through it); alone, it says what is missing
if "$mda" --version | grep -q "handed to mda-net"; then
  check "mda does not load libtorch" bash -c "! ldd '$mda' | grep -q libtorch"
  mkdir -p "$work/alone" && cp "$mda" "$work/alone/mda"
  check "mda alone still indexes" "$work/alone/mda" build-index --help
  expect_error "network command without mda-net" 2 "mda-net is not beside this one" \
    "$work/alone/mda" extract --model x.mdam --data-root "$work" --dataset x --out "$work/x"
  expect_error "search --model without mda-net" 2 "mda-net is not beside this one" \
    "$work/alone/mda" search --index x.ivf --model x.mdam --images x.txt --out "$work/x"
  expect_error "k-means on libtorch without mda-net" 2 "mda-net is not beside this one" \
    "$work/alone/mda" train-codebook --features x --out x.npy --device torch-cpu
fi

# --- command-line errors
expect_error "missing ranks file" 1 "nothing.npy" \
  "$mda" evaluate --data-root "$work/demo/data" --dataset synthetic --ranks "$work/nothing.npy"
expect_error "missing dataset" 1 "gnd_nowhere.pkl" \
  "$mda" evaluate --data-root "$work" --dataset nowhere --ranks "$work/nothing.npy"
expect_error "missing required option" 2 "missing required option --ranks" \
  "$mda" evaluate --data-root "$work" --dataset x
expect_error "unknown option" 2 "unknown option '--rank'" "$mda" evaluate --rank x
expect_error "unknown command" 2 "unknown command 'evaluat'" "$mda" evaluat
expect_error "typo in --set" 1 "unknown configuration key 'model.haeds'" "$mda" config --set model.haeds=3
printf 'evaluation:\n  features_num: many\n' > "$work/bad.yml"
expect_error "wrong type in config file" 1 "bad.yml: configuration key 'evaluation.features_num' expects a int" \
  "$mda" config --config "$work/bad.yml"
check "config override shows" bash -c "'$mda' config --set model.heads=3 | grep -q 'heads: 3'"
check "help lists defaults" bash -c "'$mda' evaluate --help | grep -q 'evaluation.kappas.*default: \[1, 5, 10\]'"
check "log file written" bash -c "'$mda' config --log '$work/log.txt' >/dev/null && true"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
