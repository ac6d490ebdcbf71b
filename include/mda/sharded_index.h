// An index split into shard files (one per MPI rank of `mpirun -np K mda build-index`) and named by
// a small manifest. Each shard is an ordinary index file of a contiguous block of the images; the
// manifest gives each block's first position, so positions, names and scores are those of one
// index holding every image in order, and a search over the shards ranks exactly as that index.
//
// Manifest (JSON, docs/formats.md):
//   {"format": "mda-index-manifest", "version": 1, "images": N, "codebook": "<fingerprint hex>",
//    "shards": [{"file": "index.mdai.shard-0-of-2", "first": 0, "images": n0}, ...]}
// Shard files are named relative to the manifest's folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/index.h"

namespace mda {

struct IndexShard {
  std::string file;  // as written in the manifest (relative to its folder)
  int64_t first = 0, images = 0;
};

struct IndexManifest {
  int64_t images = 0;
  uint64_t codebook_fingerprint = 0;
  std::vector<IndexShard> shards;  // contiguous, in order: shard s starts where s - 1 ends
};

// True when `path` is a manifest (it starts as JSON), false for an index file; throws when it
// cannot be read.
bool is_index_manifest(const std::string& path);
// Reads and checks a manifest (format, version, contiguous shards adding up to `images`).
IndexManifest read_index_manifest(const std::string& path);
// Writes it atomically, after checking it as read_index_manifest does.
void write_index_manifest(const std::string& path, const IndexManifest& manifest);
// The file name of shard `shard` of `shards` beside the manifest `manifest_path`, as written in it.
std::string index_shard_file(const std::string& manifest_path, int shard, int shards);

// The manifest of `images` images split into `shards` balanced contiguous shards (what
// `mpirun -np shards mda build-index` writes), their files named by index_shard_file.
IndexManifest plan_index_shards(const std::string& manifest_path, int64_t images,
                                uint64_t codebook_fingerprint, int shards);

// Indexes the images of shard `shard` of `manifest` (its block of `all`, whose names are `names`,
// one per image of `all`) and saves them beside `manifest_path` as an ordinary index file.
void build_index_shard(const std::string& manifest_path, const IndexManifest& manifest, int shard,
                       const Codebook& codebook, const IndexOptions& options,
                       const DescriptorBatch& all, const std::vector<std::string>& names,
                       int threads = 1, ProgressCallback progress = nullptr);

class ShardedIndex {
 public:
  // Opens the shards that part `part` of `parts` holds (shard s belongs to part s % parts); the
  // defaults open every shard. Each shard must match its manifest entry (images, codebook).
  static ShardedIndex open(const std::string& manifest_path, int part = 0, int parts = 1);

  // As Index::search, over the shards held: the best images per query, best first (ties to the
  // lower position), positions in the whole index. The queries are quantized once. use_idf is
  // refused over several shards (each knows only its own word counts).
  std::vector<std::vector<SearchHit>> search(const DescriptorBatch& queries,
                                             const SearchOptions& options = {},
                                             SearchTimings* timings = nullptr,
                                             ProgressCallback progress = nullptr) const;

  // Merges the results of the same queries from several parts (each best first): best first, ties
  // to the lower position, at most `topk` per query (0 = all).
  static std::vector<std::vector<SearchHit>> merge(
      const std::vector<std::vector<std::vector<SearchHit>>>& parts, int64_t topk);

  // The results of a search as bytes and back, for sending them between processes (MPI ranks).
  static std::string serialize(const std::vector<std::vector<SearchHit>>& hits);
  static std::vector<std::vector<SearchHit>> deserialize(const std::string& bytes);

  const IndexManifest& manifest() const { return manifest_; }
  int64_t size() const { return manifest_.images; }  // images of every shard, held or not
  int64_t held_shards() const { return static_cast<int64_t>(shards_.size()); }
  // The codebook of the shards held (every shard has the manifest's); throws when none is held.
  const Codebook& codebook() const;

 private:
  IndexManifest manifest_;
  std::vector<int64_t> firsts_;  // per shard held, its first position
  std::vector<Index> shards_;
};

// One index file holding every shard's images in order (what a single `mda build-index` writes).
void merge_index_shards(const std::string& manifest_path, const std::string& out);

}  // namespace mda
