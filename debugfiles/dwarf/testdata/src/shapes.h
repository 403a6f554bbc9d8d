// Shapes for the C++ oracle program: classes in namespaces, virtual
// functions, templates and inline functions used from two files, so that
// inlining crosses files.
#pragma once
#include <string>
#include <vector>

namespace geo {

struct Point {
  int x, y;
  Point(int a, int b) : x(a), y(b) {}
};

class Shape {
 public:
  explicit Shape(std::string n) : name_(std::move(n)) {}
  virtual ~Shape() = default;
  virtual long area() const = 0;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

template <typename T>
inline T clampv(T v, T lo, T hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

inline int mix(int a, int b) { return (a * 31) ^ (b + 7); }

__attribute__((always_inline)) inline int deep3(int x) { return mix(x, 3) + clampv(x, -9, 9); }
__attribute__((always_inline)) inline int deep2(int x) { return deep3(x * 2) + mix(x, 2); }
__attribute__((always_inline)) inline int deep1(int x) { return deep2(x + 1) ^ deep3(x); }

long total_area(const std::vector<Shape*>& shapes);
int scramble(int seed);

}  // namespace geo
