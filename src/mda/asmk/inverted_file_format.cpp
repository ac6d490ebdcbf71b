// The inverted file's file format (inverted_file.h) and its memory map.

#include <algorithm>
#include <cstring>
#include <ostream>

#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/mapped_file.h"

namespace mda {
namespace {

constexpr char kMagic[8] = {'M', 'D', 'A', 'I', 'V', 'F', '0', '2'};
constexpr char kMagicVersion1[8] = {'M', 'D', 'A', 'I', 'V', 'F', '0', '1'};
constexpr uint32_t kVersion = 2;
constexpr size_t kHeaderBytes = 128;

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

struct Header {
  uint32_t version, flags;
  uint64_t words, dim, entry_bytes, images, entries, fingerprint;
  uint64_t offsets_at, ids_at, codes_at, image_words_at, centroids_at, names_at, sections_end;
};
static_assert(8 + sizeof(Header) + 8 == kHeaderBytes, "the header fills 128 bytes");

// Sizes from a file header are checked against the file before any of them is used; a product
// that overflows is as invalid as one that is too large.
bool fits(uint64_t at, uint64_t count, uint64_t item_bytes, uint64_t end) {
  if (at > end) return false;
  if (item_bytes != 0 && count > (end - at) / item_bytes) return false;
  return true;
}

// Writes the sections after the header in order, zero padding up to each section's offset, and
// keeps their checksum, so that saving streams the postings instead of building the whole file
// in memory first (a million images make a 3 GB file).
class SectionWriter {
 public:
  explicit SectionWriter(std::ostream& out) : out_(out) {}
  void pad_to(uint64_t at) {
    static const uint8_t zeros[64] = {};
    while (position_ < at) write(zeros, std::min<uint64_t>(64, at - position_));
  }
  void write(const void* data, uint64_t bytes) {
    const auto* b = static_cast<const uint8_t*>(data);
    sum_ = fnv1a64(b, bytes, sum_);
    out_.write(reinterpret_cast<const char*>(b), static_cast<std::streamsize>(bytes));
    position_ += bytes;
  }
  uint64_t sum() const { return sum_; }

 private:
  std::ostream& out_;
  uint64_t position_ = kHeaderBytes;
  uint64_t sum_ = fnv1a64(nullptr, 0);
};

}  // namespace

void InvertedFile::save(const std::string& path) const {
  if (!pending_.empty()) fail("internal: save an index with images not finalized");
  const size_t bytes = static_cast<size_t>(entry_bytes());
  const uint64_t n_entries = static_cast<uint64_t>(entries());
  std::vector<uint64_t> name_offsets(static_cast<size_t>(images()) + 1, 0);
  for (size_t i = 0; i < static_cast<size_t>(images()); ++i)
    name_offsets[i + 1] = name_offsets[i] + (i < names_.size() ? names_[i].size() : 0);
  Header h{};
  h.version = kVersion;
  h.flags = (binary_ ? 1u : 0u) | (static_cast<uint32_t>(multiple_assignment_) << 8);
  h.words = static_cast<uint64_t>(words_);
  h.dim = static_cast<uint64_t>(dim_);
  h.entry_bytes = bytes;
  h.images = static_cast<uint64_t>(images());
  h.entries = n_entries;
  h.fingerprint = fingerprint_;
  h.offsets_at = kHeaderBytes;
  h.ids_at = align64(h.offsets_at + (h.words + 1) * 8);
  h.codes_at = align64(h.ids_at + n_entries * 4);
  h.image_words_at = align64(h.codes_at + n_entries * bytes);
  h.centroids_at = align64(h.image_words_at + h.images * 4);
  h.names_at = align64(h.centroids_at + centroids_.size() * 4);
  h.sections_end = align64(h.names_at + name_offsets.size() * 8 + name_offsets.back());
  uint8_t header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  std::memcpy(header + 8, &h, sizeof(Header));
  const uint64_t header_sum = fnv1a64(header, kHeaderBytes - 8);
  std::memcpy(header + kHeaderBytes - 8, &header_sum, 8);
  // The word offsets of the compact postings and the tail together, as compact() would make them.
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  for (int64_t w = 0; w < words_; ++w)
    offsets[static_cast<size_t>(w + 1)] = offsets[static_cast<size_t>(w)] + word_entries(w);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(header), kHeaderBytes);
    SectionWriter sections(out);
    sections.write(offsets.data(), offsets.size() * 8);
    sections.pad_to(h.ids_at);
    for (int64_t w = 0; w < words_; ++w)
      for (const Span& span : {compact_span(w), tail_span(w)})
        if (span.size()) sections.write(span.ids + span.begin, span.size() * 4);
    sections.pad_to(h.codes_at);
    for (int64_t w = 0; w < words_; ++w)
      for (const Span& span : {compact_span(w), tail_span(w)})
        if (span.size()) sections.write(span.codes + span.begin * bytes, span.size() * bytes);
    sections.pad_to(h.image_words_at);
    sections.write(image_words_.data(), h.images * 4);
    sections.pad_to(h.centroids_at);
    sections.write(centroids_.data(), centroids_.size() * 4);
    sections.pad_to(h.names_at);
    sections.write(name_offsets.data(), name_offsets.size() * 8);
    for (size_t i = 0; i < names_.size() && i < h.images; ++i)
      sections.write(names_[i].data(), names_[i].size());
    sections.pad_to(h.sections_end);
    const uint64_t sum = sections.sum();
    out.write(reinterpret_cast<const char*>(&sum), 8);
  });
}

