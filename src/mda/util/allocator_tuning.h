// Keeps the memory of large freed tensors in the process for the next one (glibc only).
//
// glibc serves every allocation above its mmap threshold (dynamic, at most 32 MB) with a fresh
// mmap and unmaps it on free, and trims the heap's free top back to the kernel. A network's
// activations are exactly such blocks, freed and allocated again at every layer and image: every
// page of them is then faulted in and zeroed by the kernel again. On the 2-core AMD EPYC, a
// MobileNetV1 extraction of 48 images (640 px, 3 scales) made 279,000 minor page faults and took
// 5.95 s; with large blocks kept, 64,000 and 4.43 s (1.34x); with 4 images per batch, 2.0 million
// faults and 17.2 s against 4.51 s. The price: the process keeps its peak memory.
#pragma once

#include <string>

namespace mda {

// Raises glibc's mmap and trim thresholds so that freed blocks are reused, unless the user set
// glibc's malloc tunables (GLIBC_TUNABLES, MALLOC_*_) himself. Call once, at the start of a
// program: it changes the whole process's allocator (so the Python module does not call it).
void keep_freed_memory_for_reuse();
// What keep_freed_memory_for_reuse did (for --verbose); empty when it was not called.
const std::string& allocator_tuning();

}  // namespace mda
