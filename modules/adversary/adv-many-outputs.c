/*
 * adv-many-outputs — a typed task (world tutti:task/task) in C through guest/c/tutti.h that makes
 * the host open as many files as it can:
 *
 *   1. with param read=1, reads the first byte of every input;
 *   2. writes `rounds` rounds (default 1) of `bytes` bytes (default 100) to each of `outputs`
 *      outputs (default 5000) named o0, o1, …, round-robin: in round r, output oI gets the letter
 *      'a' + (I + r) % 26 `bytes` times;
 *   3. spins `spin` million iterations (default 0), so that whatever the host holds open stays
 *      open while a test looks.
 *
 * A failed read or write ends the task with a permanent error carrying the host's message; a
 * host that stops the instance instead (a cap reached) never returns to it.
 */
#include "tutti.h"

static uint64_t param(tutti_params params, const char *name, uint64_t fallback) {
  const char *v = tutti_param_get(params, name);
  return v ? strtoull(v, NULL, 10) : fallback;
}

static tutti_status host_error(const char *what) {
  tutti_str e = tutti_last_error();
  size_t n = strlen(what);
  char *msg = malloc(n + 2 + e.len + 1);
  memcpy(msg, what, n);
  memcpy(msg + n, ": ", 2);
  memcpy(msg + n + 2, e.ptr, e.len);
  msg[n + 2 + e.len] = 0;
  return tutti_fail(TUTTI_PERMANENT, msg);
}

tutti_status tutti_run(const tutti_partition *part, tutti_inputs inputs, tutti_params params) {
  (void)part;
  uint64_t outputs = param(params, "outputs", 5000), rounds = param(params, "rounds", 1);
  uint64_t bytes = param(params, "bytes", 100), spin = param(params, "spin", 0);
  if (param(params, "read", 0)) {
    for (uint32_t i = 0; i < inputs.len; i++) {
      unsigned char b;
      if (tutti_read(i, 0, &b, 1) < 0) return host_error("read");
    }
  }
  char *buf = malloc(bytes ? bytes : 1);
  char name[24] = "o";
  for (uint64_t r = 0; r < rounds; r++) {
    for (uint64_t i = 0; i < outputs; i++) {
      memset(buf, 'a' + (int)((i + r) % 26), bytes);
      tutti_u64_str(i, name + 1);
      if (tutti_write(name, buf, bytes) != 0) return host_error("write");
    }
  }
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < spin * 1000000; i++) sink += i;
  (void)sink;
  return tutti_ok();
}
