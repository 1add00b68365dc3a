package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/pgzip"
)

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	b, _ := os.ReadFile(os.Args[1])
	for rep := 0; rep < 2; rep++ {
		for _, blocks := range []int{2, 4, 8, 16} {
			var c counter
			h := sha256.New()
			d := sha256.New()
			t0 := time.Now()
			zw, _ := pgzip.NewWriterLevel(&c, 1)
			zw.Reset(io.MultiWriter(&c, h))
			zw.SetConcurrency(1<<20, blocks)
			io.Copy(io.MultiWriter(zw, d), bytes.NewReader(b))
			zw.Close()
			fmt.Printf("blocks %2d: %.2fs ratio %.3f\n", blocks, time.Since(t0).Seconds(), float64(c.n)/float64(len(b)))
		}
	}
}
