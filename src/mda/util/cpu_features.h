// Instruction-set extensions the CPU offers, read once with CPUID (false on other architectures):
// they decide which kernels pay off (int8 products, bfloat16 convolutions).
#pragma once

namespace mda {

// AVX512_VNNI or AVX-VNNI: int8 dot products at about four times the float rate.
bool cpu_has_vnni();
// AVX512_BF16 or AMX-BF16: bfloat16 dot products in hardware (elsewhere oneDNN emulates them,
// slower than float).
bool cpu_has_bfloat16();

}  // namespace mda
