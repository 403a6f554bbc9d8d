// Helpers inlined into both translation units: nested always_inline
// functions, a namespace-scope template and a class template, so inline
// chains cross files and carry LF_FUNC_ID scopes and LF_MFUNC_ID classes.
#ifndef PDBTEST_UTIL_H
#define PDBTEST_UTIL_H

#define ALWAYS_INLINE __attribute__((always_inline)) inline
#define NOINLINE __attribute__((noinline))

namespace util {

ALWAYS_INLINE unsigned mix(unsigned h, unsigned v) {
  h ^= v;
  h *= 16777619u;
  return h;
}

ALWAYS_INLINE unsigned mix_all(unsigned h, const unsigned *p, int n) {
  for (int i = 0; i < n; i++)
    h = mix(h, p[i]);
  return h;
}

template <typename T> ALWAYS_INLINE T clamp(T v, T lo, T hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

template <typename T, int N> struct Ring {
  T items[N];
  int head;
  ALWAYS_INLINE void push(T v) {
    items[head] = v;
    head = (head + 1) % N;
  }
  ALWAYS_INLINE T sum() const {
    T s = 0;
    for (int i = 0; i < N; i++)
      s += items[i];
    return s;
  }
};

namespace detail {
ALWAYS_INLINE int twice(int x) { return x + x; }
} // namespace detail

} // namespace util

extern "C" int *volatile crash_target;

namespace shapes {
struct Shape {
  virtual ~Shape() {}
  virtual int area() const = 0;
  ALWAYS_INLINE int scaled(int k) const { return util::detail::twice(area()) * k; }
};
struct Rect : Shape {
  int w, h;
  Rect(int w, int h) : w(w), h(h) {}
  int area() const override;
};
struct Square : Rect {
  explicit Square(int s) : Rect(s, s) {}
  int area() const override;
};
int total(Shape **s, int n);
} // namespace shapes

int run_ring(int seed);

#endif
