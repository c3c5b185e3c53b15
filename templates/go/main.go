// __NAME__ — a Tutti task in Go (wasi:cli/command world): it counts the lines and words of its input.
// Built with Go's own GOOS=wasip1 port (Go 1.21 or newer, standard library only), then adapted to a
// component by jco; see build.sh.
//
// stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
// stderr is the instance log, and a non-zero exit status fails the instance (retryable).
// Tutti sets TUTTI_* environment variables, e.g. TUTTI_PARTITION_INDEX.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

func main() {
	r := bufio.NewReaderSize(os.Stdin, 64*1024)
	var words, lines uint64
	inWord := false
	for {
		b, err := r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "__NAME__: cannot read stdin: %v\n", err)
			os.Exit(1)
		}
		if b == '\n' {
			lines++
		}
		space := b == ' ' || (b >= '\t' && b <= '\r')
		if !space && !inWord {
			words++
		}
		inWord = !space
	}
	fmt.Fprintf(os.Stderr, "__NAME__: partition %s: %d lines, %d words\n", os.Getenv("TUTTI_PARTITION_INDEX"), lines, words)
	fmt.Println(words)
}
