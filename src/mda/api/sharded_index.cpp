// mda::ShardedIndex (mda/sharded_index.h): shard files named by a manifest, searched as one index.
#include "mda/sharded_index.h"

#include "mda/api/merged_shards.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/io/json.h"
#include "mda/util/byte_order.h"
#include "mda/util/collective.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

constexpr const char* kManifestFormat = "mda-index-manifest";

std::string shard_path(const std::string& manifest_path, const IndexShard& shard) {
  return join_path(parent_dir(manifest_path), shard.file);
}

void check_manifest(const IndexManifest& m, const std::string& source) {
  if (m.shards.empty()) fail(source, ": the manifest names no shards");
  int64_t next = 0;
  for (size_t s = 0; s < m.shards.size(); ++s) {
    const IndexShard& shard = m.shards[s];
    if (shard.file.empty() || shard.file.find('/') != std::string::npos)
      fail(source, ": shard ", s, " has file '", shard.file, "'; shards are files beside it");
    if (shard.first != next || shard.images < 0) {
      fail(source, ": shard ", s, " (", shard.file, ") holds images ", shard.first, "..",
           shard.first + shard.images - 1, ", expected to start at ", next);
    }
    next += shard.images;
  }
  if (next != m.images)
    fail(source, ": the shards hold ", next, " images, the manifest says ", m.images);
}

int64_t int_field(const Value& dict, const char* key, const std::string& source) {
  const Value* v = dict.find(key);
  if (!v || !v->is_int()) fail(source, ": '", key, "' is missing or not an integer");
  return v->as_int();
}

}  // namespace

bool is_index_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the index");
  char first = 0;
  while (in.get(first) && (first == ' ' || first == '\n' || first == '\r' || first == '\t')) {
  }
  return in && first == '{';
}

IndexManifest read_index_manifest(const std::string& path) {
  const Value root = read_json(path);
  if (!root.is_dict()) fail(path, ": an index manifest is a JSON object");
  const Value* format = root.find("format");
  if (!format || !format->is_string() || format->as_string() != kManifestFormat)
    fail(path, ": not an index manifest (no \"format\": \"", kManifestFormat, "\")");
  if (int_field(root, "version", path) != 1)
    fail(path, ": manifest version ", int_field(root, "version", path), " (this mda reads 1)");
  IndexManifest m;
  m.images = int_field(root, "images", path);
  const Value* codebook = root.find("codebook");
  if (!codebook || !codebook->is_string() || codebook->as_string().empty() ||
      codebook->as_string().size() > 16 ||
      codebook->as_string().find_first_not_of("0123456789abcdef") != std::string::npos)
    fail(path, ": 'codebook' must be the codebook's fingerprint in hex");
  m.codebook_fingerprint = std::stoull(codebook->as_string(), nullptr, 16);
  const Value* shards = root.find("shards");
  if (!shards || !shards->is_list()) fail(path, ": 'shards' is missing or not a list");
  for (const Value& entry : shards->as_list()) {
    if (!entry.is_dict()) fail(path, ": every shard is a JSON object");
    const Value* file = entry.find("file");
    if (!file || !file->is_string()) fail(path, ": a shard has no 'file'");
    m.shards.push_back(
        {file->as_string(), int_field(entry, "first", path), int_field(entry, "images", path)});
  }
  check_manifest(m, path);
  return m;
}

void write_index_manifest(const std::string& path, const IndexManifest& manifest) {
  check_manifest(manifest, path);
  Value root = Value::empty_dict();
  root.set("format", Value(kManifestFormat));
  root.set("version", Value(1));
  root.set("images", Value(manifest.images));
  root.set("codebook", Value(cat(std::hex, manifest.codebook_fingerprint)));
  Value::List shards;
  for (const IndexShard& shard : manifest.shards) {
    Value entry = Value::empty_dict();
    entry.set("file", Value(shard.file));
    entry.set("first", Value(shard.first));
    entry.set("images", Value(shard.images));
    shards.push_back(std::move(entry));
  }
  root.set("shards", Value(std::move(shards)));
  write_json(path, root);
}

std::string index_shard_file(const std::string& manifest_path, int shard, int shards) {
  const size_t slash = manifest_path.find_last_of('/');
  const std::string base =
      slash == std::string::npos ? manifest_path : manifest_path.substr(slash + 1);
  return cat(base, ".shard-", shard, "-of-", shards);
}

IndexManifest plan_index_shards(const std::string& manifest_path, int64_t images,
                                uint64_t codebook_fingerprint, int shards) {
  IndexManifest manifest;
  manifest.images = images;
  manifest.codebook_fingerprint = codebook_fingerprint;
  for (int shard = 0; shard < shards; ++shard) {
    const auto [first, end] = rank_block(images, shard, shards);
    manifest.shards.push_back({index_shard_file(manifest_path, shard, shards), first, end - first});
  }
  check_manifest(manifest, manifest_path);
  return manifest;
}

