// The ASMK inverted file (method.md 4.4, design.md): per visual word a structure of arrays, image
// ids plus codes (16 bytes for binarized 128-d residuals, or unit float vectors), sorted by image
// id; scoring accumulates thresholded, powered similarities per image (Eq. 11).
//
// File layout (little endian), loaded by memory map:
//   header (128 bytes): magic "MDAIVF01", version, flags, words, dim, entry bytes, images,
//   entries, codebook fingerprint, section offsets, header checksum
//   sections, 64-byte aligned: word offsets (words + 1 x uint64), ids (entries x uint32),
//   codes (entries x entry bytes), per-image word counts (images x uint32)
//   trailing FNV-1a checksum of all sections
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mda/asmk/aggregate.h"

namespace mda {

struct AsmkSearchParams {
  double alpha = 3.0;                 // selectivity power
  double similarity_threshold = 0.0;  // tau
  bool use_idf = false;
};

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
};

// FNV-1a 64 of the centroid bytes: ties an index to the codebook that built it.
uint64_t codebook_fingerprint(const std::vector<float>& centroids);

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

  // Adds image `image_id`, which must be larger than every id added so far.
  void add(int64_t image_id, const AggregatedImage& image);
  // Adds the other index's images; their ids must not overlap this one's.
  void merge(const InvertedFile& other, const std::string& other_name);
  // Makes the added images searchable (sorts postings); called by save() and scores() as needed.
  void finalize();

  int64_t words() const { return words_; }
  int64_t dim() const { return dim_; }
  bool binary() const { return binary_; }
  uint64_t fingerprint() const { return fingerprint_; }
  int64_t images() const { return static_cast<int64_t>(image_words_.size()); }
  int64_t entries() const;
  int64_t postings(int32_t word) const;  // entries stored for one word
  int64_t entry_bytes() const { return binary_ ? (dim_ + 7) / 8 : dim_ * 4; }

  SearchContext context(const AsmkSearchParams& params) const;
  // Scores of every image 0..images()-1 for the query (0 for images sharing no word). Thread-safe.
  std::vector<float> scores(const AggregatedImage& query, const AsmkSearchParams& params,
                            const SearchContext& context) const;
  IvfStats stats() const;

 private:
  struct Pending {
    int32_t word;
    uint32_t id;
    size_t code;  // offset into pending_codes_
  };
  void check_compatible(const AggregatedImage& image, const char* what) const;
  void point_views_at_owned();

  int64_t words_, dim_;
  bool binary_;
  uint64_t fingerprint_;
  // Finalized postings (owned, or pointing into a memory-mapped file).
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> ids_;
  std::vector<uint8_t> codes_;
  std::vector<uint32_t> image_words_;  // aggregated words per image id
  std::shared_ptr<void> mapping_;
  const uint64_t* offsets_view_ = nullptr;
  const uint32_t* ids_view_ = nullptr;
  const uint8_t* codes_view_ = nullptr;
  // Images added since the last finalize().
  std::vector<Pending> pending_;
  std::vector<uint8_t> pending_codes_;
  int64_t file_bytes_ = 0;
};

}  // namespace mda
