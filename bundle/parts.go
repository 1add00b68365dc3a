package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// A bundle archive written in parts (WithSplit) is the files OUT.001, OUT.002, … (OUT is the
// archive's name: shop-1.0.tar, shop-1.0.tar.gz, shop-1.0.tar.zst), each of the split size but
// the last, whose concatenation is the archive, and OUT.sha256, the parts list: one line per
// part, in order, in sha256sum's format ("<hex>  <file name>"), so `sha256sum -c OUT.sha256`
// checks them and `cat OUT.[0-9]* > OUT` joins them. The part numbers have at least 3 digits,
// more when there are more than 999 parts, all of one width, so a shell glob lists them in order.

// PartsSuffix ends the name of a split archive's parts list.
const PartsSuffix = ".sha256"

// maxParts bounds the parts of one archive: a split size that small is a mistake.
const maxParts = 99999

// partName is the name of part i (from 0) of n of the archive out.
func partName(out string, i, n int) string {
	w := len(strconv.Itoa(n))
	if w < 3 {
		w = 3
	}
	return fmt.Sprintf("%s.%0*d", out, w, i+1)
}

var partNumber = regexp.MustCompile(`^(.+)\.([0-9]{3,})$`)

// existingParts lists the files beside out that a split of out would write or replace: its parts
// list and every OUT.<digits>.
func existingParts(out string) []string {
	var found []string
	if _, err := os.Lstat(out + PartsSuffix); err == nil {
		found = append(found, out+PartsSuffix)
	}
	ents, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		return found
	}
	base := filepath.Base(out)
	for _, e := range ents {
		if m := partNumber.FindStringSubmatch(e.Name()); m != nil && m[1] == base {
			found = append(found, filepath.Join(filepath.Dir(out), e.Name()))
		}
	}
	return found
}

// CheckOutput refuses an existing output unless force: out itself and, when split, its parts
// and parts list.
func CheckOutput(out string, split, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("output %s already exists: remove it or pass --force to replace it", out)
	}
	if !split {
		return nil
	}
	if ex := existingParts(out); len(ex) > 0 {
		return fmt.Errorf("output %s already exists (%s): remove its parts or pass --force to replace them", out, strings.Join(baseNames(ex), ", "))
	}
	return nil
}

func baseNames(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.Base(p)
	}
	return out
}

// ---- writing ---------------------------------------------------------------------------------

// partsFile is one file written at offsets, kept as part files of size each in dir (part-0,
// part-1, …): the uncompressed bundle archive is written straight into its parts, at the offsets
// its plan gives, with no second copy. It grows with what is written or truncated, like a file.
type partsFile struct {
	dir  string
	size int64

	mu      sync.Mutex
	total   int64
	handles map[int]*partHandle
	tick    uint64

	// The parts are hashed as the bundle's writers read back what they wrote (an image
	// archive's hash follows its blobs as they land, front to back): upTo is how far each part
	// is taken for its hash, dirty the parts written again behind that point (hashed again
	// from disk at the end); hmu makes the readers hand bytes to the hasher one at a time.
	hmu    sync.Mutex
	hasher *pipeHasher
	umu    sync.Mutex // guards upTo and dirty
	upTo   map[int]int64
	dirty  map[int]bool
}

type partHandle struct {
	f    *os.File
	refs int
	used uint64
}

// maxOpenParts bounds the part files a partsFile keeps open.
const maxOpenParts = 32

func newPartsFile(dir string, size int64) *partsFile {
	return &partsFile{dir: dir, size: size, handles: map[int]*partHandle{}, hasher: newPipeHasher(), upTo: map[int]int64{}, dirty: map[int]bool{}}
}

func (p *partsFile) path(i int) string { return filepath.Join(p.dir, "part-"+strconv.Itoa(i)) }

func (p *partsFile) count() int { return int((p.total + p.size - 1) / p.size) }

