// __NAME__ — a Tutti task in C++ (wasi:cli/command world): it counts the words of its input and logs
// the most frequent ones. Standard library only (libc++ for wasm32-wasi), built without exceptions.
//
// stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
// stderr is the instance log, and a non-zero exit status fails the instance (retryable).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

static bool is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

int main() {
  std::unordered_map<std::string, unsigned long> freq;
  std::string word;
  unsigned long long words = 0;
  static char buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (is_space(static_cast<unsigned char>(buf[i]))) {
        if (!word.empty()) { ++freq[word]; ++words; word.clear(); }
      } else {
        word.push_back(buf[i]);
      }
    }
  }
  if (std::ferror(stdin)) { std::fprintf(stderr, "__NAME__: cannot read stdin\n"); return 1; }
  if (!word.empty()) { ++freq[word]; ++words; }

  std::vector<std::pair<std::string, unsigned long>> top(freq.begin(), freq.end());
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  const char* part = std::getenv("TUTTI_PARTITION_INDEX");
  std::fprintf(stderr, "__NAME__: partition %s: %llu words, %zu distinct; most frequent:", part ? part : "?", words, top.size());
  for (size_t i = 0; i < top.size() && i < 3; i++) std::fprintf(stderr, " %s (%lu)", top[i].first.c_str(), top[i].second);
  std::fprintf(stderr, "\n");
  std::printf("%llu\n", words);
  return 0;
}
