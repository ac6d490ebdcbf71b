// Nearest-centroid search with libtorch: "torch-cpu" and "cuda" backends of asmk/point_assigner.h.
// The points are copied to the device once; each assignment uploads the centroids and computes
// ||c||^2 - 2 x.c in blocks of at most 1 GiB of distances. Ties may go to either index on CUDA.
#pragma once

namespace mda {

// Registers both backends (idempotent). "cuda" fails with a clear error where no GPU is visible.
void register_torch_point_assigners();

}  // namespace mda
