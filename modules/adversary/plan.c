/*
 * adv-plan-bomb / adv-plan-ok — typed tasks (world tutti:task/planned-task) in freestanding C,
 * with the component model's canonical ABI written by hand (no wit-bindgen, no libc, no WASI).
 *
 *   plan(inputs, params) -> ok(list<partition>) with PARTITIONS partitions:
 *     {index: i, count: PARTITIONS, slices: []}; inputs and params are ignored.
 *     adv-plan-bomb: PARTITIONS=10000000 (160 MB of records in guest memory);
 *     adv-plan-ok:   PARTITIONS=3. If the memory cannot grow, err("plan: out of memory").
 *   run(partition, inputs, params) -> ok (does nothing).
 *
 * Build (modules/build.mjs): clang --target=wasm32-wasi -O2 -nostdlib -nostartfiles
 * -Wl,--no-entry -DPARTITIONS=N plan.c, then `jco embed --wit wit/task.wit --world
 * planned-task`, then `jco new` without an adapter.
 *
 * Core exports (wit-component's names for world-level function exports):
 *   memory                                   (wasm-ld exports it)
 *   cabi_realloc(old_ptr, old_size, align, new_size) -> ptr   bump allocator
 *   plan(inputs_ptr, inputs_len, params_ptr, params_len) -> retptr
 *   run(p_index, p_count, p_slices_ptr, p_slices_len, inputs_ptr, inputs_len,
 *       params_ptr, params_len) -> retptr
 *   cabi_post_plan(retptr), cabi_post_run(retptr)   reset the bump allocator
 *
 * Layouts (canonical ABI, wasm32):
 *   partition = {u32 index @0, u32 count @4, list<slice> {ptr @8, len @12}}: 16 bytes, align 4
 *     (slice = {u32, u64, u64}: 24 bytes, align 8; an empty list is ptr 0, len 0)
 *   result<list<partition>, string> = u8 tag @0, {ptr, len} @4: 12 bytes
 *   result<_, task-error> = u8 tag @0, task-error {u8 tag @4, string @8}: 16 bytes
 */
#include <stdint.h>

#ifndef PARTITIONS
#define PARTITIONS 10000000
#endif

#define EXPORT(name) __attribute__((export_name(name)))
#define PAGE 65536u

extern unsigned char __heap_base;

static uintptr_t heap_top; /* 0 until first use: then &__heap_base */

/* Bump allocation; returns 0 when memory.grow fails. */
static uintptr_t bump(uintptr_t align, uintptr_t size) {
  if (heap_top == 0) heap_top = (uintptr_t)&__heap_base;
  if (align == 0) align = 1;
  uintptr_t p = (heap_top + align - 1) & ~(align - 1);
  if (size > UINT32_MAX - p) return 0;
  uintptr_t end = p + size;
  uintptr_t have = __builtin_wasm_memory_size(0) * PAGE;
  if (end > have) {
    uintptr_t pages = (end - have + PAGE - 1) / PAGE;
    if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1) return 0;
  }
  heap_top = end;
  return p;
}

EXPORT("cabi_realloc")
void *cabi_realloc(void *old_ptr, uintptr_t old_size, uintptr_t align, uintptr_t new_size) {
  if (old_ptr != 0 && new_size <= old_size) return old_ptr;
  uintptr_t p = bump(align, new_size);
  if (p == 0) __builtin_trap();
  if (old_ptr != 0) {
    volatile unsigned char *dst = (unsigned char *)p; /* volatile: no memcpy call */
    const unsigned char *src = old_ptr;
    for (uintptr_t i = 0; i < old_size; i++) dst[i] = src[i];
  }
  return (void *)p;
}

struct partition {
  uint32_t index;
  uint32_t count;
  uint32_t slices_ptr;
  uint32_t slices_len;
};

static _Alignas(8) uint32_t plan_ret[3];
static const char oom[] = "plan: out of memory";

EXPORT("plan")
uint32_t *plan(uint32_t inputs_ptr, uint32_t inputs_len, uint32_t params_ptr, uint32_t params_len) {
  (void)inputs_ptr, (void)inputs_len, (void)params_ptr, (void)params_len;
  uint32_t n = PARTITIONS;
  struct partition *list = (struct partition *)bump(4, (uintptr_t)n * sizeof(struct partition));
  if (list == 0) {
    plan_ret[0] = 1; /* err(string) */
    plan_ret[1] = (uint32_t)(uintptr_t)oom;
    plan_ret[2] = sizeof oom - 1;
    return plan_ret;
  }
  for (uint32_t i = 0; i < n; i++) {
    list[i].index = i;
    list[i].count = n;
    list[i].slices_ptr = 0;
    list[i].slices_len = 0;
  }
  plan_ret[0] = 0; /* ok(list) */
  plan_ret[1] = (uint32_t)(uintptr_t)list;
  plan_ret[2] = n;
  return plan_ret;
}

static _Alignas(8) uint32_t run_ret[4];

EXPORT("run")
uint32_t *run(uint32_t p_index, uint32_t p_count, uint32_t slices_ptr, uint32_t slices_len,
              uint32_t inputs_ptr, uint32_t inputs_len, uint32_t params_ptr, uint32_t params_len) {
  (void)p_index, (void)p_count, (void)slices_ptr, (void)slices_len;
  (void)inputs_ptr, (void)inputs_len, (void)params_ptr, (void)params_len;
  run_ret[0] = 0; /* ok */
  return run_ret;
}

/* After the host has lifted a result nothing in the heap is live any more. */
EXPORT("cabi_post_plan")
void cabi_post_plan(uint32_t *ret) {
  (void)ret;
  heap_top = 0;
}

EXPORT("cabi_post_run")
void cabi_post_run(uint32_t *ret) {
  (void)ret;
  heap_top = 0;
}
