#include "shapes.h"

namespace geo {
namespace {

struct Rect : Shape {
  Rect(int w, int h) : Shape("rect"), w_(w), h_(h) {}
  long area() const override { return long(clampv(w_, 0, 1000)) * clampv(h_, 0, 1000); }
  int w_, h_;
};

}  // namespace

static long fold(long acc, const Shape* s) { return acc + s->area() + mix(int(acc), 3); }

long total_area(const std::vector<Shape*>& shapes) {
  long acc = 0;
  for (auto* s : shapes) acc = fold(acc, s);
  Rect r(3, 4);
  return acc + r.area() + deep1(int(acc));
}

int scramble(int seed) {
  int v = seed;
  for (int i = 0; i < 16; i++) v = deep1(v) + mix(v, i);
  return v;
}

}  // namespace geo
