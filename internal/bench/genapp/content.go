package main

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
)

// kind is the sort of bytes a file holds. Together the kinds give a layer the gzip ratio of a
// real distribution image (about 0.4 at a fast level: see the package comment).
type kind uint8

const (
	kText   kind = iota // source code, docs, configs: words, identifiers, indentation (gzip ~0.3)
	kBinary             // ELF executables and libraries: instruction-like byte tokens (gzip ~0.45)
	kMixed              // .pyc, .mo, zoneinfo, databases: text and binary interleaved
	kRandom             // already compressed: .gz, .png, .woff2, .jar (gzip ~1.0)
	nKinds
)

// Corpus sizes: a file is made of segments copied from its kind's corpus at seeded offsets,
// so content costs a memcpy. The corpora are far larger than gzip's 32 KiB window, so the
// repeats between segments are invisible to it: only each corpus's own statistics count.
const (
	textCorpus   = 6 << 20
	binaryCorpus = 8 << 20
	mixedCorpus  = 4 << 20
	randomCorpus = 4 << 20
)

// corpora holds one corpus per kind, built from the seed.
type corpora [nKinds][]byte

// rngFor is a ChaCha8 source keyed by the seed and a label: every part of the app draws from
// its own stream, so parts built concurrently stay reproducible.
func rngFor(seed uint64, label string) *rand.Rand {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	return rand.New(rand.NewChaCha8(sha256.Sum256(append(b[:], label...))))
}

func newCorpora(seed uint64) *corpora {
	c := &corpora{}
	var wg sync.WaitGroup
	wg.Go(func() { c[kText] = makeText(rngFor(seed, "corpus/text"), textCorpus) })
	wg.Go(func() { c[kBinary] = makeBinary(rngFor(seed, "corpus/binary"), binaryCorpus) })
	wg.Go(func() {
		c[kRandom] = make([]byte, randomCorpus)
		rand.NewChaCha8(sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("corpus/random"), seed))).Read(c[kRandom])
	})
	wg.Wait()
	c[kMixed] = makeMixed(rngFor(seed, "corpus/mixed"), c, mixedCorpus)
	return c
}

// letters are drawn with English frequencies (per mille), so Huffman coding finds what it
// finds in real text.
var letterFreq = []struct {
	c byte
	f int
}{
	{'e', 127}, {'t', 91}, {'a', 82}, {'o', 75}, {'i', 70}, {'n', 67}, {'s', 63}, {'h', 61},
	{'r', 60}, {'d', 43}, {'l', 40}, {'c', 28}, {'u', 28}, {'m', 24}, {'w', 24}, {'f', 22},
	{'g', 20}, {'y', 20}, {'p', 19}, {'b', 15}, {'v', 10}, {'k', 8}, {'j', 2}, {'x', 2},
	{'q', 1}, {'z', 1},
}

func randLetter(r *rand.Rand) byte {
	n := r.IntN(1000)
	for _, l := range letterFreq {
		if n < l.f {
			return l.c
		}
		n -= l.f
	}
	return 'e'
}

// vocabulary makes n distinct words of 1-12 letters, short ones commonest.
func vocabulary(r *rand.Rand, n int) []string {
	seen := map[string]bool{}
	words := make([]string, 0, n)
	for len(words) < n {
		l := 1 + r.IntN(3) + r.IntN(4) + r.IntN(4) + r.IntN(3)
		w := make([]byte, l)
		for i := range w {
			w[i] = randLetter(r)
		}
		if !seen[string(w)] {
			seen[string(w)] = true
			words = append(words, string(w))
		}
	}
	return words
}

// makeText writes n bytes of text: blocks of prose lines and of code lines (indentation,
// identifiers, operators), words picked by a Zipf law from a seeded vocabulary.
func makeText(r *rand.Rand, n int) []byte {
	words := vocabulary(r, 6000)
	zipf := rand.NewZipf(r, 1.2, 1, uint64(len(words)-1))
	// Each block has a few names of its own (a function's variables, a document's subject)
	// that come back again and again, as in real files.
	local := make([]string, 8)
	word := func() string {
		if r.IntN(3) == 0 {
			return local[r.IntN(len(local))]
		}
		return words[zipf.Uint64()]
	}
	punct := []string{", ", ". ", "; ", ": ", " - ", " (", ") "}
	ops := []string{" = ", "(", ")", ", ", ".", " + ", " == ", " != ", "[", "]", ": ", " {", "}", ";", " -> ", " && ", "->", "::", "\""}
	out := make([]byte, 0, n+256)
	for len(out) < n {
		lines := 10 + r.IntN(150)
		code := r.IntN(2) == 0
		for i := range local {
			local[i] = words[zipf.Uint64()]
		}
		indent := 0
		for i := 0; i < lines && len(out) < n; i++ {
			if code {
				indent = max(0, min(6, indent+r.IntN(3)-1))
				for range indent * 4 {
					out = append(out, ' ')
				}
				tokens := 1 + r.IntN(9)
				for t := range tokens {
					switch {
					case r.IntN(6) == 0:
						out = append(out, word()...)
						out = append(out, '_')
						out = append(out, word()...)
					case r.IntN(9) == 0:
						out = append(out, '0'+byte(r.IntN(10)))
					default:
						out = append(out, word()...)
					}
					if t < tokens-1 {
						out = append(out, ops[r.IntN(len(ops))]...)
					}
				}
				if r.IntN(3) == 0 {
					out = append(out, ops[r.IntN(len(ops))]...)
				}
			} else {
				width := 40 + r.IntN(40)
				start := len(out)
				for len(out)-start < width {
					out = append(out, word()...)
					if r.IntN(8) == 0 {
						out = append(out, punct[r.IntN(len(punct))]...)
					} else {
						out = append(out, ' ')
					}
				}
			}
			out = append(out, '\n')
			if r.IntN(12) == 0 {
				out = append(out, '\n')
			}
		}
	}
	return out[:n]
}

