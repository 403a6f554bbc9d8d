#include "util.h"

namespace shapes {

int Rect::area() const { return util::clamp(w * h, 0, 1 << 20); }

int Square::area() const {
  unsigned parts[2] = {(unsigned)w, (unsigned)h};
  return (int)(util::mix_all(2166136261u, parts, 2) & 0xff) + Rect::area();
}

NOINLINE int total(Shape **s, int n) {
  int t = 0;
  for (int i = 0; i < n; i++)
    t += s[i]->scaled(i + 1);
  return t;
}

} // namespace shapes

namespace {
NOINLINE int local_helper(int v) {
  util::Ring<int, 4> r = {};
  for (int i = 0; i < v; i++)
    r.push(util::mix(i, v));
  return r.sum();
}
} // namespace

int run_ring(int seed) {
  auto f = [seed](int x) { return local_helper(x + seed) ^ util::clamp(x, 1, 9); };
  int acc = 0;
  for (int i = 0; i < 8; i++)
    acc += f(i);
  return acc;
}
