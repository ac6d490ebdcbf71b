#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "mda/image/codec.h"
#include "mda/image/image_stream.h"
#include "mda/image/transform.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

Image gradient(int w, int h) {
  Image image(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      image.at(x, y, 0) = static_cast<uint8_t>(x * 255 / std::max(1, w - 1));
      image.at(x, y, 1) = static_cast<uint8_t>(y * 255 / std::max(1, h - 1));
      image.at(x, y, 2) = static_cast<uint8_t>((x + y) % 256);
    }
  }
  return image;
}

// A 24-bit bottom-up BMP, rows padded to 4 bytes, written by hand.
std::vector<uint8_t> make_bmp(const Image& image) {
  const int stride = (image.width * 3 + 3) / 4 * 4;
  const uint32_t data_size = static_cast<uint32_t>(stride * image.height);
  std::vector<uint8_t> b(54 + data_size, 0);
  const auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
  };
  b[0] = 'B';
  b[1] = 'M';
  put32(2, static_cast<uint32_t>(b.size()));
  put32(10, 54);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(image.width));
  put32(22, static_cast<uint32_t>(image.height));
  b[26] = 1;
  b[28] = 24;
  put32(34, data_size);
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = &b[54 + static_cast<size_t>((image.height - 1 - y) * stride)];
    for (int x = 0; x < image.width; ++x) {
      row[x * 3 + 0] = image.at(x, y, 2);
      row[x * 3 + 1] = image.at(x, y, 1);
      row[x * 3 + 2] = image.at(x, y, 0);
    }
  }
  return b;
}

class Codec : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!image_codecs_available())
      GTEST_SKIP() << "SKIPPED: built without stb (image decoding off)";
  }
  test::TempDir dir_;
};

TEST_F(Codec, PngRoundTripIsExactAndJpegIsClose) {
  const Image image = gradient(37, 23);
  write_image(dir_.path("a.png"), image);
  const Image png = read_image(dir_.path("a.png"));
  EXPECT_EQ(png.width, 37);
  EXPECT_EQ(png.height, 23);
  EXPECT_EQ(png.pixels, image.pixels);

  write_image(dir_.path("a.jpg"), image, 95);
  const Image jpg = read_image(dir_.path("a.jpg"));
  ASSERT_EQ(jpg.pixels.size(), image.pixels.size());
  double error = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i)
    error += std::abs(jpg.pixels[i] - image.pixels[i]);
  EXPECT_LT(error / image.pixels.size(), 4.0);
}

TEST_F(Codec, DecodesBmpAndGreyPng) {
  const Image image = gradient(5, 3);  // odd width exercises row padding
  const Image bmp = decode_image(make_bmp(image), "hand.bmp");
  EXPECT_EQ(bmp.pixels, image.pixels);
}

// The PNG variants a user's files come in, written by tests/make_test_images.py with known pixels:
// the conversions to 8-bit RGB are those of stb and PIL (grey copied, 16 bits to the high byte,
// palettes expanded, alpha dropped rather than composited).
TEST_F(Codec, PngVariantsDecodeToTheirKnownPixels) {
  MDA_SKIP_WITHOUT_NUMPY();
  const auto make = [&](const std::string& kind) {
    const std::string path = dir_.path(kind + ".png");
    EXPECT_EQ(test::run_python(std::string(MDA_SOURCE_DIR) + "/tests/make_test_images.py",
                               kind + " " + path),
              0);
    return read_image(path);
  };
  const Image grey = make("grey");
  EXPECT_EQ(grey.width, 16);
  EXPECT_EQ(grey.height, 8);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(grey.at(3, 2, c), 48);

  const Image rgb16 = make("rgb16");
  ASSERT_EQ(rgb16.width, 4);
  ASSERT_EQ(rgb16.height, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb16.at(x, y, c), 40 * x + 10 * y + c);

  const Image grey_alpha = make("grey_alpha");
  for (int x = 0; x < 4; ++x)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(grey_alpha.at(x, 1, c), 50 * x);

  const Image palette = make("palette");
  const std::vector<uint8_t> expected = {255, 0, 0,   0, 255, 0, 0,   0, 255,
                                         0,   0, 255, 0, 255, 0, 255, 0, 0};
  EXPECT_EQ(palette.pixels, expected);
}

