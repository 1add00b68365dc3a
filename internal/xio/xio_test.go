package xio

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestContextReaderStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader(ctx, strings.NewReader("abcdef"))
	buf := make([]byte, 3)
	if n, err := r.Read(buf); n != 3 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	cancel()
	if _, err := r.Read(buf); err != context.Canceled {
		t.Fatalf("read after cancel: %v", err)
	}
}

func TestCountWriter(t *testing.T) {
	var b bytes.Buffer
	c := &CountWriter{W: &b}
	io.WriteString(c, "hello")
	io.WriteString(c, " world")
	if c.N != 11 || b.String() != "hello world" {
		t.Fatalf("counted %d, wrote %q", c.N, b.String())
	}
}
