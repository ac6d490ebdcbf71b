#!/usr/bin/env bash
# The MPI jobs end to end (docs/scaling.md): `mpirun -np K mda extract|train-codebook|build-index|
# search` at K = 2 and 3 on the demo's built-in images give the same bytes as one process; a rank
# that meets a corrupt image fails the job naming it, and the rerun keeps the parts already written.
#   mpi_end_to_end.sh MDA_BINARY SOURCE_DIR
# Exits 77 (skipped) when mda was built without MPI, mpirun is missing or mda has no libtorch.
set -uo pipefail
mda="$1"
source_dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$mda" --version | grep -q "^MPI jobs: yes" || { echo "SKIPPED: mda was built without MPI"; exit 77; }
command -v mpirun > /dev/null || { echo "SKIPPED: no mpirun (apt-get install openmpi-bin)"; exit 77; }
"$mda" --help | grep -q "^  demo " || { echo "SKIPPED: built without libtorch (no model)"; exit 77; }
source "$source_dir/tests/end_to_end_checks.sh"

# Open MPI on one machine: more ranks than cores, as root in containers, no shared-memory
# single-copy (containers forbid the ptrace it needs), no core binding.
mpi=(mpirun --oversubscribe --bind-to none -x OMPI_MCA_btl_vader_single_copy_mechanism=none)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none

"$mda" demo --out "$work/demo" --objects 6 --epochs 1 --quiet > /dev/null || { echo "FAIL: demo"; exit 1; }
model="$work/demo/train/best.mdam"
data=(--data-root "$work/demo/data" --dataset synthetic)
small=(--set evaluation.image_size=192 --set "evaluation.scales=[1.0,0.707]" --set evaluation.features_num=150 --part-size 4)
words=(--set train_codebook.codebook.size=16)

# --- one process: the reference outputs
check "extract, one process" "$mda" extract --model "$model" "${data[@]}" --split db --out "$work/db1" "${small[@]}" --quiet
check "query features" "$mda" extract --model "$model" "${data[@]}" --split queries --out "$work/q" "${small[@]}" --quiet
check "codebook, one process" "$mda" train-codebook --features "$work/db1" --out "$work/c1.npy" "${words[@]}" --quiet
check "index, one process" "$mda" build-index --codebook "$work/c1.npy" --features "$work/db1" --out "$work/i1.mdai" --quiet
check "search, one process" "$mda" search --index "$work/i1.mdai" --features "$work/q" --out "$work/s1" --quiet
check "search top 5, one process" "$mda" search --index "$work/i1.mdai" --features "$work/q" --out "$work/s1top" --topk 5 --quiet

same_search() {  # same_search NAME DIR: the same rankings, scores and pairs as one process
  local name="$1" dir="$2" reference="${3:-$work/s1}"
  check "$name: ranks" cmp "$reference/ranks.npy" "$dir/ranks.npy"
  check "$name: scores" cmp "$reference/scores.npy" "$dir/scores.npy"
  check "$name: pairs" cmp "$reference/pairs.txt" "$dir/pairs.txt"
}

for k in 2 3; do
  check "extract on $k ranks" "${mpi[@]}" -np $k "$mda" extract --model "$model" "${data[@]}" --split db \
    --out "$work/db$k" "${small[@]}" --quiet
  check "extract on $k ranks: the same folder, byte for byte" diff -r "$work/db1" "$work/db$k"
  check "codebook on $k ranks" "${mpi[@]}" -np $k "$mda" train-codebook --features "$work/db1" \
    --out "$work/c$k.npy" "${words[@]}" --quiet
  check "codebook on $k ranks: the same centroids, bit for bit" cmp "$work/c1.npy" "$work/c$k.npy"
  check "index on $k ranks" "${mpi[@]}" -np $k "$mda" build-index --codebook "$work/c1.npy" \
    --features "$work/db1" --out "$work/i$k.mdai" --quiet
  check "index on $k ranks: a manifest" grep -q '"format": "mda-index-manifest"' "$work/i$k.mdai"
  check "index on $k ranks: $k shards" test "$(ls "$work"/i$k.mdai.shard-*-of-$k | wc -l)" -eq $k
  check "merged index on $k ranks" "${mpi[@]}" -np $k "$mda" build-index --codebook "$work/c1.npy" \
    --features "$work/db1" --out "$work/m$k.mdai" --merge --quiet
  check "merged index on $k ranks: the file one process writes" cmp "$work/i1.mdai" "$work/m$k.mdai"
  check "merged index on $k ranks: no shards left" test -z "$(ls "$work" | grep "^m$k.mdai.\(shard\|manifest\)")"
  check "search on $k ranks" "${mpi[@]}" -np $k "$mda" search --index "$work/i$k.mdai" \
    --features "$work/q" --out "$work/s$k" --quiet
  same_search "search on $k ranks" "$work/s$k"
  check "search top 5 on $k ranks" "${mpi[@]}" -np $k "$mda" search --index "$work/i$k.mdai" \
    --features "$work/q" --out "$work/s${k}top" --topk 5 --quiet
  same_search "search top 5 on $k ranks" "$work/s${k}top" "$work/s1top"
  check "sharded index searched by one process" "$mda" search --index "$work/i$k.mdai" \
    --features "$work/q" --out "$work/s${k}alone" --quiet
  same_search "sharded index searched by one process" "$work/s${k}alone"
