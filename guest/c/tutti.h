/*
 * tutti.h — write a typed Tutti task (world tutti:task/task or planned-task, wit/task.wit) in C.
 *
 * Single header, no wit-bindgen needed: it implements the component model's canonical ABI for
 * Tutti's contract only. Include it in exactly one .c file, after defining TUTTI_PLAN if the task
 * exports its own scaling policy, and define:
 *
 *   tutti_status tutti_run(const tutti_partition *part, tutti_inputs inputs, tutti_params params);
 *   tutti_status tutti_plan(tutti_inputs inputs, tutti_params params, tutti_plan_builder *plan);  // TUTTI_PLAN
 *
 * Build (libc's memory, string and number functions work; stdio does not — there is no WASI here,
 * use tutti_log):
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -nostartfiles -Wl,--no-entry -Wl,--strip-debug -I guest/c task.c -o task.core.wasm
 *   npx jco new task.core.wasm -o task.wasm
 *
 * The header carries the world's type (generated from wit/task.wit, see the end of this file), so
 * no `jco embed` or wit-bindgen step is needed.
 *
 * Memory comes from malloc and is never freed by this header: every instance is a fresh component
 * instance, so a task's heap lives exactly as long as one run or one plan.
 */
#ifndef TUTTI_H
#define TUTTI_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Types: laid out exactly as the canonical ABI lays out wit/task.wit's records (wasm32). ---- */

typedef struct { const char *ptr; size_t len; } tutti_str;

typedef struct {
  tutti_str name;       /* flow input name, or "<task>/<instance>/<output>" */
  uint64_t size;
  tutti_str media_type;
} tutti_asset_info;

typedef struct { uint32_t input; uint64_t offset; uint64_t length; } tutti_slice;

typedef struct {
  uint32_t index;
  uint32_t count;
  const tutti_slice *slices;
  size_t slices_len;
} tutti_partition;

typedef struct { tutti_str name; tutti_str value; } tutti_param;

typedef struct { const tutti_asset_info *items; size_t len; } tutti_inputs;
typedef struct { const tutti_param *items; size_t len; } tutti_params;

typedef enum { TUTTI_OK = 0, TUTTI_RETRYABLE = 1, TUTTI_PERMANENT = 2 } tutti_status_kind;
typedef struct { tutti_status_kind kind; tutti_str message; } tutti_status;

typedef enum { TUTTI_DEBUG = 0, TUTTI_INFO = 1, TUTTI_WARN = 2, TUTTI_ERROR = 3 } tutti_level;

typedef struct {
  tutti_partition *items;
  size_t len, cap;
} tutti_plan_builder;

/* ---- The host (tutti:task/host@0.1.0), as core imports. ---- */

#define TUTTI_IMPORT(name) __attribute__((import_module("tutti:task/host@0.1.0"), import_name(name)))
#define TUTTI_EXPORT(name) __attribute__((export_name(name)))

/* result<list<u8>, string> and result<_, string>: u8 tag @0, {ptr, len} @4. */
typedef struct { uint8_t is_err; const char *ptr; size_t len; } tutti__result_list;

TUTTI_IMPORT("read") void tutti__host_read(uint32_t input, uint64_t offset, uint64_t length, tutti__result_list *ret);
TUTTI_IMPORT("write") void tutti__host_write(const char *out, size_t out_len, const void *bytes, size_t len, tutti__result_list *ret);
TUTTI_IMPORT("log") void tutti__host_log(uint32_t level, const char *msg, size_t len);
TUTTI_IMPORT("progress") void tutti__host_progress(float fraction);

/* The host's last error message (from tutti_read or tutti_write), or an empty string. */
static tutti_str tutti__last_error;
static inline tutti_str tutti_last_error(void) { return tutti__last_error; }

/* Read up to `len` bytes of input `input` at `offset` into `buf` (any input, any offset).
 * Returns the number of bytes read (fewer at the end of the input), or -1 (see tutti_last_error). */
static inline int64_t tutti_read(uint32_t input, uint64_t offset, void *buf, uint64_t len) {
  tutti__result_list r;
  tutti__host_read(input, offset, len, &r);
  if (r.is_err) {
    tutti__last_error = (tutti_str){r.ptr, r.len};
    return -1;
  }
  memcpy(buf, r.ptr, r.len);
  free((void *)r.ptr);
  return (int64_t)r.len;
}

/* Append bytes to the output asset `output`. Returns 0, or -1 (see tutti_last_error). */
static inline int tutti_write(const char *output, const void *bytes, size_t len) {
  tutti__result_list r;
  tutti__host_write(output, strlen(output), bytes, len, &r);
  if (r.is_err) {
    tutti__last_error = (tutti_str){r.ptr, r.len};
    return -1;
  }
  return 0;
}

