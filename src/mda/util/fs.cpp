#include "mda/util/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "mda/util/error.h"

namespace mda {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '", path, "': ", std::strerror(errno));
  std::error_code ec;
  const auto size = std::filesystem::is_regular_file(path, ec)
                        ? std::filesystem::file_size(path, ec)
                        : static_cast<uintmax_t>(-1);
  if (ec || size == static_cast<uintmax_t>(-1)) {  // a pipe or device: read what comes
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>());
  }
  // One read of the known size (an iterator copy ran a byte at a time).
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(in.gcount()) != bytes.size())
    fail("cannot read '", path, "': ", bytes.size(), " bytes expected, ", in.gcount(), " read");
  return bytes;
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '", path, "': ", std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

void make_dirs(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) fail("cannot create folder '", path, "': ", ec.message());
}

std::string parent_dir(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

std::string join_path(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return (std::filesystem::path(folder) / name).string();
}

void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string folder = parent_dir(path);
  if (!folder.empty()) make_dirs(folder);
  const std::string temporary = cat(path, ".tmp.", ::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot open '", temporary, "' for writing: ", std::strerror(errno));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(temporary.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      fail("write to '", temporary, "' failed (disk full?)");
    }
  }
  // fsync so that the rename never exposes a file whose data is still only in the page cache.
  const int fd = ::open(temporary.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    fail("cannot rename '", temporary, "' to '", path, "': ", reason);
  }
  sync_folder(folder);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(content.data(), content.size()); });
}

}  // namespace mda

namespace mda {

void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path out = fs::weakly_canonical(fs::absolute(output), error);
  for (const std::string& input : inputs) {
    if (input.empty()) continue;
    std::error_code input_error;
    const fs::path in = fs::weakly_canonical(fs::absolute(input), input_error);
    bool same = !error && !input_error && out == in;
    if (!same && fs::exists(output, error) && fs::exists(input, input_error))
      same = fs::equivalent(output, input, input_error);
    if (same) fail("the output ", output, " is an input (", input, "); write it elsewhere");
  }
}

}  // namespace mda
