/*
 * adv-env — sandbox test: shows the environment and arguments the host passed in.
 * stdout: one NAME=VALUE line per `environ` entry (host order), then "args:",
 * then one line per argv entry as "argv[i]=<arg>". With ENV_TO_STDERR set, the
 * environment also goes to stderr (the log), to test that secrets are redacted there. Exits 0.
 */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv) {
  int to_log = getenv("ENV_TO_STDERR") != NULL;
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    printf("%s\n", *e);
    if (to_log) fprintf(stderr, "%s\n", *e);
  }
  printf("args:\n");
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return 0;
}
