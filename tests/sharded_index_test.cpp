// The pieces of the MPI jobs, tested without MPI: the Collective helpers (with ranks played by
// threads), k-means split over ranks, and the sharded index (manifest, search, merge, transport).
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "mda/asmk/inverted_file.h"
#include "mda/asmk/kmeans.h"
#include "mda/index.h"
#include "mda/live_index.h"
#include "mda/sharded_index.h"
#include "mda/util/collective.h"
#include "mda/util/fs.h"
#include "mda/util/random.h"
#include "object_features.h"
#include "search_hits_check.h"
#include "test_helpers.h"

namespace mda {
namespace {

// K ranks played by K threads of this process: all_gather is a rendezvous of all of them.
class ThreadJob {
 public:
  explicit ThreadJob(int size) : size_(size), slots_(static_cast<size_t>(size)) {
    for (int r = 0; r < size; ++r) ranks_.emplace_back(*this, r);
  }
  // Runs `part(rank)` on every rank, each on its own thread; returns their exceptions' messages.
  std::vector<std::string> run(const std::function<void(Collective&)>& part) {
    std::vector<std::string> errors(static_cast<size_t>(size_));
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r) {
      threads.emplace_back([&, r] {
        try {
          part(ranks_[static_cast<size_t>(r)]);
        } catch (const std::exception& e) {
          errors[static_cast<size_t>(r)] = e.what();
        }
      });
    }
    for (std::thread& t : threads) t.join();
    return errors;
  }

 private:
  class Rank : public Collective {
   public:
    Rank(ThreadJob& job, int rank) : job_(job), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return job_.size_; }
    int local_rank() const override { return rank_; }
    std::vector<std::string> all_gather(const std::string& mine) override {
      std::unique_lock<std::mutex> lock(job_.mutex_);
      job_.slots_[static_cast<size_t>(rank_)] = mine;
      if (++job_.arrived_ == job_.size_) {
        job_.result_ = job_.slots_;
        job_.arrived_ = 0;
        ++job_.generation_;
        job_.changed_.notify_all();
      } else {
        const int64_t generation = job_.generation_;
        job_.changed_.wait(lock, [&] { return job_.generation_ != generation; });
      }
      return job_.result_;
    }

   private:
    ThreadJob& job_;
    int rank_;
  };

  int size_;
  std::vector<Rank> ranks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::vector<std::string> slots_, result_;
};

TEST(Collective, RankBlocksCoverEveryItemOnceInRankOrderOnTheAlignment) {
  for (int64_t n : {0, 1, 255, 256, 257, 1000, 5000}) {
    for (int size = 1; size <= 5; ++size) {
      for (int64_t align : {1, 7, 256}) {
        int64_t next = 0;
        for (int rank = 0; rank < size; ++rank) {
          const auto [begin, end] = rank_block(n, rank, size, align);
          EXPECT_EQ(begin, next) << n << " items, rank " << rank << " of " << size;
          EXPECT_LE(begin, end);
          EXPECT_EQ(begin % align, 0) << n << " items, rank " << rank << " of " << size;
          // Balanced: no block more than one alignment unit above an even share.
          EXPECT_LE(end - begin, (n / align / size + 1) * align);
          next = end;
        }
        EXPECT_EQ(next, n) << n << " items over " << size << " ranks";
      }
    }
  }
  test::expect_error([] { rank_block(10, 2, 2); }, {"rank 2 of 2"});
}

TEST(Collective, AFailedRankFailsEveryRankWithItsError) {
  ThreadJob job(3);
  const std::vector<std::string> errors = job.run([](Collective& ranks) {
    run_on_every_rank(ranks, [&] {
      if (ranks.rank() == 1) fail("image x.jpg is corrupt");
    });
  });
  for (const std::string& error : errors)
    EXPECT_NE(error.find("rank 1 of 3: image x.jpg is corrupt"), std::string::npos) << error;
  // And when all succeed, nobody throws.
  for (const std::string& error : job.run([](Collective& ranks) { agree_on_success(ranks, ""); }))
    EXPECT_EQ(error, "");
}

