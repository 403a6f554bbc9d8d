#include "cutil.h"

static const int table[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};

static int rot(int v, int n) { return (v << n) | ((unsigned)v >> (32 - n)); }

int checksum(const char *s) {
  int h = 17;
  for (; *s; s++) h = rot(mixc(h, *s), 5);
  return h;
}

int table_lookup(int i) { return table[i & 15] + poly(i); }
