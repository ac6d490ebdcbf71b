#include "mda/asmk/inverted_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {
namespace {

constexpr char kMagic[8] = {'M', 'D', 'A', 'I', 'V', 'F', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 128;

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

struct Header {
  uint32_t version, flags;
  uint64_t words, dim, entry_bytes, images, entries, fingerprint;
  uint64_t offsets_at, ids_at, codes_at, image_words_at, sections_end;
};

// The hot loop of the search: Hamming distances of 128-bit codes, each turned into its weighted
// selectivity by a table lookup and accumulated per image. Compiled for the POPCNT instruction
// (every x86-64 CPU since 2008) with a portable twin for the others.
inline __attribute__((always_inline)) void scan_128(const uint8_t* query, const uint32_t* ids,
                                                    const uint8_t* codes, uint64_t begin,
                                                    uint64_t end, const float* weighted,
                                                    float* accumulated) {
  uint64_t q0, q1;
  std::memcpy(&q0, query, 8);
  std::memcpy(&q1, query + 8, 8);
  codes += begin * 16;
  for (uint64_t e = begin; e < end; ++e, codes += 16) {
    uint64_t d0, d1;
    std::memcpy(&d0, codes, 8);
    std::memcpy(&d1, codes + 8, 8);
    accumulated[ids[e]] += weighted[__builtin_popcountll(q0 ^ d0) + __builtin_popcountll(q1 ^ d1)];
  }
}

void scan_128_portable(const uint8_t* query, const uint32_t* ids, const uint8_t* codes,
                       uint64_t begin, uint64_t end, const float* weighted, float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) void scan_128_popcnt(const uint8_t* query, const uint32_t* ids,
                                                       const uint8_t* codes, uint64_t begin,
                                                       uint64_t end, const float* weighted,
                                                       float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}
const bool kHavePopcnt = __builtin_cpu_supports("popcnt");
#else
void scan_128_popcnt(const uint8_t* query, const uint32_t* ids, const uint8_t* codes,
                     uint64_t begin, uint64_t end, const float* weighted, float* accumulated) {
  scan_128(query, ids, codes, begin, end, weighted, accumulated);
}
const bool kHavePopcnt = true;
#endif

}  // namespace

uint64_t codebook_fingerprint(const std::vector<float>& centroids) {
  return fnv1a64(reinterpret_cast<const uint8_t*>(centroids.data()),
                 centroids.size() * sizeof(float));
}

InvertedFile::InvertedFile(int64_t words, int64_t dim, bool binary, uint64_t fingerprint)
    : words_(words),
      dim_(dim),
      binary_(binary),
      fingerprint_(fingerprint),
      offsets_(static_cast<size_t>(words + 1), 0) {
  if (words < 1 || dim < 1)
    fail("inverted file needs words >= 1 and dim >= 1, found ", words, " and ", dim);
  point_views_at_owned();
}

void InvertedFile::point_views_at_owned() {
  mapping_.reset();
  offsets_view_ = offsets_.data();
  ids_view_ = ids_.data();
  codes_view_ = codes_.data();
}

int64_t InvertedFile::entries() const { return static_cast<int64_t>(offsets_view_[words_]); }

int64_t InvertedFile::postings(int32_t word) const {
  if (word < 0 || word >= words_) fail("word ", word, " outside the index's ", words_, " words");
  return static_cast<int64_t>(offsets_view_[word + 1] - offsets_view_[word]);
}

InvertedFile InvertedFile::from_postings(int64_t words, int64_t dim, bool binary,
                                         uint64_t fingerprint, std::vector<uint64_t> offsets,
                                         std::vector<uint32_t> ids, std::vector<uint8_t> codes,
                                         std::vector<uint32_t> image_words) {
  InvertedFile ivf(words, dim, binary, fingerprint);
  if (offsets.size() != static_cast<size_t>(words + 1) || offsets.front() != 0 ||
      offsets.back() != ids.size() ||
      codes.size() != ids.size() * static_cast<size_t>(ivf.entry_bytes())) {
    fail("postings do not fit: ", offsets.size(), " offsets, ", ids.size(), " ids, ", codes.size(),
         " code bytes");
  }
  for (int64_t w = 0; w < words; ++w) {
    if (offsets[static_cast<size_t>(w + 1)] < offsets[static_cast<size_t>(w)])
      fail("postings offsets decrease at word ", w);
    for (uint64_t e = offsets[static_cast<size_t>(w)]; e < offsets[static_cast<size_t>(w + 1)];
         ++e) {
      if (ids[e] >= image_words.size())
        fail("posting names image ", ids[e], " of ", image_words.size());
      if (e > offsets[static_cast<size_t>(w)] && ids[e] <= ids[e - 1])
        fail("postings of word ", w, " are not sorted by image id");
    }
  }
  ivf.offsets_ = std::move(offsets);
  ivf.ids_ = std::move(ids);
  ivf.codes_ = std::move(codes);
  ivf.image_words_ = std::move(image_words);
  ivf.point_views_at_owned();
  return ivf;
}

void InvertedFile::check_compatible(const AggregatedImage& image, const char* what) const {
  if (image.dim != dim_)
    fail(what, " has ", image.dim, "-d descriptors, the index holds ", dim_, "-d");
  if (image.binary != binary_)
    fail(what, " is ", image.binary ? "binary" : "real-valued", ", the index is not");
}

void InvertedFile::add(int64_t image_id, const AggregatedImage& image) {
  check_compatible(image, "image");
  if (image_id < images())
    fail("image id ", image_id, " is not after the last id in the index (", images() - 1, ")");
  if (image_id > static_cast<int64_t>(UINT32_MAX))
    fail("image id ", image_id, " does not fit 32 bits");
  image_words_.resize(static_cast<size_t>(image_id + 1), 0);
  image_words_[static_cast<size_t>(image_id)] = static_cast<uint32_t>(image.count());
  const size_t bytes = static_cast<size_t>(entry_bytes());
  for (int64_t i = 0; i < image.count(); ++i) {
    const int32_t word = image.words[static_cast<size_t>(i)];
    if (word < 0 || word >= words_) fail("word ", word, " outside the index's ", words_, " words");
    pending_.push_back(Pending{word, static_cast<uint32_t>(image_id), pending_codes_.size()});
    const uint8_t* code =
        binary_ ? &image.codes[static_cast<size_t>(i) * bytes]
                : reinterpret_cast<const uint8_t*>(&image.vectors[static_cast<size_t>(i * dim_)]);
    pending_codes_.insert(pending_codes_.end(), code, code + bytes);
  }
}

void InvertedFile::finalize() {
  if (pending_.empty()) return;
  const size_t bytes = static_cast<size_t>(entry_bytes());
  // Pending ids are larger than every stored id, so appending them per word keeps postings sorted.
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Pending& a, const Pending& b) { return a.word < b.word; });
  const int64_t old_entries = entries();
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  std::vector<uint32_t> ids(static_cast<size_t>(old_entries) + pending_.size());
  std::vector<uint8_t> codes(ids.size() * bytes);
  size_t out = 0, p = 0;
  for (int64_t w = 0; w < words_; ++w) {
    offsets[static_cast<size_t>(w)] = out;
    const uint64_t begin = offsets_view_[w], end = offsets_view_[w + 1];
    if (end > begin) {
      std::copy(ids_view_ + begin, ids_view_ + end, ids.begin() + static_cast<std::ptrdiff_t>(out));
      std::memcpy(&codes[out * bytes], codes_view_ + begin * bytes, (end - begin) * bytes);
      out += end - begin;
    }
    for (; p < pending_.size() && pending_[p].word == w; ++p, ++out) {
      ids[out] = pending_[p].id;
      std::memcpy(&codes[out * bytes], &pending_codes_[pending_[p].code], bytes);
    }
  }
  offsets[static_cast<size_t>(words_)] = out;
  offsets_ = std::move(offsets);
  ids_ = std::move(ids);
  codes_ = std::move(codes);
  pending_.clear();
  pending_codes_.clear();
  point_views_at_owned();
}