static inline int tutti_write_str(const char *output, const char *text) { return tutti_write(output, text, strlen(text)); }

static inline void tutti_log(tutti_level level, const char *msg) { tutti__host_log((uint32_t)level, msg, strlen(msg)); }

static inline void tutti_progress(float fraction) { tutti__host_progress(fraction); }

/* ---- Helpers ---- */

static inline tutti_status tutti_ok(void) { return (tutti_status){TUTTI_OK, {"", 0}}; }
static inline tutti_status tutti_fail(tutti_status_kind kind, const char *msg) { return (tutti_status){kind, {msg, strlen(msg)}}; }

/* A NUL-terminated copy of a parameter's value, or NULL when the flow did not give it. */
static inline const char *tutti_param_get(tutti_params params, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < params.len; i++) {
    const tutti_param *p = &params.items[i];
    if (p->name.len == n && memcmp(p->name.ptr, name, n) == 0) {
      char *v = malloc(p->value.len + 1);
      memcpy(v, p->value.ptr, p->value.len);
      v[p->value.len] = 0;
      return v;
    }
  }
  return NULL;
}

/* Decimal text of an unsigned number into buf (at least 21 bytes); returns buf. */
static inline char *tutti_u64_str(uint64_t v, char *buf) {
  char tmp[21];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
  return buf;
}

/* Add a partition made of `n` slices (copied) to the plan; index and count are filled in later. */
static inline void tutti_plan_add(tutti_plan_builder *plan, const tutti_slice *slices, size_t n) {
  if (plan->len == plan->cap) {
    plan->cap = plan->cap ? plan->cap * 2 : 16;
    plan->items = realloc(plan->items, plan->cap * sizeof *plan->items);
    if (!plan->items) __builtin_trap();
  }
  tutti_slice *copy = n ? malloc(n * sizeof *copy) : NULL;
  if (n) memcpy(copy, slices, n * sizeof *copy);
  plan->items[plan->len++] = (tutti_partition){0, 0, copy, n};
}

/* ---- The task's functions, and the canonical-ABI exports that call them. ---- */

tutti_status tutti_run(const tutti_partition *part, tutti_inputs inputs, tutti_params params);

/* The host allocates argument lists and strings (and host.read's bytes) through this. */
TUTTI_EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  (void)old_size;
  (void)align; /* malloc aligns to 16, more than any type here needs */
  if (new_size == 0) return (void *)align;
  void *p = realloc(old, new_size);
  if (!p) __builtin_trap();
  return p;
}

/* result<_, task-error>: u8 tag @0; task-error = u8 tag @4, string @8. */
static struct { uint8_t is_err; uint8_t pad[3]; uint8_t kind; uint8_t pad2[3]; const char *ptr; size_t len; } tutti__run_ret;

TUTTI_EXPORT("run")
void *tutti__export_run(uint32_t index, uint32_t count, const tutti_slice *slices, size_t slices_len,
                        const tutti_asset_info *inputs, size_t inputs_len, const tutti_param *params, size_t params_len) {
  tutti_partition part = {index, count, slices, slices_len};
  tutti_status s = tutti_run(&part, (tutti_inputs){inputs, inputs_len}, (tutti_params){params, params_len});
  tutti__run_ret.is_err = s.kind != TUTTI_OK;
  tutti__run_ret.kind = s.kind == TUTTI_RETRYABLE ? 0 : 1;
  tutti__run_ret.ptr = s.message.ptr;
  tutti__run_ret.len = s.message.len;
  return &tutti__run_ret;
}

#ifdef TUTTI_PLAN
tutti_status tutti_plan(tutti_inputs inputs, tutti_params params, tutti_plan_builder *plan);

/* result<list<partition>, string>: u8 tag @0, {ptr, len} @4. */
static tutti__result_list tutti__plan_ret;

TUTTI_EXPORT("plan")
void *tutti__export_plan(const tutti_asset_info *inputs, size_t inputs_len, const tutti_param *params, size_t params_len) {
  tutti_plan_builder plan = {NULL, 0, 0};
  tutti_status s = tutti_plan((tutti_inputs){inputs, inputs_len}, (tutti_params){params, params_len}, &plan);
  if (s.kind != TUTTI_OK) {
    tutti__plan_ret = (tutti__result_list){1, s.message.ptr, s.message.len};
  } else {
    for (size_t i = 0; i < plan.len; i++) {
      plan.items[i].index = (uint32_t)i;
      plan.items[i].count = (uint32_t)plan.len;
    }
    tutti__plan_ret = (tutti__result_list){0, (const char *)plan.items, plan.len};
  }
  return &tutti__plan_ret;
}
#endif

