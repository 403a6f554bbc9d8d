/*
 * Functions of many frame shapes for the ARM64 unwind-row oracle test
 * (rows_aarch64_test.go), built freestanding for aarch64-pc-windows-msvc
 * by clang-14 at several optimization levels and linked by lld-link-14:
 * leaf and non-leaf functions, integer and floating-point callee-saved
 * registers, variadic functions (homed parameters), variable-length
 * arrays (sp restored from x29), frames past 4 KiB and 1 MiB (several
 * allocations), several returns (several epilogs) and tail calls.
 * Without a CRT: -mno-stack-arg-probe keeps __chkstk out and memset is
 * defined here. The image is for reading, not running.
 */
#include <stdarg.h>

void *memset(void *d, int c, unsigned long long n) {
	volatile unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

__declspec(noinline) int sink(int *p, int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += p[i] * (i + 1);
	return s;
}

__declspec(noinline) double dsink(double *p, int n) {
	double s = 0;
	for (int i = 0; i < n; i++)
		s += p[i];
	return s;
}

int leaf(int a, int b) { return a * b + (a ^ b); }

int variadic(int n, ...) {
	va_list ap;
	va_start(ap, n);
	int s = 0;
	for (int i = 0; i < n; i++)
		s += va_arg(ap, int);
	va_end(ap);
	return s;
}

int variadic_call(const char *f, ...) {
	va_list ap;
	va_start(ap, f);
	int s = sink((int *)ap, f[0]);
	va_end(ap);
	return s;
}

int vla(int n) {
	int a[n];
	for (int i = 0; i < n; i++)
		a[i] = i;
	return sink(a, n);
}

int vla_saves(int n, int m) {
	int a[n], x = n * m, y = n + m, z = n - m;
	for (int i = 0; i < n; i++)
		a[i] = i * x;
	return sink(a, n) + x + y + z + sink(a, m);
}

int frame_8k(int n) {
	int a[2048];
	memset(a, 0, sizeof a);
	a[n & 2047] = n;
	return sink(a, 2048);
}

int frame_1m(int n) {
	int a[300000];
	memset(a, 0, 4096);
	a[n & 1023] = n;
	return sink(a, 1024);
}

double floats(double x, double y, int n) {
	double a = x * 2, b = y * 3, c = x + y, d = x - y, e = x * y, f = x / (y + 1);
	double buf[4] = {a, b, c, d};
	double r = dsink(buf, n);
	return a + b + c + d + e + f + r + dsink(buf, 2) * e;
}

int many_saves(int a, int b, int c, int d, int e) {
	int p = a * 3, q = b * 5, r = c * 7, s = d * 11, t = e * 13, u = a + e, v = b + d, w = c + a, x = d + e, y = e - a;
	int buf[8] = {a, b, c, d, e, p, q, r};
	int z = sink(buf, 8);
	z += sink(buf, a & 7);
	return p + q + r + s + t + u + v + w + x + y + z;
}

int returns(int n) {
	int buf[4] = {n, n + 1, n + 2, n + 3};
	if (n < 0)
		return sink(buf, 1) + 1;
	if (n == 3)
		return 7;
	if (n > 100) {
		int s = sink(buf, 4);
		return s * 2;
	}
	return sink(buf, 2) + n;
}

int tail(int n) {
	if (n > 5)
		return leaf(n, n + 1);
	int buf[2] = {n, n};
	return sink(buf, 2) + leaf(n, 2);
}

int recurse(int n) {
	if (n <= 1)
		return 1;
	return n * recurse(n - 1) + recurse(n - 2);
}

int entry(void) {
	double d = floats(1.5, 2.5, 3);
	return variadic(3, 1, 2, 3) + variadic_call("\3", 4, 5, 6) + vla(10) + vla_saves(5, 3) + frame_8k(7) + frame_1m(9) + (int)d +
	       many_saves(1, 2, 3, 4, 5) + returns(2) + returns(200) + tail(3) + recurse(6) + leaf(2, 3);
}
