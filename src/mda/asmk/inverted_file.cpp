#include "mda/asmk/inverted_file.h"

#include <algorithm>
#include <cstring>

#include "mda/asmk/codebook.h"
#include "mda/util/error.h"

namespace mda {

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

int64_t InvertedFile::entries() const {
  return static_cast<int64_t>(offsets_view_[words_] + tail_entries_);
}

int64_t InvertedFile::postings(int32_t word) const {
  if (word < 0 || word >= words_) fail("word ", word, " outside the index's ", words_, " words");
  return static_cast<int64_t>(word_entries(word));
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
  ivf.names_.resize(ivf.image_words_.size());
  ivf.point_views_at_owned();
  return ivf;
}

void InvertedFile::check_compatible(const AggregatedImage& image, const char* what) const {
  if (image.dim != dim_)
    fail(what, " has ", image.dim, "-d descriptors, the index holds ", dim_, "-d");
  if (image.binary != binary_)
    fail(what, " is ", image.binary ? "binary" : "real-valued", ", the index is not");
}

void InvertedFile::add(int64_t image_id, const AggregatedImage& image, const std::string& name) {
  check_compatible(image, "image");
  if (image_id < images())
    fail("image id ", image_id, " is not after the last id in the index (", images() - 1, ")");
  if (image_id > static_cast<int64_t>(UINT32_MAX))
    fail("image id ", image_id, " does not fit 32 bits");
  image_words_.resize(static_cast<size_t>(image_id + 1), 0);
  image_words_[static_cast<size_t>(image_id)] = static_cast<uint32_t>(image.count());
  names_.resize(image_words_.size());
  names_[static_cast<size_t>(image_id)] = name;
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
  if (tail_ids_.empty()) {
    tail_ids_.resize(static_cast<size_t>(words_));
    tail_codes_.resize(static_cast<size_t>(words_));
  }
  // Pending ids are larger than every stored id and come in id order, so appending them to their
  // words' lists keeps every list sorted.
  for (const Pending& p : pending_) {
    const size_t w = static_cast<size_t>(p.word);
    tail_ids_[w].push_back(p.id);
    tail_codes_[w].insert(tail_codes_[w].end(), &pending_codes_[p.code],
                          &pending_codes_[p.code] + bytes);
  }
  tail_entries_ += pending_.size();
  pending_.clear();
  pending_codes_.clear();
  if (tail_entries_ * 4 > offsets_view_[words_]) compact();
}

void InvertedFile::compact() {
  if (tail_entries_ == 0) return;
  const size_t bytes = static_cast<size_t>(entry_bytes());
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  std::vector<uint32_t> ids(static_cast<size_t>(entries()));
  std::vector<uint8_t> codes(ids.size() * bytes);
  size_t out = 0;
  for (int64_t w = 0; w < words_; ++w) {
    offsets[static_cast<size_t>(w)] = out;
    for (const Span& span : {compact_span(w), tail_span(w)}) {
      if (span.size() == 0) continue;
      std::copy(span.ids + span.begin, span.ids + span.end,
                ids.begin() + static_cast<std::ptrdiff_t>(out));
      std::memcpy(&codes[out * bytes], span.codes + span.begin * bytes, span.size() * bytes);
      out += span.size();
    }
  }
  offsets[static_cast<size_t>(words_)] = out;
  offsets_ = std::move(offsets);
  ids_ = std::move(ids);
  codes_ = std::move(codes);
  tail_ids_.clear();
  tail_codes_.clear();
  tail_entries_ = 0;
  point_views_at_owned();
}

void InvertedFile::set_centroids(std::vector<float> centroids) {
  if (static_cast<int64_t>(centroids.size()) != words_ * dim_)
    fail("a codebook of ", centroids.size(), " values for an index of ", words_, " x ", dim_);
  if (codebook_fingerprint(centroids) != fingerprint_)
    fail("the codebook is not the one the index was built with");
  centroids_ = std::move(centroids);
}

void InvertedFile::set_multiple_assignment(int ma) {
  if (ma < 0 || ma > 255) fail("multiple assignment ", ma, " outside 0..255");
  multiple_assignment_ = ma;
}

void InvertedFile::remove(const std::vector<int64_t>& sorted_ids) {
  if (sorted_ids.empty()) return;
  finalize();
  compact();
  std::vector<bool> removed(static_cast<size_t>(images()), false);
  for (size_t i = 0; i < sorted_ids.size(); ++i) {
    const int64_t id = sorted_ids[i];
    if (id < 0 || id >= images() || (i > 0 && id <= sorted_ids[i - 1]))
      fail("internal: remove() needs sorted, distinct ids of the index, found ", id);
    removed[static_cast<size_t>(id)] = true;
  }
  // New id of every kept image: its old id minus the removed ids before it (order is kept, so
  // every word's postings stay sorted).
  std::vector<uint32_t> new_id(removed.size());
  uint32_t next = 0;
  for (size_t id = 0; id < removed.size(); ++id) new_id[id] = removed[id] ? 0 : next++;
  const size_t bytes = static_cast<size_t>(entry_bytes());
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  std::vector<uint32_t> ids;
  std::vector<uint8_t> codes;
  ids.reserve(static_cast<size_t>(entries()));
  codes.reserve(static_cast<size_t>(entries()) * bytes);
  for (int64_t w = 0; w < words_; ++w) {
    offsets[static_cast<size_t>(w)] = ids.size();
    for (uint64_t e = offsets_view_[w]; e < offsets_view_[w + 1]; ++e) {
      if (removed[ids_view_[e]]) continue;
      ids.push_back(new_id[ids_view_[e]]);
      codes.insert(codes.end(), codes_view_ + e * bytes, codes_view_ + (e + 1) * bytes);
    }
  }
  offsets[static_cast<size_t>(words_)] = ids.size();
  std::vector<uint32_t> image_words;
  std::vector<std::string> names;
  for (size_t id = 0; id < removed.size(); ++id) {
    if (removed[id]) continue;
    image_words.push_back(image_words_[id]);
    names.push_back(id < names_.size() ? names_[id] : std::string());
  }
  offsets_ = std::move(offsets);
  ids_ = std::move(ids);
  codes_ = std::move(codes);
  image_words_ = std::move(image_words);
  names_ = std::move(names);
  point_views_at_owned();
}

void InvertedFile::merge_postings(const InvertedFile& other, int64_t shift) {
  const size_t bytes = static_cast<size_t>(entry_bytes());
  std::vector<uint64_t> offsets(static_cast<size_t>(words_ + 1), 0);
  std::vector<uint32_t> ids(static_cast<size_t>(entries() + other.entries()));
  std::vector<uint8_t> codes(ids.size() * bytes);
  size_t out = 0;
  for (int64_t w = 0; w < words_; ++w) {
    offsets[static_cast<size_t>(w)] = out;
    uint64_t a = offsets_view_[w];
    const uint64_t a_end = offsets_view_[w + 1];
    // The other's list is its compact part then its tail (whose ids are all larger).
    const Span b_parts[2] = {other.compact_span(w), other.tail_span(w)};
    int part = 0;
    uint64_t b = b_parts[0].begin;
    const auto b_done = [&] {
      while (part < 2 && b >= b_parts[part].end) {
        if (++part < 2) b = b_parts[part].begin;
      }
      return part == 2;
    };
    while (a < a_end || !b_done()) {  // merge two id-sorted postings lists
      const bool b_left = !b_done();
      const uint64_t b_id = b_left ? b_parts[part].ids[b] + static_cast<uint64_t>(shift) : 0;
      const bool take_a = !b_left || (a < a_end && ids_view_[a] < b_id);
      ids[out] = take_a ? ids_view_[a] : static_cast<uint32_t>(b_id);
      std::memcpy(&codes[out * bytes],
                  take_a ? codes_view_ + a * bytes : b_parts[part].codes + b * bytes, bytes);
      ++(take_a ? a : b);
      ++out;
    }
  }
  offsets[static_cast<size_t>(words_)] = out;
  offsets_ = std::move(offsets);
  ids_ = std::move(ids);
  codes_ = std::move(codes);
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
  compact();
  for (int64_t id = 0; id < std::min(images(), other.images()); ++id) {
    if (image_words_[static_cast<size_t>(id)] > 0 &&
        other.image_words_[static_cast<size_t>(id)] > 0) {
      fail(other_name, ": overlapping shards: image ", id, " is in both indexes");
    }
  }
  merge_postings(other, 0);
  image_words_.resize(static_cast<size_t>(std::max(images(), other.images())), 0);
  names_.resize(image_words_.size());
  for (int64_t id = 0; id < other.images(); ++id) {
    if (other.image_words_[static_cast<size_t>(id)] > 0) {
      image_words_[static_cast<size_t>(id)] = other.image_words_[static_cast<size_t>(id)];
      if (static_cast<size_t>(id) < other.names_.size())
        names_[static_cast<size_t>(id)] = other.names_[static_cast<size_t>(id)];
    }
  }
  if (centroids_.empty()) centroids_ = other.centroids_;
  if (multiple_assignment_ != other.multiple_assignment_) multiple_assignment_ = 0;
  point_views_at_owned();
}

void InvertedFile::append(const InvertedFile& other, const std::string& other_name) {
  if (other.words_ != words_ || other.dim_ != dim_ || other.binary_ != binary_ ||
      other.fingerprint_ != fingerprint_ || other.multiple_assignment_ != multiple_assignment_) {
    fail(other_name, ": holds another encoding (", other.words_, " words, ", other.dim_, "-d, ",
         other.binary_ ? "binary" : "real", ", multiple assignment ", other.multiple_assignment_,
         ") than the index it is appended to (", words_, " words, ", dim_, "-d, ",
         binary_ ? "binary" : "real", ", multiple assignment ", multiple_assignment_,
         ") or another codebook");
  }
  if (!other.pending_.empty()) fail(other_name, ": is not finalized");
  finalize();
  compact();
  const int64_t shift = images();
  if (shift + other.images() > static_cast<int64_t>(UINT32_MAX))
    fail(other_name, ": appending it would take the index over 2^32 images");
  merge_postings(other, shift);
  names_.resize(static_cast<size_t>(shift));
  image_words_.insert(image_words_.end(), other.image_words_.begin(), other.image_words_.end());
  names_.insert(names_.end(), other.names_.begin(), other.names_.end());
  names_.resize(image_words_.size());
  if (centroids_.empty()) centroids_ = other.centroids_;
  point_views_at_owned();
}

IvfStats InvertedFile::stats() const {
  IvfStats s;
  s.images = images();
  s.entries = entries() + static_cast<int64_t>(pending_.size());
  s.words = words_;
  double sum = 0, squares = 0;
  for (int64_t w = 0; w < words_; ++w) {
    const double n = static_cast<double>(word_entries(w));
    s.empty_words += n == 0;
    sum += n;
    squares += n * n;
  }
  for (uint32_t n : image_words_) s.images_with_words += n > 0;
  s.vectors_per_image =
      s.images_with_words ? static_cast<double>(s.entries) / s.images_with_words : 0;
  s.imbalance = sum > 0 ? words_ * squares / (sum * sum) : 0;
  s.file_bytes = file_bytes_;
  s.tail_entries = static_cast<int64_t>(tail_entries_);
  return s;
}

}  // namespace mda