InvertedFile InvertedFile::load(const std::string& path) {
  const std::shared_ptr<const MappedFile> mapping = MappedFile::open(path);
  const size_t size = mapping->size();
  if (size < kHeaderBytes + 8) fail(path, ": not an mda index (too short: ", size, " bytes)");
  const uint8_t* b = mapping->data();
  if (std::memcmp(b, kMagicVersion1, 8) == 0) {
    fail(path,
         ": index format 1, written by an older mda (no codebook or image names inside); "
         "rebuild it with this version's mda build-index");
  }
  if (std::memcmp(b, kMagic, 8) != 0) fail(path, ": not an mda index (bad magic string)");
  Header h{};
  std::memcpy(&h, b + 8, sizeof(Header));
  uint64_t header_sum;
  std::memcpy(&header_sum, b + kHeaderBytes - 8, 8);
  if (fnv1a64(b, kHeaderBytes - 8) != header_sum)
    fail(path, ": corrupt index header (checksum mismatch)");
  if (h.version != kVersion)
    fail(path, ": index format version ", h.version, " is not supported (this mda reads ", kVersion,
         "); rebuild it with this version's mda build-index");
  if (h.sections_end + 8 != size) {
    fail(path, ": truncated or padded index: ", size, " bytes, the header announces ",
         h.sections_end + 8);
  }
  if (h.words < 1 || h.dim < 1 || h.words > (1ull << 32) || h.dim > (1ull << 20) ||
      h.images > UINT32_MAX || !fits(h.offsets_at, h.words + 1, 8, h.ids_at) ||
      !fits(h.ids_at, h.entries, 4, h.codes_at) ||
      !fits(h.codes_at, h.entries, h.entry_bytes, h.image_words_at) ||
      !fits(h.image_words_at, h.images, 4, h.centroids_at) || h.centroids_at > h.names_at ||
      !fits(h.names_at, h.images + 1, 8, h.sections_end) || h.offsets_at < kHeaderBytes) {
    fail(path, ": corrupt index header (sections do not fit the file)");
  }
  uint64_t sum;
  std::memcpy(&sum, b + h.sections_end, 8);
  if (fnv1a64(b + kHeaderBytes, h.sections_end - kHeaderBytes) != sum)
    fail(path, ": corrupt index data (checksum mismatch)");
  InvertedFile ivf(static_cast<int64_t>(h.words), static_cast<int64_t>(h.dim), (h.flags & 1u) != 0,
                   h.fingerprint);
  if (static_cast<uint64_t>(ivf.entry_bytes()) != h.entry_bytes)
    fail(path, ": inconsistent entry size");
  ivf.offsets_.clear();
  ivf.mapping_ = mapping;
  ivf.offsets_view_ = reinterpret_cast<const uint64_t*>(b + h.offsets_at);
  ivf.ids_view_ = reinterpret_cast<const uint32_t*>(b + h.ids_at);
  ivf.codes_view_ = b + h.codes_at;
  const uint32_t* words = reinterpret_cast<const uint32_t*>(b + h.image_words_at);
  ivf.image_words_.assign(words, words + h.images);
  if (ivf.offsets_view_[0] != 0 || ivf.offsets_view_[h.words] != h.entries)
    fail(path, ": inconsistent postings offsets");
  for (uint64_t w = 0; w < h.words; ++w) {
    const uint64_t begin = ivf.offsets_view_[w], end = ivf.offsets_view_[w + 1];
    if (end < begin || end > h.entries) fail(path, ": postings offsets decrease at word ", w);
    for (uint64_t e = begin; e < end; ++e) {
      if (ivf.ids_view_[e] >= h.images)
        fail(path, ": posting names image ", ivf.ids_view_[e], " of ", h.images);
      if (e > begin && ivf.ids_view_[e] <= ivf.ids_view_[e - 1])
        fail(path, ": postings of word ", w, " are not sorted by image id");
    }
  }
  const uint64_t centroid_values = (h.names_at - h.centroids_at) / 4;
  if (centroid_values >= h.words * h.dim) {
    const float* c = reinterpret_cast<const float*>(b + h.centroids_at);
    ivf.centroids_.assign(c, c + h.words * h.dim);
    if (codebook_fingerprint(ivf.centroids_) != h.fingerprint)
      fail(path, ": the stored codebook does not match the index's fingerprint");
  }
  const uint64_t* name_offsets = reinterpret_cast<const uint64_t*>(b + h.names_at);
  const uint64_t name_bytes_at = h.names_at + (h.images + 1) * 8;
  if (name_offsets[0] != 0 || !fits(name_bytes_at, name_offsets[h.images], 1, h.sections_end))
    fail(path, ": corrupt image names section");
  ivf.names_.resize(h.images);
  for (uint64_t i = 0; i < h.images; ++i) {
    if (name_offsets[i + 1] < name_offsets[i] || name_offsets[i + 1] > name_offsets[h.images])
      fail(path, ": corrupt image names section (offsets decrease at image ", i, ")");
    ivf.names_[i].assign(reinterpret_cast<const char*>(b + name_bytes_at + name_offsets[i]),
                         name_offsets[i + 1] - name_offsets[i]);
  }
  ivf.multiple_assignment_ = static_cast<int>((h.flags >> 8) & 0xffu);
  ivf.file_bytes_ = static_cast<int64_t>(size);
  return ivf;
}

}  // namespace mda
