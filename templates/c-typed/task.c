/* __NAME__ — a typed Tutti task in C (world tutti:task/planned-task, see wit/task.wit), through the
 * single-header guest helper tutti.h.
 *
 * plan: one partition per `per` bytes of each input (param `per`, default 1048576).
 * run:  counts the words that *start* inside its slices, reading one byte before a slice through
 *       host.read's random access to tell whether a word began earlier, so the counts of all
 *       partitions add up to the count over the whole input. Writes the count and "\n" to the
 *       output asset "words". */
#define TUTTI_PLAN
#include "tutti.h"

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

tutti_status tutti_plan(tutti_inputs inputs, tutti_params params, tutti_plan_builder *plan) {
  const char *per_text = tutti_param_get(params, "per");
  uint64_t per = per_text ? strtoull(per_text, NULL, 10) : 1048576;
  if (per == 0) return tutti_fail(TUTTI_PERMANENT, "__NAME__: param per must be a positive number of bytes");
  for (uint32_t i = 0; i < inputs.len; i++) {
    uint64_t size = inputs.items[i].size;
    for (uint64_t off = 0; off < size; off += per) {
      tutti_slice s = {i, off, size - off < per ? size - off : per};
      tutti_plan_add(plan, &s, 1);
    }
  }
  return tutti_ok();
}

tutti_status tutti_run(const tutti_partition *part, tutti_inputs inputs, tutti_params params) {
  (void)inputs, (void)params;
  static unsigned char buf[64 * 1024];
  uint64_t words = 0;
  for (size_t k = 0; k < part->slices_len; k++) {
    const tutti_slice *s = &part->slices[k];
    int in_word = 0;
    if (s->offset > 0) {
      unsigned char before;
      if (tutti_read(s->input, s->offset - 1, &before, 1) != 1) return tutti_fail(TUTTI_RETRYABLE, "__NAME__: cannot read input");
      in_word = !is_space(before);
    }
    for (uint64_t pos = s->offset, end = s->offset + s->length; pos < end;) {
      uint64_t want = end - pos < sizeof buf ? end - pos : sizeof buf;
      int64_t n = tutti_read(s->input, pos, buf, want);
      if (n < 0) return tutti_fail(TUTTI_RETRYABLE, "__NAME__: cannot read input");
      if (n == 0) break;
      for (int64_t i = 0; i < n; i++) {
        int space = is_space(buf[i]);
        if (!space && !in_word) words++;
        in_word = !space;
      }
      pos += (uint64_t)n;
    }
    tutti_progress((float)(k + 1) / (float)part->slices_len);
  }
  char text[24];
  tutti_u64_str(words, text);
  strcat(text, "\n");
  if (tutti_write_str("words", text) != 0) return tutti_fail(TUTTI_PERMANENT, "__NAME__: cannot write output words");
  tutti_log(TUTTI_INFO, text);
  return tutti_ok();
}