void build_index_shard(const std::string& manifest_path, const IndexManifest& manifest, int shard,
                       const Codebook& codebook, const IndexOptions& options,
                       const DescriptorBatch& all, const std::vector<std::string>& names,
                       int threads, ProgressCallback progress) {
  if (shard < 0 || static_cast<size_t>(shard) >= manifest.shards.size())
    fail(manifest_path, ": no shard ", shard, " of ", manifest.shards.size());
  if (all.images != manifest.images || static_cast<int64_t>(names.size()) != all.images)
    fail(manifest_path, ": ", all.images, " images and ", names.size(), " names for a manifest of ",
         manifest.images);
  const IndexShard& mine = manifest.shards[static_cast<size_t>(shard)];
  // The shard's block of the batch, its offsets starting at 0.
  std::vector<int64_t> offsets;
  for (int64_t i = mine.first; i <= mine.first + mine.images; ++i)
    offsets.push_back(all.offsets[i] - all.offsets[mine.first]);
  DescriptorBatch block;
  block.descriptors = all.descriptors + all.offsets[mine.first] * all.dim;
  block.offsets = offsets.data();
  block.images = mine.images;
  block.dim = all.dim;
  Index index(codebook, options);
  index.add(block,
            std::vector<std::string>(names.begin() + mine.first,
                                     names.begin() + mine.first + mine.images),
            threads, std::move(progress));
  index.save(shard_path(manifest_path, mine));
}

ShardedIndex ShardedIndex::open(const std::string& manifest_path, int part, int parts) {
  if (parts < 1 || part < 0 || part >= parts)
    fail("ShardedIndex::open: part ", part, " of ", parts, " does not exist");
  ShardedIndex index;
  index.manifest_ = read_index_manifest(manifest_path);
  for (size_t s = static_cast<size_t>(part); s < index.manifest_.shards.size();
       s += static_cast<size_t>(parts)) {
    const IndexShard& shard = index.manifest_.shards[s];
    const std::string path = shard_path(manifest_path, shard);
    Index opened = Index::open(path);
    if (opened.size() != shard.images)
      fail(path, ": holds ", opened.size(), " images, its manifest ", manifest_path, " says ",
           shard.images);
    if (opened.codebook().fingerprint != index.manifest_.codebook_fingerprint)
      fail(path, ": was built with another codebook than its manifest ", manifest_path, " names");
    if (!index.shards_.empty() && opened.options().multiple_assignment !=
                                      index.shards_.front().options().multiple_assignment) {
      fail(path, ": multiple assignment ", opened.options().multiple_assignment, ", shard ",
           index.manifest_.shards[static_cast<size_t>(part)].file, " has ",
           index.shards_.front().options().multiple_assignment, "; one index holds one encoding");
    }
    index.firsts_.push_back(shard.first);
    index.shards_.push_back(std::move(opened));
  }
  return index;
}

const Codebook& ShardedIndex::codebook() const {
  if (shards_.empty()) fail("ShardedIndex: this part holds no shard");
  return shards_.front().codebook();
}

std::vector<std::vector<SearchHit>> ShardedIndex::search(const DescriptorBatch& queries,
                                                         const SearchOptions& options,
                                                         SearchTimings* timings,
                                                         ProgressCallback progress) const {
  // idf weighs a word by its postings in the whole index; a shard only knows its own.
  if (options.use_idf && manifest_.shards.size() > 1) {
    fail("ShardedIndex::search: use_idf needs the whole index's word counts, and this index is ",
         manifest_.shards.size(),
         " shards; merge them (build-index --merge) or search without idf");
  }
  const std::vector<Index::View> views = Index::batch_views(queries, "ShardedIndex::search");
  if (shards_.empty()) {  // a part of a job that holds no shard
    if (timings) *timings = {};
    return std::vector<std::vector<SearchHit>>(static_cast<size_t>(queries.images));
  }
  // Every shard has the same codebook and encoding: the first one quantizes for all.
  EncodeTimings encode_timings;
  const std::vector<AggregatedImage> encoded =
      shards_.front().encode_queries(views, options, encode_timings);
  const auto scan_start = std::chrono::steady_clock::now();
  const int64_t n_q = queries.images, held = held_shards();
  std::vector<std::vector<std::vector<SearchHit>>> parts;
  for (int64_t s = 0; s < held; ++s) {
    ProgressCallback shard_progress;
    if (progress) {
      shard_progress = [&, s](int64_t done, int64_t) { progress(s * n_q + done, held * n_q); };
    }
    std::vector<std::vector<SearchHit>> hits;
    shards_[static_cast<size_t>(s)].rank_encoded(encoded, options, shard_progress, &hits);
    for (std::vector<SearchHit>& list : hits)
      for (SearchHit& hit : list) hit.index += firsts_[static_cast<size_t>(s)];
    parts.push_back(std::move(hits));
  }
  if (timings) {
    timings->quantize = encode_timings.quantize;
    timings->aggregate = encode_timings.aggregate;
    timings->scan =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_start).count();
  }
  return merge(parts, options.topk);
}

