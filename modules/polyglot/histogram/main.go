// histogram — step 2c of the polyglot log-analytics flow (Go, wasi:cli/command, standard library only).
//
// stdin: every `parse` instance's "STATUS MILLIS" lines, concatenated (a fan-in).
// stdout: one "BUCKET COUNT" line per latency bucket, bucket being the upper bound in ms ("<100") or
// the last one, ">=1000".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

var bounds = []uint64{10, 100, 250, 500, 1000}

func main() {
	counts := make([]uint64, len(bounds)+1)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 2 {
			continue
		}
		ms, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		i := 0
		for i < len(bounds) && ms >= bounds[i] {
			i++
		}
		counts[i]++
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "histogram: cannot read stdin: %v\n", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for i, n := range counts {
		if i < len(bounds) {
			fmt.Fprintf(out, "<%d %d\n", bounds[i], n)
		} else {
			fmt.Fprintf(out, ">=%d %d\n", bounds[len(bounds)-1], n)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "histogram: cannot write stdout: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "histogram: %d buckets\n", len(counts))
}
