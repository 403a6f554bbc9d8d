/* Shared library for package elf's tests. */
__attribute__((noinline)) static int lib_helper(int x) { return x ^ 0x5a; }

__attribute__((noinline)) int lib_compute(int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += lib_helper(i);
	return s;
}

int lib_entry(int n) { return lib_compute(n) + 1; }
