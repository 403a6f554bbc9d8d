/* Helpers for the C oracle program: static inline functions that nest. */
#ifndef CUTIL_H
#define CUTIL_H

static inline int sq(int x) { return x * x; }
static inline int poly(int x) { return sq(x) + 3 * x + 1; }
static inline int mixc(int a, int b) { return poly(a) ^ (b << 3); }

int checksum(const char *s);
int table_lookup(int i);

#endif