void InvertedFile::merge(const InvertedFile& other, const std::string& other_name) {
  if (other.words_ != words_ || other.dim_ != dim_ || other.binary_ != binary_) {
    fail(other_name, ": cannot merge an index of ", other.words_, " words, ", other.dim_, "-d",
         other.binary_ ? " binary" : " real", " into one of ", words_, " words, ", dim_, "-d",
         binary_ ? " binary" : " real");
  }
  if (other.fingerprint_ != fingerprint_) fail(other_name, ": was built with another codebook");
  if (!other.pending_.empty()) fail(other_name, ": is not finalized");
  finalize();
  for (int64_t id = 0; id < std::min(images(), other.images()); ++id) {
    if (image_words_[static_cast<size_t>(id)] > 0 &&
        other.image_words_[static_cast<size_t>(id)] > 0) {
      fail(other_name, ": overlapping shards: image ", id, " is in both indexes");
    }
  }
  const size_t bytes = static_cast<size_t>(entry_bytes());
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  std::vector<uint32_t> ids(static_cast<size_t>(entries() + other.entries()));
  std::vector<uint8_t> codes(ids.size() * bytes);
  size_t out = 0;
  for (int64_t w = 0; w < words_; ++w) {
    offsets[static_cast<size_t>(w)] = out;
    uint64_t a = offsets_view_[w], b = other.offsets_view_[w];
    const uint64_t a_end = offsets_view_[w + 1], b_end = other.offsets_view_[w + 1];
    while (a < a_end || b < b_end) {  // merge two id-sorted postings lists
      const bool take_a = b >= b_end || (a < a_end && ids_view_[a] < other.ids_view_[b]);
      ids[out] = take_a ? ids_view_[a] : other.ids_view_[b];
      std::memcpy(&codes[out * bytes],
                  take_a ? codes_view_ + a * bytes : other.codes_view_ + b * bytes, bytes);
      ++(take_a ? a : b);
      ++out;
    }
  }
  offsets[static_cast<size_t>(words_)] = out;
  offsets_ = std::move(offsets);
  ids_ = std::move(ids);
  codes_ = std::move(codes);
  image_words_.resize(static_cast<size_t>(std::max(images(), other.images())), 0);
  for (int64_t id = 0; id < other.images(); ++id) {
    if (other.image_words_[static_cast<size_t>(id)] > 0)
      image_words_[static_cast<size_t>(id)] = other.image_words_[static_cast<size_t>(id)];
  }
  point_views_at_owned();
}

