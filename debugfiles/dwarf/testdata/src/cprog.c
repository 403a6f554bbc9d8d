#include <stdio.h>
#include <stdlib.h>

#include "cutil.h"

static int ackermann(int m, int n) {
  if (m == 0) return n + 1;
  if (n == 0) return ackermann(m - 1, 1);
  return ackermann(m - 1, ackermann(m, n - 1));
}

static int collatz(long n) {
  int steps = 0;
  while (n != 1) {
    n = (n & 1) ? 3 * n + 1 : n / 2;
    steps++;
  }
  return steps;
}

typedef int (*op_fn)(int);
static int op_sq(int x) { return sq(x); }
static int op_poly(int x) { return poly(x); }
static int op_tab(int x) { return table_lookup(x); }

static int dispatch(int which, int x) {
  static const op_fn ops[] = {op_sq, op_poly, op_tab};
  switch (which % 4) {
    case 0: return ops[0](x);
    case 1: return ops[1](x) + mixc(x, which);
    case 2: return ops[2](x);
    default: return collatz(x + 7);
  }
}

int main(int argc, char **argv) {
  int acc = 0;
  for (int i = 0; i < argc * 20; i++) acc += dispatch(i, acc & 0xff);
  acc += ackermann(2, argc);
  acc += checksum(argv[0]);
  if (argc > 50) {
    fprintf(stderr, "too many\n");
    exit(2);
  }
  printf("%d\n", acc);
  return 0;
}
