// The ASMK inverted file (method.md 4.4, design.md): per visual word a structure of arrays, image
// ids plus codes (16 bytes for binarized 128-d residuals, or unit float vectors), sorted by image
// id; scoring accumulates thresholded, powered similarities per image (Eq. 11). It also keeps what
// makes an index file self-contained: the codebook's centroids and the images' names.
//
// The code is split as faiss splits InvertedLists from their scanners: inverted_file.cpp holds the
// postings in memory (add, merge, remove), inverted_file_format.cpp the file format and its memory
// map, inverted_file_scan.cpp the scoring kernel.
//
// The postings are held in two parts: the compact postings (one array of every word's entries, as
// the file stores them, owned or memory-mapped) and a tail of the images added since (one growing
// list per word). Adding images costs their own entries; the tail is folded into the compact
// postings once it holds a quarter as many entries as they do, so that a live index of a million
// images does not copy all of its postings (gigabytes) for every image added, and each entry is
// copied a bounded number of times over the index's life. Searches scan both parts.
//
// File layout (little endian, format 2), loaded by memory map:
//   header (128 bytes): magic "MDAIVF02", version, flags (bit 0 binary, bits 8-15 the database
//   multiple assignment), words, dim, entry bytes, images, entries, codebook fingerprint, section
//   offsets, header checksum
//   sections, 64-byte aligned: word offsets (words + 1 x uint64), ids (entries x uint32),
//   codes (entries x entry bytes), per-image word counts (images x uint32), centroids
//   (words x dim float32, or none), names (images + 1 x uint64 offsets, then the UTF-8 bytes)
//   trailing FNV-1a checksum of all sections
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mda/asmk/aggregate.h"
#include "mda/options.h"

namespace mda {

// Per-word idf and per-image normalisation of one index under one set of parameters; computed
// once, shared by every query.
struct SearchContext {
  std::vector<float> idf;          // per word (all 1 without idf)
  std::vector<float> image_scale;  // per image: 1 / sqrt(norm), 0 for an image without words
};

struct IvfStats {
  int64_t images = 0, images_with_words = 0, entries = 0, words = 0, empty_words = 0;
  double vectors_per_image = 0;  // mean aggregated words per image
  double imbalance = 0;          // words * sum(n_w^2) / (sum n_w)^2; 1 = perfectly balanced
  int64_t file_bytes = 0;
  int64_t tail_entries = 0;  // of images added since the last compaction (in per-word lists)
};

class InvertedFile {
 public:
  InvertedFile(int64_t words, int64_t dim, bool binary, uint64_t fingerprint);
  static InvertedFile load(const std::string& path);  // memory-mapped, checksums verified
  // An index from finalized postings (word offsets, id-sorted ids per word, codes, words per
  // image), validated; for tools and benchmarks that produce postings directly.
  static InvertedFile from_postings(int64_t words, int64_t dim, bool binary, uint64_t fingerprint,
                                    std::vector<uint64_t> offsets, std::vector<uint32_t> ids,
                                    std::vector<uint8_t> codes, std::vector<uint32_t> image_words);
  void save(const std::string& path) const;  // atomic

  // Adds image `image_id`, which must be larger than every id added so far, with its name.
  void add(int64_t image_id, const AggregatedImage& image, const std::string& name = "");
  // Drops the given images (sorted, distinct ids); the ids after each one move down by one.
  void remove(const std::vector<int64_t>& sorted_ids);
  // Adds the other index's images; their ids must not overlap this one's.
  void merge(const InvertedFile& other, const std::string& other_name);
  // Adds the other index's images after this one's (other's id i becomes images() + i): the
  // concatenation of shards. Both must hold the same encoding (codebook, binary, assignment).
  void append(const InvertedFile& other, const std::string& other_name);
  // Makes the added images searchable (into the tail, folded into the compact postings when the
  // tail has grown large enough).
  void finalize();

