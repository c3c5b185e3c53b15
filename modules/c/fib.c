/*
 * fib — a plain wasi:cli/command task: the unit of work of the orchestration benchmarks.
 *
 * Prints fib(N) for N from the task parameter `n` (the host passes it as TUTTI_PARAM_N), the
 * naive doubly recursive way on purpose: the benchmarks need CPU work of a known size, the same
 * work their peers do in plain JavaScript. Exits 1 with a message when `n` is missing or not in 0..90.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(void) {
  const char *s = getenv("TUTTI_PARAM_N");
  char *end;
  long n = s ? strtol(s, &end, 10) : -1;
  if (!s || *s == '\0' || *end != '\0' || n < 0 || n > 90) {
    fprintf(stderr, "fib: the parameter n must be an integer in 0..90, got %s\n", s ? s : "nothing");
    return 1;
  }
  printf("%llu\n", (unsigned long long)fib((unsigned)n));
  return 0;
}
