/*
 * fail — a wasi:cli/command task for testing failures and retries.
 *
 * By default it writes "fail: giving up with code N" to stderr and exits with
 * code N, where N comes from the env var EXIT_CODE (default 3).
 *
 * When SUCCEED_ON_ATTEMPT=k is set and the host-provided TUTTI_ATTEMPT >= k,
 * it copies stdin to stdout instead and exits 0 (so "fails twice, then works"
 * is SUCCEED_ON_ATTEMPT=3 with attempts numbered from 1).
 *
 * The exit code goes through `wasi:cli/exit.exit-with-code` (WASI 0.2.x, feature
 * `cli-exit-with-code`), because the preview1 command adapter turns every non-zero
 * exit(n) into a bare "error" and loses n. So the component's `wasi:cli/exit` import
 * includes `exit-with-code`, which the host must provide (preview2-shim >= 0.26 does).
 *
 * Build (modules/build.mjs does this):
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug fail.c -o fail.core.wasm
 *   jco embed --wit exit-code.wit ... (componentEmbed: gives the import above its WIT type)
 *   jco new fail.core.wasm --wasi-command -o fail.wasm
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char buf[64 * 1024];

/* wasi:cli/exit@0.2.12#exit-with-code: func(status-code: u8) */
__attribute__((import_module("wasi:cli/exit@0.2.12"), import_name("exit-with-code")))
extern _Noreturn void wasi_cli_exit_with_code(int32_t status_code);

/* Parses a decimal integer; returns `fallback` when unset, empty or malformed. */
static long env_long(const char *name, long fallback) {
  const char *s = getenv(name);
  if (s == NULL || *s == '\0') return fallback;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0') return fallback;
  return v;
}

static int copy_stdin_to_stdout(void) {
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "fail: read error: %s\n", strerror(errno));
      return 1;
    }
    unsigned char *p = buf;
    while (n > 0) {
      ssize_t w = write(1, p, (size_t)n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fprintf(stderr, "fail: write error: %s\n", strerror(errno));
        return 1;
      }
      p += w;
      n -= w;
    }
  }
}

int main(void) {
  long succeed_on = env_long("SUCCEED_ON_ATTEMPT", -1);
  long attempt = env_long("TUTTI_ATTEMPT", 0);
  if (succeed_on >= 0 && attempt >= succeed_on) {
    return copy_stdin_to_stdout();
  }

  long code = env_long("EXIT_CODE", 3);
  fprintf(stderr, "fail: giving up with code %ld\n", code);
  /* Exit codes are one byte, as in a POSIX shell: 256 is 0, -1 is 255. */
  int status = (int)(code & 0xff);
  if (status == 0) return 0;
  fflush(NULL); /* exit-with-code ends the instance without running libc's exit path */
  wasi_cli_exit_with_code(status);
}