func (p *partsFile) acquire(i int) (*partHandle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= maxParts {
		return nil, fmt.Errorf("the bundle would be more than %d parts of %d bytes: split it in larger parts", maxParts, p.size)
	}
	p.tick++
	if h := p.handles[i]; h != nil {
		h.refs++
		h.used = p.tick
		return h, nil
	}
	if len(p.handles) >= maxOpenParts {
		// Close the least recently used part no one is using.
		victim := -1
		for j, h := range p.handles {
			if h.refs == 0 && (victim < 0 || h.used < p.handles[victim].used) {
				victim = j
			}
		}
		if victim >= 0 {
			if err := p.handles[victim].f.Close(); err != nil {
				return nil, err
			}
			delete(p.handles, victim)
		}
	}
	f, err := os.OpenFile(p.path(i), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	h := &partHandle{f: f, refs: 1, used: p.tick}
	p.handles[i] = h
	return h, nil
}

func (p *partsFile) release(h *partHandle) {
	p.mu.Lock()
	h.refs--
	p.mu.Unlock()
}

// span calls fn for each part the bytes [off, off+n) fall in, with the part, the offset in it and
// the range of the n bytes it holds.
func (p *partsFile) span(off int64, n int, fn func(h *partHandle, i int, at int64, from, to int) error) error {
	done := 0
	for done < n {
		pos := off + int64(done)
		i := int(pos / p.size)
		at := pos % p.size
		m := n - done
		if room := p.size - at; int64(m) > room {
			m = int(room)
		}
		h, err := p.acquire(i)
		if err != nil {
			return err
		}
		err = fn(h, i, at, done, done+m)
		p.release(h)
		if err != nil {
			return err
		}
		done += m
	}
	return nil
}

func (p *partsFile) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("partsFile.WriteAt: negative offset")
	}
	err := p.span(off, len(b), func(h *partHandle, _ int, at int64, from, to int) error {
		_, err := h.f.WriteAt(b[from:to], at)
		return err
	})
	if err != nil {
		return 0, err
	}
	// Checked once written: bytes a reader has taken (or reserved) for the hash before or while
	// they were written again make the part's hash wrong.
	p.umu.Lock()
	for pos := off; pos < off+int64(len(b)); pos = (pos/p.size + 1) * p.size {
		if i := int(pos / p.size); pos%p.size < p.upTo[i] {
			p.dirty[i] = true
		}
	}
	p.umu.Unlock()
	p.mu.Lock()
	if end := off + int64(len(b)); end > p.total {
		p.total = end
	}
	p.mu.Unlock()
	return len(b), nil
}

