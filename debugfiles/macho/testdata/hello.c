/* Freestanding C (there is no macOS SDK here): a few functions with a static
 * helper, an inlined function and a zero-fill global, compiled for every
 * Apple architecture clang can target. */
static int counter;

__attribute__((noinline)) static int helper(int x) {
	counter += x;
	return counter * 3;
}

__attribute__((noinline)) int add(int a, int b) { return helper(a) + b; }

static inline int twice(int v) { return v * 2; }

int compute(int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += twice(add(i, n));
	return s;
}

int names_entry(int);

int main(void) { return (compute(7) + names_entry(3)) & 0x7f; }
