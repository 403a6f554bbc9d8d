/* Test program for package elf: a few functions with distinct addresses,
   one static, one exported, built in several variants by the tests. */
#include <stdio.h>

__attribute__((noinline)) static int helper(int x) { return x * 3 + 1; }

__attribute__((noinline)) int compute(int n) {
	int s = 0;
	for (int i = 0; i < n; i++)
		s += helper(i);
	return s;
}

int main(int argc, char **argv) {
	(void)argv;
	printf("%d\n", compute(argc));
	return 0;
}
