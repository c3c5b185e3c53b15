/* __NAME__ — a Tutti task in C (wasi:cli/command world): counts the words of its input.
 *
 * stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
 * stderr is the instance log, and a non-zero exit status fails the instance (retryable). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  static unsigned char buf[64 * 1024];
  unsigned long long words = 0;
  int in_word = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    for (size_t i = 0; i < n; i++) {
      int space = isspace(buf[i]);
      if (!space && !in_word) words++;
      in_word = !space;
    }
  }
  if (ferror(stdin)) {
    fprintf(stderr, "__NAME__: cannot read stdin\n");
    return 1;
  }
  const char *part = getenv("TUTTI_PARTITION_INDEX");
  fprintf(stderr, "__NAME__: partition %s: %llu words\n", part ? part : "?", words);
  printf("%llu\n", words);
  return 0;
}
