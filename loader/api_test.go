package loader

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// engineAPI is a stand-in for the engine's POST /images/load that records what it was sent and
// answers with answer (run after the body was read, unless early is set: then at once, without
// reading it).
type engineAPI struct {
	sock     string
	mu       sync.Mutex
	body     bytes.Buffer
	bodyErr  error
	request  *http.Request
	answered chan struct{}
}

func newEngineAPI(t *testing.T, early bool, answer func(w http.ResponseWriter)) *engineAPI {
	t.Helper()
	e := &engineAPI{sock: socketPath(t), answered: make(chan struct{})}
	l, err := net.Listen("unix", e.sock)
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(e.answered)
		e.mu.Lock()
		e.request = r
		e.mu.Unlock()
		if !early {
			buf := make([]byte, 64<<10)
			for {
				n, err := r.Body.Read(buf)
				e.mu.Lock()
				e.body.Write(buf[:n])
				if err != nil && err != io.EOF {
					e.bodyErr = err
				}
				e.mu.Unlock()
				if err != nil {
					break
				}
			}
		}
		answer(w)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return e
}

func (e *engineAPI) received() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.body.Len(), e.bodyErr
}

func answerLines(lines ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

// apiRun is STREAM_API started against sock for the archive data (size: its length, unless
// sizeArg overrides it), its standard input a pipe the test writes "go" to, or closes.
type apiRun struct {
	cmd            *exec.Cmd
	control        io.WriteCloser
	stdout, stderr bytes.Buffer
	traceLog       string
}

const apiMiB, apiBlocks = 3, 7

func startAPI(t *testing.T, sock string, data []byte, sizeArg int, trace bool) *apiRun {
	t.Helper()
	f := filepath.Join(t.TempDir(), "images.tar")
	must(t, os.WriteFile(f, data, 0o644))
	if sizeArg < 0 {
		sizeArg = len(data)
	}
	args := []string{"perl", "-e", perlProgram(t, "STREAM_API"), sock, f, fmt.Sprint(apiMiB), fmt.Sprint(apiBlocks), fmt.Sprint(sizeArg), "1"}
	r := &apiRun{}
	if trace {
		strace, err := exec.LookPath("strace")
		if err != nil {
			t.Fatal("strace is needed to see STREAM_API use sendfile (apt-get install strace)")
		}
		r.traceLog = filepath.Join(t.TempDir(), "strace.log")
		args = append([]string{strace, "-f", "-e", "trace=sendfile", "-o", r.traceLog}, args...)
	}
	r.cmd = exec.Command(args[0], args[1:]...)
	r.cmd.Stdout = &r.stdout
	r.cmd.Stderr = &r.stderr
	var err error
	r.control, err = r.cmd.StdinPipe()
	must(t, err)
	must(t, r.cmd.Start())
	t.Cleanup(func() { r.cmd.Process.Kill() })
	return r
}

// exit closes the control pipe (after "go" when say) and returns perl's exit code.
func (r *apiRun) exit(t *testing.T, say bool) int {
	t.Helper()
	if say {
		io.WriteString(r.control, "go\n")
	}
	r.control.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		must(t, err)
		return 0
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("STREAM_API did not end; stderr: %s", r.stderr.String())
		return -1
	}
}

func apiData() []byte {
	data := make([]byte, apiMiB<<20+apiBlocks*512+int(streamTail))
	for i := range data {
		data[i] = byte(i*13 + i>>10)
	}
	return data
}

