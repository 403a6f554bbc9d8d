// Freestanding C++ with mangled names (no exceptions, no RTTI, no library).
namespace cairn {
struct Widget {
	int v;
	__attribute__((noinline)) int scale(int k) const { return v * k; }
};

__attribute__((noinline)) int frob(int x) {
	Widget w{x};
	return w.scale(3) + 1;
}
} // namespace cairn

extern "C" int names_entry(int x) { return cairn::frob(x); }
