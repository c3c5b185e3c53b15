/*
 * adv-env — sandbox test: shows the environment and arguments the host passed in.
 * stdout: one NAME=VALUE line per `environ` entry (host order), then "args:",
 * then one line per argv entry as "argv[i]=<arg>". Exits 0.
 */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
  for (char **e = environ; e != NULL && *e != NULL; e++) printf("%s\n", *e);
  printf("args:\n");
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return 0;
}
