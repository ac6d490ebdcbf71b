// The inverted file's file format (inverted_file.h) and its memory map.

#include <cstring>

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
  std::vector<uint8_t> file(h.sections_end + 8, 0);
  std::memcpy(file.data(), kMagic, 8);
  std::memcpy(file.data() + 8, &h, sizeof(Header));
  const uint64_t header_sum = fnv1a64(file.data(), kHeaderBytes - 8);
  std::memcpy(file.data() + kHeaderBytes - 8, &header_sum, 8);
  if (tail_entries_ == 0) {
    std::memcpy(file.data() + h.offsets_at, offsets_view_, (h.words + 1) * 8);
    if (n_entries) {
      std::memcpy(file.data() + h.ids_at, ids_view_, n_entries * 4);
      std::memcpy(file.data() + h.codes_at, codes_view_, n_entries * bytes);
    }
  } else {  // the compact postings and the tail, word by word, as compact() would make them
    uint64_t out = 0;
    for (int64_t w = 0; w < words_; ++w) {
      std::memcpy(file.data() + h.offsets_at + static_cast<uint64_t>(w) * 8, &out, 8);
      for (const Span& span : {compact_span(w), tail_span(w)}) {
        if (span.size() == 0) continue;
        std::memcpy(file.data() + h.ids_at + out * 4, span.ids + span.begin, span.size() * 4);
        std::memcpy(file.data() + h.codes_at + out * bytes, span.codes + span.begin * bytes,
                    span.size() * bytes);
        out += span.size();
      }
    }
    std::memcpy(file.data() + h.offsets_at + h.words * 8, &out, 8);
  }
  if (h.images) std::memcpy(file.data() + h.image_words_at, image_words_.data(), h.images * 4);
  if (!centroids_.empty())
    std::memcpy(file.data() + h.centroids_at, centroids_.data(), centroids_.size() * 4);
  std::memcpy(file.data() + h.names_at, name_offsets.data(), name_offsets.size() * 8);
  uint8_t* name_bytes = file.data() + h.names_at + name_offsets.size() * 8;
  for (size_t i = 0; i < names_.size(); ++i)
    std::memcpy(name_bytes + name_offsets[i], names_[i].data(), names_[i].size());
  const uint64_t sum = fnv1a64(file.data() + kHeaderBytes, h.sections_end - kHeaderBytes);
  std::memcpy(file.data() + h.sections_end, &sum, 8);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
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
