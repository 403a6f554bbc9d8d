#include "util.h"

extern "C" int *volatile crash_target = 0;

// Freestanding: the virtual destructors' deleting variants need these.
void operator delete(void *) noexcept {}
void operator delete(void *, decltype(sizeof 0)) noexcept {}
extern "C" void _purecall() {}
extern "C" void *memset(void *dst, int c, decltype(sizeof 0) n) {
  // volatile keeps the loop from being turned back into a memset call.
  volatile unsigned char *p = (volatile unsigned char *)dst;
  while (n--)
    *p++ = (unsigned char)c;
  return dst;
}

static void store(int v) {
  if (v > 1000)
    *crash_target = v;
}

template <int Depth> struct Recur {
  static NOINLINE int go(int x) { return Recur<Depth - 1>::go(x * 3 + 1) + Depth; }
};
template <> struct Recur<0> {
  static NOINLINE int go(int x) { return x; }
};

static int checksum(const unsigned *p, int n) {
  unsigned h = util::mix_all(2166136261u, p, n);
  return util::clamp((int)(h & 0x7fff), 10, 30000);
}

extern "C" int main() {
  shapes::Rect r(3, 4);
  shapes::Square sq(5);
  shapes::Shape *all[2] = {&r, &sq};
  unsigned data[4] = {1, 2, 3, 4};
  int v = shapes::total(all, 2) + checksum(data, 4) + run_ring(7) + Recur<5>::go(2);
  store(v);
  return v & 0x7f;
}