// makeBinary writes n bytes that compress like machine code: tokens from a vocabulary of
// short byte strings (opcodes, picked by a Zipf law), many followed by an immediate or a
// displacement, with alignment padding, and now and then a data section: a string table, a
// table of pointers or zeros.
func makeBinary(r *rand.Rand, n int) []byte {
	// Bytes of opcodes lean to the values compilers emit most.
	common := []byte{0x00, 0x48, 0x89, 0x8b, 0xe8, 0x0f, 0xff, 0x83, 0x85, 0xc0, 0x24, 0x44, 0x4c, 0x74, 0x75, 0xc3, 0x31, 0x01, 0x45, 0x8d}
	ops := make([][]byte, 1500)
	for i := range ops {
		op := make([]byte, 1+r.IntN(3)+r.IntN(3))
		for j := range op {
			if r.IntN(5) > 0 {
				op[j] = common[r.IntN(len(common))]
			} else {
				op[j] = byte(r.Uint32())
			}
		}
		ops[i] = op
	}
	zipf := rand.NewZipf(r, 1.3, 2, uint64(len(ops)-1))
	// Idioms: op sequences compilers emit again and again (prologues, calls, loads, epilogues).
	idioms := make([][]byte, 800)
	for i := range idioms {
		var b []byte
		for range 2 + r.IntN(5) {
			b = append(b, ops[zipf.Uint64()]...)
			if r.IntN(3) == 0 {
				b = append(b, byte(r.IntN(256)))
			}
		}
		idioms[i] = b
	}
	izipf := rand.NewZipf(r, 1.25, 2, uint64(len(idioms)-1))
	words := vocabulary(r, 4000)
	out := make([]byte, 0, n+4096)
	for len(out) < n {
		switch x := r.IntN(1000); {
		case x < 12: // string table
			for end := len(out) + 256 + r.IntN(3000); len(out) < end; {
				out = append(out, words[r.IntN(len(words))]...)
				if r.IntN(3) == 0 {
					out = append(out, '_')
					out = append(out, words[r.IntN(len(words))]...)
				}
				out = append(out, 0)
			}
		case x < 20: // pointer table
			p := uint64(0x400000 + r.IntN(1<<22))
			for range 16 + r.IntN(200) {
				p += uint64(8 + r.IntN(512))
				out = binary.LittleEndian.AppendUint64(out, p)
			}
		case x < 25: // zeros (bss-like, section alignment)
			out = append(out, make([]byte, 64+r.IntN(1024))...)
		case x < 70: // function alignment
			for range r.IntN(16) {
				out = append(out, 0x90)
			}
		case x < 850:
			out = append(out, idioms[izipf.Uint64()]...)
		default:
			out = append(out, ops[zipf.Uint64()]...)
			switch y := r.IntN(10); {
			case y < 2:
				out = append(out, byte(r.IntN(32)*8))
			case y < 3:
				out = binary.LittleEndian.AppendUint32(out, uint32(int32(r.IntN(1<<17)-1<<16)))
			}
		}
	}
	return out[:n]
}

// makeMixed interleaves short runs of text and of binary, like marshalled code, message
// catalogs or database pages.
func makeMixed(r *rand.Rand, c *corpora, n int) []byte {
	out := make([]byte, 0, n+512)
	for len(out) < n {
		src := c[kText]
		l := 8 + r.IntN(120)
		switch r.IntN(10) {
		case 0, 1, 2, 3:
			src, l = c[kBinary], 2+r.IntN(24)
		case 4:
			src, l = c[kRandom], 2+r.IntN(8)
		}
		off := r.IntN(len(src) - l)
		out = append(out, src[off:off+l]...)
	}
	return out[:n]
}

// elfHeader starts every kBinary file of 64 bytes or more.
var elfHeader = func() []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 3)    // ET_DYN
	binary.LittleEndian.PutUint16(h[18:], 0x3e) // x86-64
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint64(h[32:], 64)
	binary.LittleEndian.PutUint16(h[52:], 64)
	binary.LittleEndian.PutUint16(h[54:], 56)
	binary.LittleEndian.PutUint16(h[58:], 64)
	return h
}()

// writeContent writes size bytes of kind k to w: segments of 4-64 KiB of the kind's corpus
// at offsets drawn from r.
func (c *corpora) writeContent(w io.Writer, r *rand.Rand, k kind, size int64) error {
	if k == kBinary && size >= int64(len(elfHeader)) {
		if _, err := w.Write(elfHeader); err != nil {
			return err
		}
		size -= int64(len(elfHeader))
	}
	src := c[k]
	for size > 0 {
		seg := int(min(size, int64(4096)<<r.IntN(5)))
		off := r.IntN(len(src) - seg + 1)
		if _, err := w.Write(src[off : off+seg]); err != nil {
			return err
		}
		size -= int64(seg)
	}
	return nil
}