TEST(KMeansOnRanks, GivesTheSameCentroidsBitForBitAsOneProcess) {
  // More points than one assignment tile per rank, so that ranks split inside the data.
  const int64_t n = 3000, dim = 16;
  std::vector<float> x(static_cast<size_t>(n * dim));
  SplitMix64 random(7);
  for (float& v : x) v = static_cast<float>(random.uniform(-1, 1));
  KMeansOptions options;
  options.k = 24;
  options.iterations = 6;
  const KMeansResult alone = train_kmeans(x.data(), n, dim, options);
  for (int size : {2, 3}) {
    ThreadJob job(size);
    std::vector<KMeansResult> results(static_cast<size_t>(size));
    const std::vector<std::string> errors = job.run([&](Collective& ranks) {
      results[static_cast<size_t>(ranks.rank())] = train_kmeans(x.data(), n, dim, options, ranks);
    });
    for (int r = 0; r < size; ++r) {
      EXPECT_EQ(errors[static_cast<size_t>(r)], "");
      EXPECT_EQ(results[static_cast<size_t>(r)].centroids, alone.centroids)
          << "rank " << r << " of " << size;
      EXPECT_EQ(results[static_cast<size_t>(r)].objective, alone.objective);
    }
  }
}

constexpr int kDim = 16;

class ShardedIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = test::object_images({0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 3}, kDim, 1);
    queries_ = test::object_images({2, 5, 0, 3}, kDim, 2);
    codebook_ = test::codebook_of(database_, 12);
    for (size_t i = 0; i < database_.size(); ++i) names_.push_back("db" + std::to_string(i));
    options_.multiple_assignment = 2;
  }
  // Shards of the database split at `cuts`, saved beside a manifest at dir/index.
  std::string write_shards(const std::vector<int64_t>& cuts) {
    const std::string manifest_path = dir_.path("index");
    IndexManifest manifest;
    manifest.images = static_cast<int64_t>(database_.size());
    manifest.codebook_fingerprint = codebook_.fingerprint;
    int64_t first = 0;
    const int shards = static_cast<int>(cuts.size()) + 1;
    for (int s = 0; s < shards; ++s) {
      const int64_t end =
          s + 1 < shards ? cuts[static_cast<size_t>(s)] : static_cast<int64_t>(database_.size());
      Index shard(codebook_);
      shard.add(std::vector<LocalFeatures>(database_.begin() + first, database_.begin() + end),
                std::vector<std::string>(names_.begin() + first, names_.begin() + end));
      const std::string file = index_shard_file(manifest_path, s, shards);
      shard.save(dir_.path(file));
      manifest.shards.push_back({file, first, end - first});
      first = end;
    }
    write_index_manifest(manifest_path, manifest);
    return manifest_path;
  }
  Index whole() const {
    Index index(codebook_);
    index.add(database_, names_);
    return index;
  }
  // The images' descriptors as one batch (valid until the next call).
  DescriptorBatch batch(const std::vector<LocalFeatures>& images) {
    flat_.clear();
    offsets_ = {0};
    for (const LocalFeatures& f : images) {
      flat_.insert(flat_.end(), f.descriptors.begin(), f.descriptors.end());
      offsets_.push_back(offsets_.back() + f.count());
    }
    return {flat_.data(), offsets_.data(), static_cast<int64_t>(images.size()), kDim};
  }

  std::vector<LocalFeatures> database_, queries_;
  std::vector<std::string> names_;
  Codebook codebook_;
  SearchOptions options_;
  std::vector<float> flat_;
  std::vector<int64_t> offsets_;
  test::TempDir dir_;
};