// STREAM_API: POST /images/load with the archive as its body, sent by sendfile(2); the head
// first, the rest only after "go"; the engine's answer printed as docker load does; and the exit
// codes load.sh tells apart.
func TestStreamAPI(t *testing.T) {
	data := apiData()
	head := apiMiB<<20 + apiBlocks*512

	// waitHead waits until the engine has the head, then checks that nothing more comes.
	waitHead := func(t *testing.T, e *engineAPI, r *apiRun) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n, _ := e.received(); n < head && time.Now().Before(deadline); n, _ = e.received() {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if n, _ := e.received(); n != head {
			t.Fatalf("before go the engine received %d bytes, want the head's %d; stderr: %s", n, head, r.stderr.String())
		}
	}

	t.Run("go: the whole archive, by sendfile", func(t *testing.T) {
		e := newEngineAPI(t, false, answerLines(
			`{"stream":"Loaded image: shop/web:1.0\n"}`,
			`{"stream":"Loaded image: \u003cnone\u003e \"x\"\n"}`))
		r := startAPI(t, e.sock, data, -1, true)
		waitHead(t, e, r)
		if code := r.exit(t, true); code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", code, r.stderr.String())
		}
		n, err := e.received()
		if err != nil || n != len(data) || !bytes.Equal(e.body.Bytes(), data) {
			t.Fatalf("the engine received %d bytes (%v), want the archive's %d exactly", n, err, len(data))
		}
		req := e.request
		if req.Method != http.MethodPost || req.URL.Path != "/images/load" || req.URL.Query().Get("quiet") != "1" ||
			req.ContentLength != int64(len(data)) || req.Header.Get("Content-Type") != "application/x-tar" {
			t.Errorf("request %s %s, Content-Length %d, Content-Type %q", req.Method, req.URL, req.ContentLength, req.Header.Get("Content-Type"))
		}
		if got, want := r.stdout.String(), "Loaded image: shop/web:1.0\nLoaded image: <none> \"x\"\n"; got != want {
			t.Errorf("stdout %q, want %q", got, want)
		}
		log, _ := os.ReadFile(r.traceLog)
		if !strings.Contains(string(log), "sendfile(") || strings.Contains(string(log), "sendfile(1,") {
			t.Errorf("no sendfile to the socket in the strace log:\n%s", log)
		}
	})

	t.Run("no go: the body stays short", func(t *testing.T) {
		e := newEngineAPI(t, false, answerLines(`{"error":"unexpected EOF"}`))
		r := startAPI(t, e.sock, data, -1, false)
		waitHead(t, e, r)
		if code := r.exit(t, false); code != 3 {
			t.Fatalf("exit %d, want 3", code)
		}
		<-e.answered
		if n, err := e.received(); n != head || err == nil {
			t.Fatalf("the engine received %d bytes (error %v), want the head's %d and a short body", n, err, head)
		}
	})

	t.Run("the engine's error", func(t *testing.T) {
		e := newEngineAPI(t, false, answerLines(
			`{"stream":"Loaded image: shop/web:1.0\n"}`,
			`{"errorDetail":{"message":"write /var/lib/docker/tmp/x: no space left on device"},"error":"write /var/lib/docker/tmp/x: no space left on device"}`))
		r := startAPI(t, e.sock, data, -1, false)
		if code := r.exit(t, true); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		if got, want := r.stderr.String(), "write /var/lib/docker/tmp/x: no space left on device\n"; got != want {
			t.Errorf("stderr %q, want %q", got, want)
		}
	})

	t.Run("the engine refuses the request", func(t *testing.T) {
		e := newEngineAPI(t, false, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, `{"message":"client version 1.99 is too new"}`)
		})
		r := startAPI(t, e.sock, data, -1, false)
		if code := r.exit(t, true); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		if got := r.stderr.String(); got != "client version 1.99 is too new\n" {
			t.Errorf("stderr %q", got)
		}
	})

	t.Run("short archive", func(t *testing.T) {
		e := newEngineAPI(t, false, answerLines(`{"error":"unexpected EOF"}`))
		r := startAPI(t, e.sock, data[:2<<20], len(data), false)
		if code := r.exit(t, true); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})

	t.Run("the engine stops reading", func(t *testing.T) {
		e := newEngineAPI(t, true, answerLines(`{"stream":"Loaded image: shop/web:1.0\n"}`))
		big := bytes.Repeat(data, 4) // more than the server reads on to keep the connection
		r := startAPI(t, e.sock, big, -1, false)
		if code := r.exit(t, true); code != 4 {
			t.Fatalf("exit %d, want 4; stderr: %s", code, r.stderr.String())
		}
	})

	t.Run("no connection", func(t *testing.T) {
		sock := deadSocket(t)
		r := startAPI(t, sock, data, -1, false)
		if code := r.exit(t, true); code != 5 {
			t.Fatalf("exit %d, want 5", code)
		}
		if got := r.stderr.String(); !strings.HasPrefix(got, "cannot connect to the Docker engine at "+sock+": ") {
			t.Errorf("stderr %q", got)
		}
	})
}
