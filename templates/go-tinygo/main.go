// __NAME__ — a Tutti task in Go (wasi:cli/command world), built with TinyGo for wasip2.
// NOT BUILT IN CI: no TinyGo toolchain is reachable there.
//
// stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
// stderr is the instance log, and a non-zero exit status fails the instance (retryable).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

func main() {
	r := bufio.NewReaderSize(os.Stdin, 64*1024)
	words, inWord := uint64(0), false
	for {
		b, err := r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "__NAME__: cannot read stdin: %v\n", err)
			os.Exit(1)
		}
		space := b == ' ' || (b >= '\t' && b <= '\r')
		if !space && !inWord {
			words++
		}
		inWord = !space
	}
	fmt.Fprintf(os.Stderr, "__NAME__: partition %s: %d words\n", os.Getenv("TUTTI_PARTITION_INDEX"), words)
	fmt.Println(words)
}
