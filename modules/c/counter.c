/*
 * counter — prints how many times main has run in this instance. Tutti gives every partition a
 * fresh instance, so it must always print 1: a test that instances share no state.
 */
#include <stdio.h>

static int calls;

int main(void) {
  printf("%d\n", ++calls);
  return 0;
}
