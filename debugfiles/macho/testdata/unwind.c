/* Functions of every shape compact unwind encodes: a leaf, small and large
 * frameless frames, frames saving general and floating-point registers, a
 * dynamic alloca (which defers to DWARF). Built with and without frame
 * pointers by compact_test.go. */
int g(int);
double h(double);
__attribute__((noinline)) int leaf(int x) { return x * 3; }
__attribute__((noinline)) int small(int a) { volatile int arr[8]; for (int i = 0; i < 8; i++) arr[i] = a + i; return arr[a & 7]; }
__attribute__((noinline)) int big(int a) { volatile char arr[5000]; for (int i = 0; i < 5000; i++) arr[i] = a + i; return arr[a % 5000]; }
__attribute__((noinline)) int calls(int a, int b, int c, int d, int e) { int x = g(a), y = g(b), z = g(c), w = g(d), v = g(e); return g(x + y) + g(z + w) + v + x * y * z; }
__attribute__((noinline)) double fp(double a, double b, double c) { double x = h(a), y = h(b), z = h(c); return h(x * y) + z * x + y; }
__attribute__((noinline)) int dyn(int n) { volatile char *p = __builtin_alloca(n); p[0] = 1; return g(p[n / 2]); }
int g(int x) { return x + 1; }
double h(double x) { return x * 2; }
int main(void) { return small(1) + big(2) + calls(1, 2, 3, 4, 5) + (int)fp(1, 2, 3) + dyn(10) + leaf(3); }