/* The world this module implements, as the component-type custom section `jco new` reads. */
/* BEGIN GENERATED by guest/c/gen-world.mjs from wit/task.wit: do not edit */
#ifdef TUTTI_PLAN
__asm__(".section \".custom_section.component-type\",\"\",@\n"
  ".byte 0,97,115,109,13,0,1,0,0,25,22,119,105,116,45,99,111,109,112,111,110,101,110,116\n"
  ".byte 45,101,110,99,111,100,105,110,103,4,0,7,184,5,1,65,2,1,65,22,1,66,13,1\n"
  ".byte 114,3,4,110,97,109,101,115,4,115,105,122,101,119,10,109,101,100,105,97,45,116,121,112\n"
  ".byte 101,115,4,0,10,97,115,115,101,116,45,105,110,102,111,3,0,0,1,114,3,5,105,110\n"
  ".byte 112,117,116,121,6,111,102,102,115,101,116,119,6,108,101,110,103,116,104,119,4,0,5,115\n"
  ".byte 108,105,99,101,3,0,2,1,112,3,1,114,3,5,105,110,100,101,120,121,5,99,111,117\n"
  ".byte 110,116,121,6,115,108,105,99,101,115,4,4,0,9,112,97,114,116,105,116,105,111,110,3\n"
  ".byte 0,5,1,114,2,4,110,97,109,101,115,5,118,97,108,117,101,115,4,0,5,112,97,114\n"
  ".byte 97,109,3,0,7,1,113,2,9,114,101,116,114,121,97,98,108,101,1,115,0,9,112,101\n"
  ".byte 114,109,97,110,101,110,116,1,115,0,4,0,10,116,97,115,107,45,101,114,114,111,114,3\n"
  ".byte 0,9,1,109,4,5,100,101,98,117,103,4,105,110,102,111,4,119,97,114,110,5,101,114\n"
  ".byte 114,111,114,4,0,5,108,101,118,101,108,3,0,11,3,0,22,116,117,116,116,105,58,116\n"
  ".byte 97,115,107,47,116,121,112,101,115,64,48,46,49,46,48,5,0,2,3,0,0,5,108,101\n"
  ".byte 118,101,108,1,66,13,2,3,2,1,1,4,0,5,108,101,118,101,108,3,0,0,1,112\n"
  ".byte 125,1,106,1,2,1,115,1,64,3,5,105,110,112,117,116,121,6,111,102,102,115,101,116\n"
  ".byte 119,6,108,101,110,103,116,104,119,0,3,4,0,4,114,101,97,100,1,4,1,106,0,1\n"
  ".byte 115,1,64,2,6,111,117,116,112,117,116,115,5,98,121,116,101,115,2,0,5,4,0,5\n"
  ".byte 119,114,105,116,101,1,6,1,64,2,5,108,101,118,101,108,1,7,109,101,115,115,97,103\n"
  ".byte 101,115,1,0,4,0,3,108,111,103,1,7,1,64,1,8,102,114,97,99,116,105,111,110\n"
  ".byte 118,1,0,4,0,8,112,114,111,103,114,101,115,115,1,8,3,0,21,116,117,116,116,105\n"
  ".byte 58,116,97,115,107,47,104,111,115,116,64,48,46,49,46,48,5,2,2,3,0,0,9,112\n"
  ".byte 97,114,116,105,116,105,111,110,3,0,9,112,97,114,116,105,116,105,111,110,3,0,3,2\n"
  ".byte 3,0,0,10,97,115,115,101,116,45,105,110,102,111,3,0,10,97,115,115,101,116,45,105\n"
  ".byte 110,102,111,3,0,5,2,3,0,0,5,112,97,114,97,109,3,0,5,112,97,114,97,109\n"
  ".byte 3,0,7,2,3,0,0,10,116,97,115,107,45,101,114,114,111,114,3,0,10,116,97,115\n"
  ".byte 107,45,101,114,114,111,114,3,0,9,1,112,6,1,112,8,1,106,0,1,10,1,64,3\n"
  ".byte 9,112,97,114,116,105,116,105,111,110,4,6,105,110,112,117,116,115,11,6,112,97,114,97\n"
  ".byte 109,115,12,0,13,4,0,3,114,117,110,1,14,1,112,4,1,106,1,15,1,115,1,64\n"
  ".byte 2,6,105,110,112,117,116,115,11,6,112,97,114,97,109,115,12,0,16,4,0,4,112,108\n"
  ".byte 97,110,1,17,4,0,29,116,117,116,116,105,58,116,97,115,107,47,112,108,97,110,110,101\n"
  ".byte 100,45,116,97,115,107,64,48,46,49,46,48,4,0,11,18,1,0,12,112,108,97,110,110\n"
  ".byte 101,100,45,116,97,115,107,3,0,0,0,47,9,112,114,111,100,117,99,101,114,115,1,12\n"
  ".byte 112,114,111,99,101,115,115,101,100,45,98,121,1,13,119,105,116,45,99,111,109,112,111,110\n"
  ".byte 101,110,116,7,48,46,50,53,57,46,48\n"
  ".text\n");