// A few bytes announcing 30000 x 30000 pixels (2.7 GB of RGB) are refused from the header; the
// same holds for a JPEG whose frame header is edited, and for any limit the caller sets.
TEST_F(Codec, DecompressionBombsAreRefusedBeforeDecoding) {
  MDA_SKIP_WITHOUT_NUMPY();
  const std::string bomb = dir_.path("bomb.png");
  ASSERT_EQ(
      test::run_python(std::string(MDA_SOURCE_DIR) + "/tests/make_test_images.py", "bomb " + bomb),
      0);
  EXPECT_LT(read_file_bytes(bomb).size(), 200u);
  test::expect_error([&] { read_image(bomb); },
                     {"bomb.png", "30000x30000", "refused before decoding"});

  std::vector<uint8_t> jpeg = encode_image(gradient(16, 8), "jpg");
  bool edited = false;
  for (size_t i = 2; i + 9 < jpeg.size() && !edited; ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {  // baseline start-of-frame: height, width
      jpeg[i + 5] = jpeg[i + 7] = 0x75;            // 0x7530 = 30000
      jpeg[i + 6] = jpeg[i + 8] = 0x30;
      edited = true;
    }
  }
  ASSERT_TRUE(edited);
  test::expect_error([&] { decode_image(jpeg, "bomb.jpg"); },
                     {"bomb.jpg", "30000x30000", "refused before decoding"});

  const std::vector<uint8_t> png = encode_image(gradient(100, 100), "png");
  EXPECT_EQ(decode_image(png, "ok.png", DecodeLimits{10000}).width, 100);
  test::expect_error([&] { decode_image(png, "big.png", DecodeLimits{9999}); },
                     {"big.png", "100x100", "9999"});
}

// Decoded by libjpeg-turbo, a JPEG gives exactly the pixels PIL gives (the Python stacks decode
// with the same library); an Adobe CMYK JPEG comes out in its colours.
TEST_F(Codec, JpegMatchesPilExactlyAndCmykIsConverted) {
  MDA_SKIP_WITHOUT_NUMPY();
  if (image_decoders().find("libjpeg-turbo") == std::string::npos)
    GTEST_SKIP() << "SKIPPED: built without libjpeg-turbo (" << image_decoders() << ")";
  const std::string script = std::string(MDA_SOURCE_DIR) + "/tests/make_test_images.py";
  const std::string cmyk = dir_.path("cmyk.jpg");
  if (test::run_python(script, "cmyk " + cmyk) != 0) GTEST_SKIP() << "SKIPPED: no PIL";
  const Image decoded = read_image(cmyk);
  ASSERT_EQ(decoded.width, 16);
  EXPECT_NEAR(decoded.at(2, 2, 0), 255, 2);  // red
  EXPECT_NEAR(decoded.at(2, 2, 1), 0, 2);
  EXPECT_NEAR(decoded.at(2, 2, 2), 0, 2);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(decoded.at(13, 5, c), 0, 2);  // black

  for (const int quality : {95, 60}) {  // 4:2:0 chroma, upsampled as PIL does
    write_image(dir_.path("photo.jpg"), gradient(61, 37), quality);
    ASSERT_EQ(test::run_python(script,
                               "pil_rgb " + dir_.path("photo.jpg") + " " + dir_.path("photo.rgb")),
              0);
    EXPECT_EQ(read_image(dir_.path("photo.jpg")).pixels, read_file_bytes(dir_.path("photo.rgb")))
        << "quality " << quality;
  }
}

TEST_F(Codec, CorruptTruncatedAndUnsupportedFilesNameTheFile) {
  const Image image = gradient(64, 48);
  write_image(dir_.path("a.jpg"), image);
  write_image(dir_.path("a.png"), image);
  for (const char* name : {"a.jpg", "a.png"}) {
    const std::vector<uint8_t> bytes = read_file_bytes(dir_.path(name));
    const std::vector<uint8_t> cut(
        bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * 2 / 3));
    test::expect_error([&] { decode_image(cut, std::string("cut_") + name); },
                       {std::string("cut_") + name, "truncated"});
  }
  std::vector<uint8_t> bmp = make_bmp(image);
  bmp.resize(bmp.size() - 100);
  test::expect_error([&] { decode_image(bmp, "cut.bmp"); }, {"cut.bmp", "truncated BMP"});
  const std::string gif = "GIF89a....";
  test::expect_error([&] { decode_image(std::vector<uint8_t>(gif.begin(), gif.end()), "x.gif"); },
                     {"x.gif", "unsupported image format"});
  test::expect_error([&] { decode_image({}, "empty.jpg"); }, {"empty.jpg", "empty"});
  test::expect_error([&] { read_image(dir_.path("missing.jpg")); }, {"missing.jpg"});
  // A JPEG whose scan data is garbage but whose markers look complete.
  std::vector<uint8_t> bytes = read_file_bytes(dir_.path("a.jpg"));
  for (size_t i = 0; i < 40 && i < bytes.size(); ++i) bytes[i + 2] = 0x00;
  test::expect_error([&] { decode_image(bytes, "garbage.jpg"); }, {"garbage.jpg"});
}