std::vector<std::vector<SearchHit>> ShardedIndex::merge(
    const std::vector<std::vector<std::vector<SearchHit>>>& parts, int64_t topk) {
  if (topk < 0) fail("ShardedIndex::merge: topk must be 0 (all) or positive, found ", topk);
  size_t queries = 0;
  for (const auto& part : parts) queries = std::max(queries, part.size());
  for (const auto& part : parts) {
    if (part.size() != queries)
      fail("ShardedIndex::merge: parts answer ", part.size(), " and ", queries, " queries");
  }
  // The order of Index::search: higher score first, ties to the lower position.
  const auto better = [](const SearchHit& a, const SearchHit& b) {
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  };
  std::vector<std::vector<SearchHit>> merged(queries);
  for (size_t q = 0; q < queries; ++q) {
    std::vector<SearchHit>& out = merged[q];
    for (const auto& part : parts) out.insert(out.end(), part[q].begin(), part[q].end());
    std::stable_sort(out.begin(), out.end(), better);
    if (topk > 0 && static_cast<int64_t>(out.size()) > topk) out.resize(static_cast<size_t>(topk));
  }
  return merged;
}

std::string ShardedIndex::serialize(const std::vector<std::vector<SearchHit>>& hits) {
  std::vector<uint8_t> out;
  append_le(out, hits.size(), 8);
  for (const std::vector<SearchHit>& list : hits) {
    append_le(out, list.size(), 8);
    for (const SearchHit& hit : list) {
      append_le(out, static_cast<uint64_t>(hit.index), 8);
      uint32_t score_bits = 0;
      std::memcpy(&score_bits, &hit.score, sizeof(float));
      append_le(out, score_bits, 4);
      append_le(out, hit.name.size(), 8);
      out.insert(out.end(), hit.name.begin(), hit.name.end());
    }
  }
  return std::string(out.begin(), out.end());
}

std::vector<std::vector<SearchHit>> ShardedIndex::deserialize(const std::string& bytes) {
  const uint8_t* data = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t at = 0;
  const auto take = [&](size_t n) {
    if (n > bytes.size() - at)
      fail("search results: ", bytes.size(), " bytes end inside a record at byte ", at);
    at += n;
    return data + at - n;
  };
  // Every count is checked against the bytes left before anything is allocated for it.
  const auto count = [&](const char* what) {
    const uint64_t n = load_le(take(8), 8);
    if (n > bytes.size() - at)
      fail("search results: ", n, " ", what, " in ", bytes.size(), " bytes");
    return static_cast<size_t>(n);
  };
  std::vector<std::vector<SearchHit>> hits(count("queries"));
  for (std::vector<SearchHit>& list : hits) {
    list.resize(count("hits"));
    for (SearchHit& hit : list) {
      hit.index = static_cast<int64_t>(load_le(take(8), 8));
      const uint32_t score_bits = static_cast<uint32_t>(load_le(take(4), 4));
      std::memcpy(&hit.score, &score_bits, sizeof(float));
      const size_t length = count("name bytes");
      hit.name.assign(reinterpret_cast<const char*>(take(length)), length);
    }
  }
  if (at != bytes.size()) fail("search results: ", bytes.size() - at, " bytes after the last");
  return hits;
}

namespace {

InvertedFile merged_shards(const std::string& manifest_path, const IndexManifest& manifest) {
  if (manifest.shards.empty()) fail(manifest_path, ": the manifest names no shard");
  InvertedFile merged = InvertedFile::load(shard_path(manifest_path, manifest.shards[0]));
  for (size_t s = 1; s < manifest.shards.size(); ++s) {
    const std::string path = shard_path(manifest_path, manifest.shards[s]);
    merged.append(InvertedFile::load(path), path);
  }
  if (merged.images() != manifest.images)
    fail(manifest_path, ": the shards hold ", merged.images(), " images, the manifest says ",
         manifest.images);
  std::unordered_set<std::string> names;
  for (const std::string& name : merged.names()) {
    if (!name.empty() && !names.insert(name).second)
      fail(manifest_path, ": image name '", name, "' is in more than one shard");
  }
  return merged;
}

}  // namespace

InvertedFile load_merged_shards(const std::string& manifest_path) {
  return merged_shards(manifest_path, read_index_manifest(manifest_path));
}

void merge_index_shards(const std::string& manifest_path, const std::string& out) {
  const IndexManifest manifest = read_index_manifest(manifest_path);
  std::vector<std::string> inputs{manifest_path};
  for (const IndexShard& shard : manifest.shards)
    inputs.push_back(shard_path(manifest_path, shard));
  refuse_output_over_input(out, inputs);
  merged_shards(manifest_path, manifest).save(out);
}

}  // namespace mda
