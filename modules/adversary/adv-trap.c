/*
 * adv-trap — sandbox test: traps.
 *   MODE=div   integer division by a volatile zero (i32.div_s traps: "integer divide by zero")
 *   otherwise  __builtin_trap() (the `unreachable` instruction)
 * Prints "adv-trap: mode=div" or "adv-trap: mode=unreachable" to stderr first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  const char *mode = getenv("MODE");
  if (mode != NULL && strcmp(mode, "div") == 0) {
    volatile int zero = 0, one = 1;
    fprintf(stderr, "adv-trap: mode=div\n");
    int r = one / zero;
    printf("not trapped: %d\n", r);
    return 0;
  }
  fprintf(stderr, "adv-trap: mode=unreachable\n");
  __builtin_trap();
}