// Inputs found by fuzz/: two that made stb's JPEG decoder write out of bounds, a PNG whose
// announced width times height overflowed 64 bits, and a 57-byte BMP with an unknown compression
// announcing 1.5M rows, which stb allocated and looped over. An error or a picture, never a crash
// (the fuzz build replays them under AddressSanitizer and UBSan).
TEST_F(Codec, FuzzFoundImagesAreErrorsOrPictures) {
  test::expect_error(
      [&] {
        read_image(std::string(MDA_SOURCE_DIR) + "/fuzz/regressions/png_size_product_overflow.png");
      },
      {"png_size_product_overflow.png", "3722304989x3722304989", "refused before decoding"});
  test::expect_error(
      [&] {
        read_image(std::string(MDA_SOURCE_DIR) +
                   "/fuzz/regressions/bmp_unknown_compression_huge_height.bmp");
      },
      {"bmp_unknown_compression_huge_height.bmp", "unsupported BMP compression"});
  for (const char* name : {"stb_jpeg_huffman_overflow.jpg", "stb_jpeg_huffman_overflow_2.jpg"}) {
    const std::string path = std::string(MDA_SOURCE_DIR) + "/fuzz/regressions/" + name;
    try {
      const Image image = read_image(path);
      EXPECT_FALSE(image.empty()) << name;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  }
}

TEST_F(Codec, DecodesTheSharedCatBmp) {
  MDA_SKIP_WITHOUT_SHARED_DATA();
  const Image cat = read_image(test::shared_data() + "/weights/coral/cat.bmp");
  EXPECT_EQ(cat.width, 512);
  EXPECT_EQ(cat.height, 341);
}

TEST(Transform, ResizeKeepsConstantsAndShrinksWithoutAliasing) {
  Image flat(40, 30);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t{77});
  const Image small = resize(flat, 7, 5);
  for (uint8_t p : small.pixels) EXPECT_EQ(p, 77);

  // A one-pixel checkerboard shrunk by 4 must come out near grey (plain bilinear would alias).
  Image board(64, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) board.at(x, y, c) = ((x + y) % 2) ? 255 : 0;
  const Image shrunk = resize(board, 16, 16);
  for (int y = 1; y < 15; ++y)
    for (int x = 1; x < 15; ++x) EXPECT_NEAR(shrunk.at(x, y, 0), 127.5, 8) << x << "," << y;
}

TEST(Transform, MaxSideNeverUpscalesUnlessAsked) {
  const Image image = gradient(640, 480);
  const Image same = resize_max_side(image, 1024);
  EXPECT_EQ(same.width, 640);
  const Image smaller = resize_max_side(image, 320);
  EXPECT_EQ(smaller.width, 320);
  EXPECT_EQ(smaller.height, 240);
  const Image larger = resize_max_side(image, 1280, true);
  EXPECT_EQ(larger.width, 1280);
  EXPECT_EQ(larger.height, 960);
  test::expect_error([&] { resize_max_side(image, 0); }, {"image_size"});
}

TEST(Transform, CropRoundsHalfToEvenLikePil) {
  const Image image = gradient(10, 10);
  // round(0.4) = 0, round(0.6) = 1, round(2.5) = 2, round(3.5) = 4.
  const Image c = crop(image, {0.4, 0.6, 2.5, 3.5});
  EXPECT_EQ(c.width, 2);
  EXPECT_EQ(c.height, 3);
  EXPECT_EQ(c.at(1, 0, 0), image.at(1, 1, 0));
  EXPECT_EQ(c.at(0, 2, 1), image.at(0, 3, 1));
  test::expect_error([&] { crop(image, {5, 5, 5, 8}); }, {"empty"});
  const Image clipped = crop(image, {-3, -3, 20, 4});
  EXPECT_EQ(clipped.width, 10);
  EXPECT_EQ(clipped.height, 4);
}

TEST(Transform, NormalisationIsPlanarImagenet) {
  Image image(2, 1);
  image.at(0, 0, 0) = 255;
  image.at(1, 0, 2) = 0;
  const FloatImage f = to_normalized_float(image);
  ASSERT_EQ(f.data.size(), 6u);
  EXPECT_NEAR(f.data[0], (1.0 - 0.485) / 0.229, 1e-5);  // R of pixel 0
  EXPECT_NEAR(f.data[1], (0.0 - 0.485) / 0.229, 1e-5);  // R of pixel 1
  EXPECT_NEAR(f.data[5], (0.0 - 0.406) / 0.225, 1e-5);  // B of pixel 1
}

}  // namespace
}  // namespace mda

namespace mda {
namespace {

TEST(ImageStream, FailPolicyNamesTheFileAndSkipPolicyGoesOn) {
  if (!image_codecs_available()) GTEST_SKIP() << "SKIPPED: built without stb (image decoding off)";
  test::TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 6; ++i) {
    paths.push_back(dir.path("img" + std::to_string(i) + ".png"));
    write_image(paths.back(), gradient(8 + i, 8));
  }
  write_file_atomic(paths[2], "not an image");
  paths[4] = dir.path("missing.jpg");

  ImageStreamOptions options;
  options.threads = 3;
  test::expect_error([&] { for_each_image(paths, options, [](size_t, const Image&) {}); },
                     {"img2.png", "unsupported image format"});

  options.on_bad_image = BadImagePolicy::kSkip;
  std::vector<size_t> seen;
  const std::vector<size_t> skipped = for_each_image(
      paths, options,
      [&](size_t i, const Image& image) {
        seen.push_back(i);
        EXPECT_EQ(image.width, 4);  // prepare ran on the decoding thread
      },
      [](size_t, Image image) {
        return crop(image, {0, 0, 4, 4});
      });
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 3, 5}));
  EXPECT_EQ(skipped, (std::vector<size_t>{2, 4}));
  test::expect_error([] { parse_bad_image_policy("ignore"); }, {"'ignore'"});
}

}  // namespace
}  // namespace mda