done
check "3 shards on 2 ranks" "${mpi[@]}" -np 2 "$mda" search --index "$work/i3.mdai" \
  --features "$work/q" --out "$work/s32" --quiet
same_search "3 shards on 2 ranks" "$work/s32"

# --- failures: a corrupt image in rank 1's half fails the job, naming the image
mkdir "$work/images"
cp "$work"/demo/data/synthetic/jpg/*.jpg "$work/images/"
ls "$work"/images/*.jpg | head -24 > "$work/list.txt"
bad=$(sed -n 20p "$work/list.txt")
cp "$bad" "$work/good.jpg"
head -c 300 "$work/good.jpg" > "$bad"
expect_error "a corrupt image fails the job and is named" 1 "rank 1 of 2: $bad" \
  "${mpi[@]}" -np 2 "$mda" extract --model "$model" --images "$work/list.txt" --out "$work/e2" "${small[@]}" --quiet
check "the failed job kept rank 0's parts" test "$(ls "$work"/e2/parts/part-* | wc -l)" -ge 3
cp "$work/good.jpg" "$bad"
"${mpi[@]}" -np 2 "$mda" extract --model "$model" --images "$work/list.txt" --out "$work/e2" "${small[@]}" > "$work/rerun.txt" 2>&1
check "the rerun succeeds" test $? -eq 0
check "the rerun skips the parts already written" test "$(grep -c "already extracted" "$work/rerun.txt")" -ge 3
check "extract the list in one process" "$mda" extract --model "$model" --images "$work/list.txt" --out "$work/e1" "${small[@]}" --quiet
check "the resumed job's folder equals one process's" diff -r "$work/e1" "$work/e2"

mv "$work/i3.mdai.shard-2-of-3" "$work/hidden"
expect_error "a missing shard fails the search, named" 1 "rank 2 of 3: cannot open '$work/i3.mdai.shard-2-of-3'" \
  "${mpi[@]}" -np 3 "$mda" search --index "$work/i3.mdai" --features "$work/q" --out "$work/sx" --quiet
mv "$work/hidden" "$work/i3.mdai.shard-2-of-3"
expect_error "--append is refused under mpirun" 2 "--append" \
  "${mpi[@]}" -np 2 "$mda" build-index --codebook "$work/c1.npy" --features "$work/db1" --out "$work/i1.mdai" --append --quiet
expect_error "--shard and mpirun together are refused" 2 "--shard and mpirun" \
  "${mpi[@]}" -np 2 "$mda" extract --model "$model" "${data[@]}" --split db --out "$work/dbx" --shard 0/2 "${small[@]}" --quiet
expect_error "commands that do not split are refused under mpirun" 2 "mda evaluate runs in one process" \
  "${mpi[@]}" -np 2 "$mda" evaluate "${data[@]}" --ranks "$work/s1/ranks.npy" --quiet
expect_error "--merge without mpirun is refused" 2 "--merge" \
  "$mda" build-index --codebook "$work/c1.npy" --features "$work/db1" --out "$work/x.mdai" --merge --quiet

echo "mpi_end_to_end: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