SearchContext InvertedFile::context(const AsmkSearchParams& params) const {
  if (!pending_.empty()) fail("internal: search on an index with images not finalized");
  SearchContext c;
  c.idf.assign(static_cast<size_t>(words_), 1.0f);
  c.image_scale.assign(static_cast<size_t>(images()), 0.0f);
  if (!params.use_idf) {
    for (int64_t id = 0; id < images(); ++id) {
      const uint32_t n = image_words_[static_cast<size_t>(id)];
      c.image_scale[static_cast<size_t>(id)] =
          n ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 0.0f;
    }
    return c;
  }
  int64_t indexed = 0;
  for (uint32_t n : image_words_) indexed += n > 0;
  std::vector<double> norms(static_cast<size_t>(images()), 0.0);
  for (int64_t w = 0; w < words_; ++w) {
    const uint64_t count = offsets_view_[w + 1] - offsets_view_[w];
    // idf = log(images / postings)^2; a word without postings never contributes.
    const double idf =
        count ? std::pow(std::log(static_cast<double>(indexed) / static_cast<double>(count)), 2)
              : 0.0;
    c.idf[static_cast<size_t>(w)] = static_cast<float>(idf);
    for (uint64_t e = offsets_view_[w]; e < offsets_view_[w + 1]; ++e) norms[ids_view_[e]] += idf;
  }
  for (int64_t id = 0; id < images(); ++id) {
    const double n = norms[static_cast<size_t>(id)];
    c.image_scale[static_cast<size_t>(id)] = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  }
  return c;
}

std::vector<float> InvertedFile::scores(const AggregatedImage& query,
                                        const AsmkSearchParams& params,
                                        const SearchContext& context) const {
  check_compatible(query, "query");
  if (!pending_.empty()) fail("internal: search on an index with images not finalized");
  std::vector<float> accumulated(static_cast<size_t>(images()), 0.0f);
  const auto selectivity = [&](double s) {
    return s >= params.similarity_threshold ? std::pow(s, params.alpha) : 0.0;
  };
  double query_norm = 0;
  const int64_t bits = dim_;
  // sigma(1 - 2h/B) for every Hamming distance h, so the scan is a lookup.
  std::vector<float> by_distance(static_cast<size_t>(bits + 1));
  for (int64_t h = 0; h <= bits; ++h)
    by_distance[static_cast<size_t>(h)] = static_cast<float>(selectivity(1.0 - 2.0 * h / bits));
  std::vector<float> weighted(by_distance.size());  // idf x selectivity, per query word
  const size_t bytes = static_cast<size_t>(entry_bytes());
  for (int64_t i = 0; i < query.count(); ++i) {
    const int32_t w = query.words[static_cast<size_t>(i)];
    if (w < 0 || w >= words_) fail("query word ", w, " outside the index's ", words_, " words");
    const float idf = context.idf[static_cast<size_t>(w)];
    query_norm += idf;
    const uint64_t begin = offsets_view_[w], end = offsets_view_[w + 1];
    if (begin == end || idf == 0.0f) continue;
    const uint32_t* ids = ids_view_;
    if (binary_) {
      const uint8_t* q = &query.codes[static_cast<size_t>(i) * bytes];
      if (bytes == 16) {
        for (int64_t h = 0; h <= bits; ++h)
          weighted[static_cast<size_t>(h)] = idf * by_distance[static_cast<size_t>(h)];
        if (kHavePopcnt) {
          scan_128_popcnt(q, ids, codes_view_, begin, end, weighted.data(), accumulated.data());
        } else {
          scan_128_portable(q, ids, codes_view_, begin, end, weighted.data(), accumulated.data());
        }
      } else {
        for (uint64_t e = begin; e < end; ++e) {
          const uint8_t* d = codes_view_ + e * bytes;
          int h = 0;
          for (size_t b = 0; b < bytes; ++b)
            h += __builtin_popcount(static_cast<unsigned>(q[b] ^ d[b]));
          accumulated[ids[e]] += idf * by_distance[static_cast<size_t>(h)];
        }
      }
    } else {
      const float* q = &query.vectors[static_cast<size_t>(i * dim_)];
      for (uint64_t e = begin; e < end; ++e) {
        const float* d = reinterpret_cast<const float*>(codes_view_ + e * bytes);
        double s = 0;
        for (int64_t t = 0; t < dim_; ++t) s += static_cast<double>(q[t]) * d[t];
        accumulated[ids[e]] += static_cast<float>(idf * selectivity(s));
      }
    }
  }
  const float query_scale = query_norm > 0 ? static_cast<float>(1.0 / std::sqrt(query_norm)) : 0.0f;
  for (int64_t id = 0; id < images(); ++id) {
    accumulated[static_cast<size_t>(id)] *=
        context.image_scale[static_cast<size_t>(id)] * query_scale;
  }
  return accumulated;
}