TEST_F(ShardedIndexTest, SearchesExactlyAsOneIndexOfAllImages) {
  const std::string manifest = write_shards({5, 9});
  EXPECT_TRUE(is_index_manifest(manifest));
  const Index index = whole();
  index.save(dir_.path("whole.mdai"));
  EXPECT_FALSE(is_index_manifest(dir_.path("whole.mdai")));
  for (int64_t topk : {0, 1, 3, 100}) {
    options_.topk = topk;
    const auto expected = index.search(batch(queries_), options_);
    const ShardedIndex sharded = ShardedIndex::open(manifest);
    EXPECT_EQ(sharded.size(), 14);
    EXPECT_EQ(sharded.held_shards(), 3);
    expect_same_hits(sharded.search(batch(queries_), options_), expected);
    // As the ranks of a job: each part searches its shards, the lists travel as bytes and merge.
    for (int parts : {2, 3, 4}) {
      std::vector<std::vector<std::vector<SearchHit>>> lists;
      for (int part = 0; part < parts; ++part) {
        const ShardedIndex mine = ShardedIndex::open(manifest, part, parts);
        lists.push_back(ShardedIndex::deserialize(
            ShardedIndex::serialize(mine.search(batch(queries_), options_))));
      }
      SCOPED_TRACE("topk " + std::to_string(topk) + ", parts " + std::to_string(parts));
      expect_same_hits(ShardedIndex::merge(lists, topk), expected);
    }
  }
}

TEST_F(ShardedIndexTest, PlannedShardsBuiltOneByOneSearchAsTheWholeIndex) {
  const std::string manifest_path = dir_.path("planned");
  const IndexManifest manifest = plan_index_shards(
      manifest_path, static_cast<int64_t>(database_.size()), codebook_.fingerprint, 3);
  ASSERT_EQ(manifest.shards.size(), 3u);
  EXPECT_EQ(manifest.shards[1].first, 4);  // 14 images: 4, 5, 5
  EXPECT_EQ(manifest.shards[2].images, 5);
  for (int shard = 0; shard < 3; ++shard)
    build_index_shard(manifest_path, manifest, shard, codebook_, {}, batch(database_), names_);
  write_index_manifest(manifest_path, manifest);
  options_.topk = 0;
  expect_same_hits(ShardedIndex::open(manifest_path).search(batch(queries_), options_),
                   whole().search(batch(queries_), options_));
  test::expect_error(
      [&] {
        build_index_shard(manifest_path, manifest, 3, codebook_, {}, batch(database_), names_);
      },
      {"no shard 3"});
}

TEST_F(ShardedIndexTest, IdfOverSeveralShardsIsRefusedNotSilentlyDifferent) {
  const ShardedIndex sharded = ShardedIndex::open(write_shards({5, 9}));
  options_.use_idf = true;
  test::expect_error([&] { sharded.search(batch(queries_), options_); },
                     {"use_idf", "3 shards", "--merge"});
}

TEST_F(ShardedIndexTest, MergedShardsAreTheFileOneProcessWrites) {
  const std::string manifest = write_shards({3, 4, 10});
  whole().save(dir_.path("whole.mdai"));
  merge_index_shards(manifest, dir_.path("merged.mdai"));
  EXPECT_EQ(read_file_bytes(dir_.path("merged.mdai")), read_file_bytes(dir_.path("whole.mdai")));
  test::expect_error([&] { merge_index_shards(manifest, manifest); }, {"index"});
}

// Index::open (and so LiveIndex and `mda serve`) takes a manifest for the one index of its
// shards: the same names and results as the merged file, and live additions over it survive a
// reopen.
TEST_F(ShardedIndexTest, AManifestOpensAsTheIndexOfAllItsShards) {
  const std::string manifest = write_shards({5, 9});
  const Index opened = Index::open(manifest);
  const Index index = whole();
  EXPECT_EQ(opened.names(), index.names());
  options_.topk = 0;
  expect_same_hits(opened.search(batch(queries_), options_),
                   index.search(batch(queries_), options_));
  {
    LiveIndex live(dir_.path("live"), manifest);
    EXPECT_EQ(live.index().size(), 14);
    live.add("extra", queries_[0]);
  }
  const LiveIndex reopened(dir_.path("live"), manifest);
  EXPECT_EQ(reopened.index().size(), 15);
  EXPECT_TRUE(reopened.index().contains("extra"));
  const std::vector<SearchHit> hits = reopened.index().search(queries_[0]);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].name, "extra");
}

