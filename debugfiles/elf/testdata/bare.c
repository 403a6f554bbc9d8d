/* Freestanding program for cross-compiled and 32-bit tests: no libc. */
__attribute__((noinline)) int bare_compute(int x) { return x * 7 + 3; }

void _start(void) {
	volatile int r = bare_compute(3);
	(void)r;
	for (;;)
		;
}