IvfStats InvertedFile::stats() const {
  IvfStats s;
  s.images = images();
  s.entries = entries() + static_cast<int64_t>(pending_.size());
  s.words = words_;
  double sum = 0, squares = 0;
  for (int64_t w = 0; w < words_; ++w) {
    const double n = static_cast<double>(offsets_view_[w + 1] - offsets_view_[w]);
    s.empty_words += n == 0;
    sum += n;
    squares += n * n;
  }
  for (uint32_t n : image_words_) s.images_with_words += n > 0;
  s.vectors_per_image =
      s.images_with_words ? static_cast<double>(s.entries) / s.images_with_words : 0;
  s.imbalance = sum > 0 ? words_ * squares / (sum * sum) : 0;
  s.file_bytes = file_bytes_;
  return s;
}

void InvertedFile::save(const std::string& path) const {
  if (!pending_.empty()) fail("internal: save an index with images not finalized");
  const size_t bytes = static_cast<size_t>(entry_bytes());
  const uint64_t n_entries = static_cast<uint64_t>(entries());
  Header h{};
  h.version = kVersion;
  h.flags = binary_ ? 1u : 0u;
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
  h.sections_end = align64(h.image_words_at + h.images * 4);
  std::vector<uint8_t> file(h.sections_end + 8, 0);
  std::memcpy(file.data(), kMagic, 8);
  std::memcpy(file.data() + 8, &h, sizeof(Header));
  const uint64_t header_sum = fnv1a64(file.data(), kHeaderBytes - 8);
  std::memcpy(file.data() + kHeaderBytes - 8, &header_sum, 8);
  std::memcpy(file.data() + h.offsets_at, offsets_view_, (h.words + 1) * 8);
  if (n_entries) {
    std::memcpy(file.data() + h.ids_at, ids_view_, n_entries * 4);
    std::memcpy(file.data() + h.codes_at, codes_view_, n_entries * bytes);
  }
  if (h.images) std::memcpy(file.data() + h.image_words_at, image_words_.data(), h.images * 4);
  const uint64_t sum = fnv1a64(file.data() + kHeaderBytes, h.sections_end - kHeaderBytes);
  std::memcpy(file.data() + h.sections_end, &sum, 8);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
  });
}

InvertedFile InvertedFile::load(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open index '", path, "': ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kHeaderBytes + 8) {
    ::close(fd);
    fail(path, ": not an mda index (too short: ", size, " bytes)");
  }
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) fail("cannot map index '", path, "': ", std::strerror(errno));
  std::shared_ptr<void> mapping(address, [size](void* p) { ::munmap(p, size); });
  const uint8_t* b = static_cast<const uint8_t*>(address);
  if (std::memcmp(b, kMagic, 8) != 0) fail(path, ": not an mda index (bad magic string)");
  Header h{};
  std::memcpy(&h, b + 8, sizeof(Header));
  uint64_t header_sum;
  std::memcpy(&header_sum, b + kHeaderBytes - 8, 8);
  if (fnv1a64(b, kHeaderBytes - 8) != header_sum)
    fail(path, ": corrupt index header (checksum mismatch)");
  if (h.version != kVersion)
    fail(path, ": index format version ", h.version, " is not supported (this mda reads ", kVersion,
         ")");
  if (h.sections_end + 8 != size) {
    fail(path, ": truncated or padded index: ", size, " bytes, the header announces ",
         h.sections_end + 8);
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
  if (ivf.offsets_view_[h.words] != h.entries) fail(path, ": inconsistent postings offsets");
  for (uint64_t e = 0; e < h.entries; ++e) {
    if (ivf.ids_view_[e] >= h.images)
      fail(path, ": posting names image ", ivf.ids_view_[e], " of ", h.images);
  }
  ivf.file_bytes_ = static_cast<int64_t>(size);
  return ivf;
}

}  // namespace mda