TEST_F(ShardedIndexTest, AppendRefusesAnotherEncoding) {
  Index ma1(codebook_, IndexOptions{true, 1});
  Index ma2(codebook_, IndexOptions{true, 2});
  ma1.add({database_[0]}, {"a"});
  ma2.add({database_[1]}, {"b"});
  ma1.save(dir_.path("ma1"));
  ma2.save(dir_.path("ma2"));
  InvertedFile first = InvertedFile::load(dir_.path("ma1"));
  test::expect_error([&] { first.append(InvertedFile::load(dir_.path("ma2")), "ma2"); },
                     {"ma2", "multiple assignment 2", "multiple assignment 1"});
}

TEST_F(ShardedIndexTest, BadManifestsAndShardsAreErrorsNamingThem) {
  const std::string manifest = write_shards({5, 9});
  const std::string text = read_file_text(manifest);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = text;
    const size_t at = changed.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    changed.replace(at, from.size(), to);
    write_file_atomic(dir_.path("bad"), changed);
    return dir_.path("bad");
  };
  test::expect_error([&] { read_index_manifest(with("\"images\": 14", "\"images\": 15")); },
                     {"bad", "15"});
  test::expect_error([&] { read_index_manifest(with("\"first\": 5", "\"first\": 6")); },
                     {"bad", "shard 1", "start at 5"});
  test::expect_error([&] { read_index_manifest(with("mda-index-manifest", "other")); },
                     {"not an index manifest"});
  test::expect_error([&] { read_index_manifest(with("\"version\": 1", "\"version\": 9")); },
                     {"version 9"});
  test::expect_error(
      [&] {
        read_index_manifest(with("\"file\": \"index.shard-0", "\"file\": \"../x/index.shard-0"));
      },
      {"shards are files beside it"});
  // A shard file that does not hold what its entry says.
  std::filesystem::copy_file(dir_.path("index.shard-0-of-3"), dir_.path("index.shard-1-of-3"),
                             std::filesystem::copy_options::overwrite_existing);
  test::expect_error([&] { ShardedIndex::open(manifest); },
                     {"index.shard-1-of-3", "holds 5 images", "says 4"});
  std::filesystem::remove(dir_.path("index.shard-1-of-3"));
  test::expect_error([&] { ShardedIndex::open(manifest); }, {"index.shard-1-of-3"});
  // The part that does not hold that shard opens.
  EXPECT_EQ(ShardedIndex::open(manifest, 0, 2).held_shards(), 2);
}

TEST(ShardedIndexTransport, TruncatedOrAbsurdResultsAreErrorsNotAllocations) {
  const std::vector<std::vector<SearchHit>> hits = {{{"a", 3, 0.5f}, {"bb", 1, 0.25f}}, {}};
  const std::string bytes = ShardedIndex::serialize(hits);
  expect_same_hits(ShardedIndex::deserialize(bytes), hits);
  for (size_t cut = 0; cut < bytes.size(); ++cut)
    test::expect_error([&] { ShardedIndex::deserialize(bytes.substr(0, cut)); },
                       {"search results"});
  std::string absurd = bytes;
  absurd[7] = '\x7f';  // a query count near 2^63
  test::expect_error([&] { ShardedIndex::deserialize(absurd); }, {"queries"});
  test::expect_error([&] { ShardedIndex::deserialize(bytes + "x"); }, {"after the last"});
}

}  // namespace
}  // namespace mda
