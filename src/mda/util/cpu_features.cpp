#include "mda/util/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

namespace mda {
namespace {

struct Features {
  bool vnni = false, bfloat16 = false;
};

Features read_features() {
  Features f;
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  // Leaf 7, sub-leaf 0: ECX bit 11 AVX512_VNNI, EDX bit 22 AMX-BF16.
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.vnni = (c >> 11) & 1;
    f.bfloat16 = (d >> 22) & 1;
  }
  // Sub-leaf 1: EAX bit 4 AVX-VNNI, bit 5 AVX512_BF16.
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.vnni = f.vnni || ((a >> 4) & 1);
    f.bfloat16 = f.bfloat16 || ((a >> 5) & 1);
  }
#endif
  return f;
}

const Features& features() {
  static const Features f = read_features();
  return f;
}

}  // namespace

bool cpu_has_vnni() { return features().vnni; }
bool cpu_has_bfloat16() { return features().bfloat16; }

}  // namespace mda