func (p *partsFile) ReadAt(b []byte, off int64) (int, error) {
	p.mu.Lock()
	total := p.total
	p.mu.Unlock()
	if off >= total {
		return 0, io.EOF
	}
	n := len(b)
	var eof error
	if int64(n) > total-off {
		n, eof = int(total-off), io.EOF
	}
	// One reader at a time hands bytes to the hasher, in order.
	p.hmu.Lock()
	defer p.hmu.Unlock()
	err := p.span(off, n, func(h *partHandle, i int, at int64, from, to int) error {
		prev, follow := p.reserve(i, at+int64(to-from))
		m, err := h.f.ReadAt(b[from:to], at)
		if err == io.EOF && m < to-from {
			// A part not written up to here reads as zeros, as a file's hole does.
			clear(b[from+m : to])
			err = nil
		}
		if err != nil || !follow {
			return err
		}
		if err := p.feedFrom(h, i, prev, at); err != nil {
			return err
		}
		if prev > at {
			from += int(prev - at)
		}
		p.hasher.write(i, b[from:to])
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, eof
}

// reserve takes the bytes of part i up to end for its hash, before they are read: a write that
// ends after this and lands below end makes the part dirty. It returns how far the part was
// taken before, and false when there is nothing new to hash (or the part is dirty).
func (p *partsFile) reserve(i int, end int64) (int64, bool) {
	p.umu.Lock()
	defer p.umu.Unlock()
	prev := p.upTo[i]
	if p.dirty[i] || end <= prev {
		return prev, false
	}
	p.upTo[i] = end
	return prev, true
}

// feedFrom hands the bytes [from, to) of part i, read from its file, to the hasher: bytes
// written before the ones a reader reads (the bundle's small files, headers).
func (p *partsFile) feedFrom(h *partHandle, i int, from, to int64) error {
	if from >= to {
		return nil
	}
	buf := make([]byte, min(to-from, pipeChunk))
	for from < to {
		k := min(int64(len(buf)), to-from)
		m, err := h.f.ReadAt(buf[:k], from)
		if err == io.EOF && int64(m) < k {
			clear(buf[m:k])
			err = nil
		}
		if err != nil {
			return err
		}
		p.hasher.write(i, buf[:k])
		from += k
	}
	return nil
}

// Truncate makes the file n bytes long, every part of its size but the last.
func (p *partsFile) Truncate(n int64) error {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
	return p.fixSizes()
}

// fixSizes gives every part its size: the size of a part but the last, which holds the rest.
func (p *partsFile) fixSizes() error {
	p.mu.Lock()
	n, total := p.count(), p.total
	p.mu.Unlock()
	if n > maxParts {
		return fmt.Errorf("the bundle (%d bytes) would be more than %d parts of %d bytes: split it in larger parts", total, maxParts, p.size)
	}
	for i := 0; i < n; i++ {
		want := p.size
		if i == n-1 {
			want = total - int64(i)*p.size
		}
		h, err := p.acquire(i)
		if err != nil {
			return err
		}
		err = h.f.Truncate(want)
		p.release(h)
		if err != nil {
			return err
		}
	}
	// Parts past the end (a shrink): removed.
	for i := n; ; i++ {
		p.mu.Lock()
		if h := p.handles[i]; h != nil {
			h.f.Close()
			delete(p.handles, i)
		}
		p.mu.Unlock()
		if err := os.Remove(p.path(i)); err != nil {
			break
		}
	}
	return nil
}

func (p *partsFile) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for i, h := range p.handles {
		if err := h.f.Close(); err != nil && first == nil {
			first = err
		}
		delete(p.handles, i)
	}
	return first
}

// finish closes the parts and returns their sha256 sums: hashed mostly on the way (follow), the
// rest of each part read back now; a part written again behind what was hashed of it is hashed
// again whole from disk.
func (p *partsFile) finish(ctx context.Context) ([]string, error) {
	if err := p.fixSizes(); err != nil {
		p.abort()
		return nil, err
	}
	n := p.count()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			p.abort()
			return nil, err
		}
		want := min(p.size, p.total-int64(i)*p.size)
		h, err := p.acquire(i)
		if err != nil {
			p.abort()
			return nil, err
		}
		p.hmu.Lock()
		if prev, follow := p.reserve(i, want); follow {
			err = p.feedFrom(h, i, prev, want)
		}
		p.umu.Lock()
		dirty := p.dirty[i]
		p.umu.Unlock()
		if err == nil && !dirty {
			p.hasher.end(i)
		}
		p.hmu.Unlock()
		p.release(h)
		if err != nil {
			p.abort()
			return nil, err
		}
	}
	sums := p.hasher.close()
	if err := p.Close(); err != nil {
		return nil, err
	}
	out := make([]string, n)
	var again []string
	var idx []int
	for i := range out {
		if s, ok := sums[i]; ok && !p.dirty[i] {
			out[i] = s
			continue
		}
		again = append(again, p.path(i))
		idx = append(idx, i)
	}
	resums, err := hashFiles(ctx, again)
	if err != nil {
		return nil, err
	}
	for k, i := range idx {
		out[i] = resums[k]
	}
	return out, nil
}

// abort stops the hasher (the caller removes the parts).
func (p *partsFile) abort() {
	p.hasher.close()
	p.Close()
}

