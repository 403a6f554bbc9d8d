#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "shapes.h"

namespace geo {
struct Circle : Shape {
  explicit Circle(int r) : Shape("circle"), r_(r) {}
  long area() const override { return 3L * r_ * r_; }
  int r_;
};
}  // namespace geo

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int even(int n);
static int odd(int n) { return n == 0 ? 0 : even(n - 1); }
static int even(int n) { return n == 0 ? 1 : odd(n - 1); }

template <int N>
struct Unroll {
  static int run(int x) { return Unroll<N - 1>::run(geo::mix(x, N)); }
};
template <>
struct Unroll<0> {
  static int run(int x) { return x; }
};

template <typename F>
int apply_all(const std::vector<int>& v, F f) {
  int acc = 0;
  for (int x : v) acc += f(x);
  return acc;
}

__attribute__((noinline)) int hot(int argc) {
  int acc = 0;
  for (int i = 0; i < argc * 10; i++) acc += geo::clampv(i * argc, 1, 50);
  if (__builtin_expect(argc > 100, 0)) {
    std::fprintf(stderr, "rare %d\n", acc);
    std::abort();
  }
  return acc;
}

int main(int argc, char** argv) {
  std::vector<geo::Shape*> v;
  for (int i = 0; i < argc + 2; i++) v.push_back(new geo::Circle(i));
  auto cmp = [](geo::Shape* a, geo::Shape* b) { return a->area() > b->area(); };
  std::sort(v.begin(), v.end(), cmp);
  std::map<int, int> counts;
  for (int i = 0; i < argc * 7; i++) counts[geo::deep1(i) % 5]++;
  int k = argc;
  std::vector<int> xs{1, 2, 3, argc};
  int lam = apply_all(xs, [k](int x) { return geo::deep2(x * k); });
  std::function<int(int)> fn = [&](int x) { return geo::scramble(x) + lam; };
  long t = geo::total_area(v) + fib(argc + 5) + Unroll<4>::run(argc) + hot(argc) + fn(argc) + even(argc * 3) + long(counts.size());
  std::printf("%ld %s\n", t, v[0]->name().c_str());
  for (auto* s : v) delete s;
  return 0;
}
