// File helpers: whole-file reads with clear errors and crash-safe (atomic) writes.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace mda {

std::vector<uint8_t> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);
bool file_exists(const std::string& path);
// Creates the folder and its parents; no error when it exists.
void make_dirs(const std::string& path);
std::string parent_dir(const std::string& path);
std::string join_path(const std::string& folder, const std::string& name);

// Flushes a folder's entries (files created, renamed or removed in it) to disk; best effort.
void sync_folder(const std::string& folder);

// Writes through `write` into a temporary file beside `path`, flushes it to disk and renames it
// over `path`, so a crash leaves either the old file or the complete new one, never half of it;
// the folder is flushed after the rename, so the new file survives a power cut too.
// Refuses to write `output` when it is one of `inputs` (the same file by path or, where both exist,
// by identity): an error naming both, so that no command overwrites what it reads.
void refuse_output_over_input(const std::string& output, const std::vector<std::string>& inputs);

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace mda
