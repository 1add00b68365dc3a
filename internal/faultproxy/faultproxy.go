// Package faultproxy is an HTTP proxy for tests that stands in front of a registry and breaks
// blob downloads in the middle: after a number of bytes of a blob's body it resets the
// connection, as a flaky network does.
package faultproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
)

// Faults says which blob downloads break.
type Faults struct {
	// Times is how many downloads of each blob break before one goes through; < 0: all do.
	Times int
	// After is how many bytes of the body are sent before the connection is reset.
	After int64
	// MinSize: only blobs of at least this many bytes break (the large layers).
	MinSize int64
	// Corrupt flips the bits of the bytes a broken download sends, so a client that keeps
	// anything of a failed download shows it.
	Corrupt bool
}

// Proxy forwards every request to a registry, breaking blob downloads as its Faults say.
type Proxy struct {
	// Host is the proxy's host:port, a loopback address (plain HTTP for registry clients).
	Host string
	srv  *httptest.Server

	mu     sync.Mutex
	faults Faults
	broken map[string]int // blob path -> downloads broken so far
	served map[string]int // blob path -> downloads served whole
}

// Start starts a proxy in front of the registry at upstream (host:port, plain HTTP).
func Start(upstream string, f Faults) *Proxy {
	p := &Proxy{faults: f, broken: map[string]int{}, served: map[string]int{}}
	target := &url.URL{Scheme: "http", Host: upstream}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, target)
	}))
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// SetFaults changes the faults of the downloads to come and forgets the counts so far.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.broken, p.served = f, map[string]int{}, map[string]int{}
}

// Broken is how many blob downloads were broken, in all.
func (p *Proxy) Broken() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return sum(p.broken)
}

// Served is how many downloads of the blobs Faults name (MinSize) went through whole, in all.
func (p *Proxy) Served() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return sum(p.served)
}

func sum(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, target *url.URL) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	out.Host = target.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if strings.EqualFold(k, "Location") {
			// Redirects (to the registry itself) keep going through the proxy.
			for i, v := range vs {
				vs[i] = strings.Replace(v, target.Host, p.Host, 1)
			}
		}
		w.Header()[k] = vs
	}
	p.mu.Lock()
	f := p.faults
	blob := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") &&
		resp.StatusCode == http.StatusOK && resp.ContentLength >= f.MinSize && resp.ContentLength > f.After
	brk := blob && (f.Times < 0 || p.broken[r.URL.Path] < f.Times)
	if brk {
		p.broken[r.URL.Path]++
	} else if blob {
		p.served[r.URL.Path]++
	}
	p.mu.Unlock()
	w.WriteHeader(resp.StatusCode)
	if !brk {
		io.Copy(w, resp.Body)
		return
	}
	b := make([]byte, f.After)
	n, _ := io.ReadFull(resp.Body, b)
	if f.Corrupt {
		for i := range b[:n] {
			b[i] ^= 0xff
		}
	}
	w.Write(b[:n])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with a reset, not an orderly end
	}
	conn.Close()
}