// hashFiles returns the hex sha256 of each file, hashing a few at once.
func hashFiles(ctx context.Context, paths []string) ([]string, error) {
	sums := make([]string, len(paths))
	errs := make([]error, len(paths))
	workers := runtime.GOMAXPROCS(0)
	if workers > 4 {
		workers = 4
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range next {
				sums[i], errs[i] = hashFile(ctx, paths[i], buf)
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return sums, errors.Join(errs...)
}

func hashFile(ctx context.Context, p string, buf []byte) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// partsWriter writes a stream into part files of size each in dir (part-0, part-1, …), hashing
// each as it is written: a compressed bundle archive, whose size is not known in advance.
type partsWriter struct {
	dir  string
	size int64

	f    *os.File
	n    int64 // bytes in f
	h    hash.Hash
	sums []string
}

func newPartsWriter(dir string, size int64) *partsWriter {
	return &partsWriter{dir: dir, size: size}
}

func (w *partsWriter) path(i int) string { return filepath.Join(w.dir, "part-"+strconv.Itoa(i)) }

func (w *partsWriter) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		if w.f == nil {
			if len(w.sums) >= maxParts {
				return done, fmt.Errorf("the bundle would be more than %d parts of %d bytes: split it in larger parts", maxParts, w.size)
			}
			f, err := os.OpenFile(w.path(len(w.sums)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return done, err
			}
			w.f, w.n, w.h = f, 0, sha256.New()
		}
		m := len(b) - done
		if room := w.size - w.n; int64(m) > room {
			m = int(room)
		}
		k, err := w.f.Write(b[done : done+m])
		w.h.Write(b[done : done+k])
		w.n += int64(k)
		done += k
		if err != nil {
			return done, err
		}
		if w.n == w.size {
			if err := w.closePart(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

func (w *partsWriter) closePart() error {
	err := w.f.Close()
	w.f = nil
	w.sums = append(w.sums, hex.EncodeToString(w.h.Sum(nil)))
	return err
}

// finish closes the last part and returns every part's sha256.
func (w *partsWriter) finish() ([]string, error) {
	if w.f != nil {
		if err := w.closePart(); err != nil {
			return nil, err
		}
	}
	return w.sums, nil
}

// abort closes an open part (the caller removes the directory).
func (w *partsWriter) abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// commitParts moves the parts written in dir (part-0, …, whose sums are sums) into place as
// OUT.001, … and writes OUT.sha256, last, from tmp. With force, what an earlier output left
// (OUT itself, parts past the new ones or of another width) is removed.
func commitParts(dir, tmp, out string, sums []string, force bool) error {
	n := len(sums)
	if n == 0 {
		return errors.New("no part written")
	}
	var list strings.Builder
	names := map[string]bool{}
	for i, s := range sums {
		name := partName(out, i, n)
		names[name] = true
		fmt.Fprintf(&list, "%s  %s\n", s, filepath.Base(name))
	}
	listTmp := filepath.Join(tmp, "parts.sha256")
	if err := os.WriteFile(listTmp, []byte(list.String()), 0o644); err != nil {
		return err
	}
	// Refused earlier unless force; checked again: a part must not be replaced silently.
	if err := CheckOutput(out, true, force); err != nil {
		return err
	}
	var stale []string
	if force {
		stale = existingParts(out)
	}
	var moved []string
	for i := range sums {
		name := partName(out, i, n)
		if err := os.Rename(filepath.Join(dir, "part-"+strconv.Itoa(i)), name); err != nil {
			for _, m := range moved {
				os.Remove(m)
			}
			return fmt.Errorf("move part into place at %s: %w", name, err)
		}
		moved = append(moved, name)
	}
	for _, s := range stale {
		if !names[s] && s != out+PartsSuffix {
			if err := os.Remove(s); err != nil {
				return fmt.Errorf("remove %s of the earlier output: %w", s, err)
			}
		}
	}
	if force {
		if st, err := os.Lstat(out); err == nil {
			rm := os.Remove
			if st.IsDir() {
				rm = removeAll
			}
			if err := rm(out); err != nil {
				return fmt.Errorf("remove the earlier output %s: %w", out, err)
			}
		}
	}
	if err := os.Rename(listTmp, out+PartsSuffix); err != nil {
		return fmt.Errorf("move the parts list into place at %s: %w", out+PartsSuffix, err)
	}
	return nil
}

// ---- reading ---------------------------------------------------------------------------------

// Parts is a bundle archive split in parts, as its parts list names them.
type Parts struct {
	// List is the parts list's path (OUT.sha256); Archive the archive's (OUT), which need not
	// exist.
	List, Archive string
	Parts         []Part
}

// Part is one part of a split archive.
type Part struct {
	// Name is the file name as listed, Path its path (beside the list).
	Name, Path string
	// Sum is the hex sha256 the list gives.
	Sum string
}

// FindParts says whether path names a bundle archive split in parts, and reads its parts list:
// path is the parts list (shop-1.0.tar.sha256), one of the parts (shop-1.0.tar.001), or the
// archive's own name when only its parts exist (shop-1.0.tar). It returns nil, nil for any other
// path, and an error for a part whose list is missing or a list that cannot be read. Only
// archive names (FormatOf: .tar, .tar.gz, .tgz, .tar.zst) are split: x.sha256 or x.001 beside
// another kind of file are not parts.
func FindParts(path string) (*Parts, error) {
	st, err := os.Stat(path)
	var list string
	switch {
	case err == nil && st.IsDir():
		return nil, nil
	case err == nil && strings.HasSuffix(path, PartsSuffix):
		list = path
	case err == nil:
		m := partNumber.FindStringSubmatch(path)
		if m == nil {
			return nil, nil
		}
		list = m[1] + PartsSuffix
		if _, err := os.Stat(list); err != nil {
			if _, aerr := os.Stat(m[1]); aerr == nil {
				return nil, nil // a file named like a part beside its whole archive: not a part
			}
			if FormatOf(m[1]) == FormatDir {
				return nil, nil
			}
			return nil, fmt.Errorf("%s is one part of a split bundle archive, but its parts list %s is missing: it names every part and its checksum; copy it beside the parts", path, filepath.Base(list))
		}
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Stat(path + PartsSuffix); lerr != nil {
			return nil, nil
		}
		list = path + PartsSuffix
	default:
		return nil, nil
	}
	if FormatOf(strings.TrimSuffix(list, PartsSuffix)) == FormatDir {
		return nil, nil // a checksum file, not the parts list of a bundle archive
	}
	return ReadPartsList(list)
}

// ReadPartsList reads a parts list: lines "<sha256 hex>  <file name>" (sha256sum's format, a
// '*' before the name allowed), each naming a file beside the list.
func ReadPartsList(list string) (*Parts, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("read parts list: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSmallFile {
		return nil, fmt.Errorf("%s is too large to be a parts list", list)
	}
	ps := &Parts{List: list, Archive: strings.TrimSuffix(list, PartsSuffix)}
	dir := filepath.Dir(list)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	seen := map[string]bool{}
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		sum, name, ok := strings.Cut(text, " ")
		name = strings.TrimPrefix(strings.TrimPrefix(name, " "), "*")
		if !ok || !isSHA256Hex(sum) || name == "" {
			return nil, fmt.Errorf("%s line %d: want \"<sha256>  <part file name>\" (sha256sum's format), got %q", list, line, text)
		}
		if name != filepath.Base(name) || name == "." || name == ".." || strings.ContainsRune(name, '/') {
			return nil, fmt.Errorf("%s line %d: part %q is not a file name beside the list", list, line, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s line %d: part %s is listed twice", list, line, name)
		}
		seen[name] = true
		ps.Parts = append(ps.Parts, Part{Name: name, Path: filepath.Join(dir, name), Sum: strings.ToLower(sum)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", list, err)
	}
	if len(ps.Parts) == 0 {
		return nil, fmt.Errorf("%s lists no parts", list)
	}
	return ps, nil
}

// Missing returns the problems of the parts that are not there: "shop-1.0.tar.003: missing".
func (ps *Parts) Missing() []Problem {
	var out []Problem
	for _, p := range ps.Parts {
		if st, err := os.Stat(p.Path); err != nil {
			out = append(out, Problem{File: p.Name, Msg: "missing"})
		} else if !st.Mode().IsRegular() {
			out = append(out, Problem{File: p.Name, Msg: "not a regular file"})
		}
	}
	return out
}

// Strays returns a problem for each file beside the parts that the join, `cat OUT.[0-9]* >
// OUT`, would take for a part but the list does not name (a part left from another split to
// the same name): the joined archive would end in its bytes.
func (ps *Parts) Strays() []Problem {
	listed := map[string]bool{}
	for _, p := range ps.Parts {
		listed[p.Name] = true
	}
	entries, err := os.ReadDir(filepath.Dir(ps.List))
	if err != nil {
		return nil // the parts' own checks say what is wrong with the directory
	}
	prefix := filepath.Base(ps.Archive) + "."
	var out []Problem
	for _, e := range entries {
		n := e.Name()
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok || rest == "" || rest[0] < '0' || rest[0] > '9' || listed[n] {
			continue
		}
		out = append(out, Problem{File: n, Msg: fmt.Sprintf("not a part %s lists (left from another split?): the join, cat %s[0-9]*, would append it to the archive: remove it", filepath.Base(ps.List), prefix)})
	}
	return out
}

// Check hashes every part present and returns one problem per part missing or damaged.
func (ps *Parts) Check(ctx context.Context) ([]Problem, error) {
	missing := ps.Missing()
	gone := map[string]bool{}
	for _, m := range missing {
		gone[m.File] = true
	}
	var paths []string
	var idx []int
	for i, p := range ps.Parts {
		if !gone[p.Name] {
			paths = append(paths, p.Path)
			idx = append(idx, i)
		}
	}
	sums, err := hashFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	got := make([]string, len(ps.Parts))
	for k, i := range idx {
		got[i] = sums[k]
	}
	return ps.problems(gone, got), nil
}

// problems lists, in part order, the parts missing (gone) or whose sum (got) is not the listed.
func (ps *Parts) problems(gone map[string]bool, got []string) []Problem {
	var out []Problem
	for i, p := range ps.Parts {
		switch {
		case gone[p.Name]:
			out = append(out, Problem{File: p.Name, Msg: "missing"})
		case got[i] != p.Sum:
			out = append(out, Problem{File: p.Name, Msg: fmt.Sprintf("damaged (sha256 %s, %s lists %s)", got[i], filepath.Base(ps.List), p.Sum)})
		}
	}
	return out
}

// joinedReader reads the parts one after the other as one archive, never joined on disk. It
// hashes each part as it is read front to back, so that a walk of the whole archive checks the
// parts on the way.
type joinedReader struct {
	ps    *Parts
	sizes []int64
	total int64

	pos    int64
	cur    int // part open in f, -1 none
	f      *os.File
	hasher *pipeHasher
	upTo   []int64 // bytes of each part hashed so far, from its start
}

// open stats every part (all must be there) and returns a reader of their concatenation.
func (ps *Parts) open() (*joinedReader, error) {
	j := &joinedReader{ps: ps, cur: -1, hasher: newPipeHasher()}
	for _, p := range ps.Parts {
		st, err := os.Stat(p.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: missing", p.Name)
		}
		j.sizes = append(j.sizes, st.Size())
		j.total += st.Size()
	}
	j.upTo = make([]int64, len(ps.Parts))
	for i, n := range j.sizes {
		if n == 0 {
			j.hasher.end(i)
		}
	}
	return j, nil
}

func (j *joinedReader) Read(b []byte) (int, error) {
	for {
		if j.pos >= j.total {
			return 0, io.EOF
		}
		i, at := j.locate(j.pos)
		if j.cur != i {
			if j.f != nil {
				j.f.Close()
				j.f = nil
			}
			f, err := os.Open(j.ps.Parts[i].Path)
			if err != nil {
				return 0, err
			}
			j.f, j.cur = f, i
		}
		m := len(b)
		if room := j.sizes[i] - at; int64(m) > room {
			m = int(room)
		}
		n, err := j.f.ReadAt(b[:m], at)
		if n > 0 {
			j.hash(i, at, b[:n])
			j.pos += int64(n)
		}
		if err == io.EOF {
			if n == m {
				err = nil
			} else {
				err = fmt.Errorf("%s changed while being read", j.ps.Parts[i].Name)
			}
		}
		if n > 0 || err != nil {
			return n, err
		}
		if m == 0 {
			continue // an empty part
		}
	}
}

// hash feeds the bytes b read at offset at of part i to its hash when they continue it.
func (j *joinedReader) hash(i int, at int64, b []byte) {
	end := at + int64(len(b))
	if at > j.upTo[i] || end <= j.upTo[i] {
		return
	}
	j.hasher.write(i, b[j.upTo[i]-at:])
	j.upTo[i] = end
	if end == j.sizes[i] {
		j.hasher.end(i)
	}
}

func (j *joinedReader) locate(pos int64) (int, int64) {
	for i, s := range j.sizes {
		if pos < s {
			return i, pos
		}
		pos -= s
	}
	return len(j.sizes) - 1, j.sizes[len(j.sizes)-1]
}

func (j *joinedReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += j.pos
	case io.SeekEnd:
		off += j.total
	default:
		return 0, errors.New("joinedReader.Seek: bad whence")
	}
	if off < 0 {
		return 0, errors.New("joinedReader.Seek: negative position")
	}
	j.pos = off
	return off, nil
}

func (j *joinedReader) Close() error {
	j.hasher.close()
	if j.f != nil {
		err := j.f.Close()
		j.f = nil
		return err
	}
	return nil
}

// check returns the problems of the parts: the sums hashed while reading, the parts not read
// through hashed now.
func (j *joinedReader) check(ctx context.Context) ([]Problem, error) {
	done := j.hasher.close()
	got := make([]string, len(j.ps.Parts))
	var paths []string
	var idx []int
	for i := range got {
		if s, ok := done[i]; ok {
			got[i] = s
			continue
		}
		paths = append(paths, j.ps.Parts[i].Path)
		idx = append(idx, i)
	}
	sums, err := hashFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	for k, i := range idx {
		got[i] = sums[k]
	}
	return j.ps.problems(nil, got), nil
}

// IsPartOf says whether p is the parts list or a part of the archive out.
func IsPartOf(p, out string) bool {
	if p == out+PartsSuffix {
		return true
	}
	m := partNumber.FindStringSubmatch(p)
	return m != nil && m[1] == out
}

// pipeHasher hashes the parts' bytes, given in order, in a goroutine of its own: the reader or
// writer that hands them over goes on meanwhile (the hash costs CPU, not a pass over the disk).
type pipeHasher struct {
	jobs chan hashJob
	done chan struct{}
	pool sync.Pool

	sums map[int]string // after close
	once sync.Once
}

type hashJob struct {
	part int
	buf  *[]byte // nil: the part is complete
}

// pipeChunk is the size of the buffers handed to the hasher; pipeDepth how many wait at most.
const (
	pipeChunk = 1 << 20
	pipeDepth = 8
)

func newPipeHasher() *pipeHasher {
	p := &pipeHasher{jobs: make(chan hashJob, pipeDepth), done: make(chan struct{}), sums: map[int]string{}}
	p.pool.New = func() any { b := make([]byte, 0, pipeChunk); return &b }
	go func() {
		defer close(p.done)
		hs := map[int]hash.Hash{}
		for j := range p.jobs {
			h := hs[j.part]
			if h == nil {
				h = sha256.New()
				hs[j.part] = h
			}
			if j.buf == nil {
				p.sums[j.part] = hex.EncodeToString(h.Sum(nil))
				delete(hs, j.part)
				continue
			}
			h.Write(*j.buf)
			*j.buf = (*j.buf)[:0]
			p.pool.Put(j.buf)
		}
	}()
	return p
}

// write hands over the next bytes of part i (copied: b may be reused at once).
func (p *pipeHasher) write(i int, b []byte) {
	for len(b) > 0 {
		buf := p.pool.Get().(*[]byte)
		n := min(len(b), pipeChunk)
		*buf = append(*buf, b[:n]...)
		p.jobs <- hashJob{part: i, buf: buf}
		b = b[n:]
	}
}

// end says part i is complete.
func (p *pipeHasher) end(i int) { p.jobs <- hashJob{part: i} }

// close waits for the hasher and returns the sums of the parts ended.
func (p *pipeHasher) close() map[int]string {
	p.once.Do(func() { close(p.jobs) })
	<-p.done
	return p.sums
}