#else
__asm__(".section \".custom_section.component-type\",\"\",@\n"
  ".byte 0,97,115,109,13,0,1,0,0,25,22,119,105,116,45,99,111,109,112,111,110,101,110,116\n"
  ".byte 45,101,110,99,111,100,105,110,103,4,0,7,137,5,1,65,2,1,65,18,1,66,13,1\n"
  ".byte 114,3,4,110,97,109,101,115,4,115,105,122,101,119,10,109,101,100,105,97,45,116,121,112\n"
  ".byte 101,115,4,0,10,97,115,115,101,116,45,105,110,102,111,3,0,0,1,114,3,5,105,110\n"
  ".byte 112,117,116,121,6,111,102,102,115,101,116,119,6,108,101,110,103,116,104,119,4,0,5,115\n"
  ".byte 108,105,99,101,3,0,2,1,112,3,1,114,3,5,105,110,100,101,120,121,5,99,111,117\n"
  ".byte 110,116,121,6,115,108,105,99,101,115,4,4,0,9,112,97,114,116,105,116,105,111,110,3\n"
  ".byte 0,5,1,114,2,4,110,97,109,101,115,5,118,97,108,117,101,115,4,0,5,112,97,114\n"
  ".byte 97,109,3,0,7,1,113,2,9,114,101,116,114,121,97,98,108,101,1,115,0,9,112,101\n"
  ".byte 114,109,97,110,101,110,116,1,115,0,4,0,10,116,97,115,107,45,101,114,114,111,114,3\n"
  ".byte 0,9,1,109,4,5,100,101,98,117,103,4,105,110,102,111,4,119,97,114,110,5,101,114\n"
  ".byte 114,111,114,4,0,5,108,101,118,101,108,3,0,11,3,0,22,116,117,116,116,105,58,116\n"
  ".byte 97,115,107,47,116,121,112,101,115,64,48,46,49,46,48,5,0,2,3,0,0,5,108,101\n"
  ".byte 118,101,108,1,66,13,2,3,2,1,1,4,0,5,108,101,118,101,108,3,0,0,1,112\n"
  ".byte 125,1,106,1,2,1,115,1,64,3,5,105,110,112,117,116,121,6,111,102,102,115,101,116\n"
  ".byte 119,6,108,101,110,103,116,104,119,0,3,4,0,4,114,101,97,100,1,4,1,106,0,1\n"
  ".byte 115,1,64,2,6,111,117,116,112,117,116,115,5,98,121,116,101,115,2,0,5,4,0,5\n"
  ".byte 119,114,105,116,101,1,6,1,64,2,5,108,101,118,101,108,1,7,109,101,115,115,97,103\n"
  ".byte 101,115,1,0,4,0,3,108,111,103,1,7,1,64,1,8,102,114,97,99,116,105,111,110\n"
  ".byte 118,1,0,4,0,8,112,114,111,103,114,101,115,115,1,8,3,0,21,116,117,116,116,105\n"
  ".byte 58,116,97,115,107,47,104,111,115,116,64,48,46,49,46,48,5,2,2,3,0,0,9,112\n"
  ".byte 97,114,116,105,116,105,111,110,3,0,9,112,97,114,116,105,116,105,111,110,3,0,3,2\n"
  ".byte 3,0,0,10,97,115,115,101,116,45,105,110,102,111,3,0,10,97,115,115,101,116,45,105\n"
  ".byte 110,102,111,3,0,5,2,3,0,0,5,112,97,114,97,109,3,0,5,112,97,114,97,109\n"
  ".byte 3,0,7,2,3,0,0,10,116,97,115,107,45,101,114,114,111,114,3,0,10,116,97,115\n"
  ".byte 107,45,101,114,114,111,114,3,0,9,1,112,6,1,112,8,1,106,0,1,10,1,64,3\n"
  ".byte 9,112,97,114,116,105,116,105,111,110,4,6,105,110,112,117,116,115,11,6,112,97,114,97\n"
  ".byte 109,115,12,0,13,4,0,3,114,117,110,1,14,4,0,21,116,117,116,116,105,58,116,97\n"
  ".byte 115,107,47,116,97,115,107,64,48,46,49,46,48,4,0,11,10,1,0,4,116,97,115,107\n"
  ".byte 3,0,0,0,47,9,112,114,111,100,117,99,101,114,115,1,12,112,114,111,99,101,115,115\n"
  ".byte 101,100,45,98,121,1,13,119,105,116,45,99,111,109,112,111,110,101,110,116,7,48,46,50\n"
  ".byte 53,57,46,48\n"
  ".text\n");
#endif
/* END GENERATED */

#endif /* TUTTI_H */