  int64_t words() const { return words_; }
  int64_t dim() const { return dim_; }
  bool binary() const { return binary_; }
  uint64_t fingerprint() const { return fingerprint_; }
  int64_t images() const { return static_cast<int64_t>(image_words_.size()); }
  // Aggregated words per image id (0 for an id without an image).
  const std::vector<uint32_t>& image_words() const { return image_words_; }
  int64_t entries() const;
  int64_t postings(int32_t word) const;  // entries stored for one word
  int64_t entry_bytes() const { return binary_ ? (dim_ + 7) / 8 : dim_ * 4; }

  // The codebook's centroids (words x dim), empty when the index was made without them; setting
  // them checks their size and fingerprint.
  const std::vector<float>& centroids() const { return centroids_; }
  void set_centroids(std::vector<float> centroids);
  // The database multiple assignment the images were encoded with (0 = not recorded).
  int multiple_assignment() const { return multiple_assignment_; }
  void set_multiple_assignment(int ma);
  // Per image id its name ("" for an image added without one, or an id no image has).
  const std::vector<std::string>& names() const { return names_; }

  SearchContext context(const SearchOptions& params) const;
  // Scores of every image 0..images()-1 for the query (0 for images sharing no word). Thread-safe.
  // With threads > 1 a long scan is split by image-id ranges, so that every image's score is the
  // same sum in the same order as on one thread: bit-identical whatever the thread count.
  std::vector<float> scores(const AggregatedImage& query, const SearchOptions& params,
                            const SearchContext& context, int threads = 1) const;
  // The scores of several queries (words ascending, as aggregate() gives them) in one pass over
  // the postings: each word's postings are read from memory once for all the queries holding it.
  // Each query's scores are bit-identical to scores() of it alone.
  std::vector<std::vector<float>> scores(const std::vector<const AggregatedImage*>& queries,
                                         const SearchOptions& params, const SearchContext& context,
                                         int threads = 1) const;
  IvfStats stats() const;

 private:
  struct Pending {
    int32_t word;
    uint32_t id;
    size_t code;  // offset into pending_codes_
  };
  void check_compatible(const AggregatedImage& image, const char* what) const;
  // This index's postings and the other's (its ids plus `shift`), merged word by word in id order
  // into owned arrays; the callers set the images' counts and names and point the views.
  void merge_postings(const InvertedFile& other, int64_t shift);
  void point_views_at_owned();
  // Folds the tail into the compact postings (owned from then on).
  void compact();
  // One word's entries in one part: ids[begin, end) and their codes (codes + e * entry_bytes()).
  struct Span {
    const uint32_t* ids;
    const uint8_t* codes;
    uint64_t begin, end;
    uint64_t size() const { return end - begin; }
  };
  Span compact_span(int64_t word) const {
    return {ids_view_, codes_view_, offsets_view_[word], offsets_view_[word + 1]};
  }
  Span tail_span(int64_t word) const {
    if (tail_ids_.empty()) return {nullptr, nullptr, 0, 0};
    const size_t w = static_cast<size_t>(word);
    return {tail_ids_[w].data(), tail_codes_[w].data(), 0, tail_ids_[w].size()};
  }
  uint64_t word_entries(int64_t word) const {
    return compact_span(word).size() + tail_span(word).size();
  }

  int64_t words_, dim_;
  bool binary_;
  uint64_t fingerprint_;
  // Finalized postings (owned, or pointing into a memory-mapped file).
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> ids_;
  std::vector<uint8_t> codes_;
  std::vector<uint32_t> image_words_;  // aggregated words per image id
  std::vector<std::string> names_;     // per image id
  std::vector<float> centroids_;
  int multiple_assignment_ = 0;
  std::shared_ptr<const void> mapping_;  // the MappedFile the views point into
  const uint64_t* offsets_view_ = nullptr;
  const uint32_t* ids_view_ = nullptr;
  const uint8_t* codes_view_ = nullptr;
  // The tail: per word, the entries of images added since the last compaction, in id order (all
  // after the compact postings' ids); empty (no lists at all) when there are none.
  std::vector<std::vector<uint32_t>> tail_ids_;
  std::vector<std::vector<uint8_t>> tail_codes_;
  uint64_t tail_entries_ = 0;
  // Images added since the last finalize().
  std::vector<Pending> pending_;
  std::vector<uint8_t> pending_codes_;
  int64_t file_bytes_ = 0;
};

}  // namespace mda
