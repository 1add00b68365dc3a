// Command demoapp is the application airpack's demo and end-to-end tests ship: one static
// binary, several roles, so that a Compose project of it exercises what a real app needs
// (a published port, service-to-service calls, a mounted config file, env vars, a volume).
//
//	demoapp web     :8080  GET / reports config file, $GREETING, and the answers of api and echo
//	demoapp api     :8081  GET / answers "token=$API_TOKEN" and records a hit in /data
//	demoapp echo    :8082  GET / answers "echo ok"
//	demoapp worker         idles (a service with no port)
//	demoapp probe URL      exits 0 when GET URL answers 200, else 1: a healthcheck for images
//	                       without a shell
//	demoapp report [-listen :8080] [-env A,B] [-file PATH] [-call URL]
//	                       GET / reports the named variables ("env A=..."), the file's content
//	                       ("file=..."), and the answer of URL ("call=..."; $VARs in it expanded
//	                       from the environment): how the RAM end-to-end tests see what a
//	                       component got
//	demoapp stat PATH...   prints one line per path, "stat PATH mode=0700 uid=472 gid=472
//	                       [link=TARGET] [content=...]" (content of files, first line), then
//	                       idles: how the end-to-end tests see the files a container got
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demoapp web|api|echo|worker|report|probe|stat")
		os.Exit(2)
	}
	switch role := os.Args[1]; role {
	case "web":
		serve(":8080", web)
	case "api":
		serve(":8081", api)
	case "echo":
		serve(":8082", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "echo ok") })
	case "report":
		report(os.Args[2:])
	case "probe":
		probe(os.Args[2:])
	case "stat":
		for _, p := range os.Args[2:] {
			fmt.Println(statLine(p))
		}
		for {
			time.Sleep(time.Hour)
		}
	case "worker":
		for {
			time.Sleep(time.Hour)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		os.Exit(2)
	}
}

func serve(addr string, h http.HandlerFunc) {
	fmt.Println("listening on", addr)
	if err := http.ListenAndServe(addr, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func web(w http.ResponseWriter, _ *http.Request) {
	conf, err := os.ReadFile(env("CONFIG_FILE", "/etc/demo/app.conf"))
	if err != nil {
		conf = []byte("ERROR " + err.Error())
	}
	fmt.Fprintf(w, "config=%s\n", strings.TrimSpace(string(conf)))
	fmt.Fprintf(w, "greeting=%s\n", os.Getenv("GREETING"))
	fmt.Fprintf(w, "api=%s\n", get(env("API_URL", "http://api:8081/")))
	fmt.Fprintf(w, "echo=%s\n", get(env("ECHO_URL", "http://echo:8082/")))
}

func api(w http.ResponseWriter, _ *http.Request) {
	if dir := os.Getenv("DATA_DIR"); dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, "hits"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, time.Now().Unix())
			f.Close()
		}
	}
	fmt.Fprintf(w, "token=%s\n", os.Getenv("API_TOKEN"))
}

func get(url string) string {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "ERROR " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func report(args []string) {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	names := fs.String("env", "", "comma-separated environment variables to report")
	file := fs.String("file", "", "file whose content to report")
	call := fs.String("call", "", "URL to GET and report; $VAR and ${VAR} are expanded from the environment")
	fs.Parse(args)
	serve(*listen, func(w http.ResponseWriter, _ *http.Request) {
		for _, n := range strings.Split(*names, ",") {
			if n != "" {
				fmt.Fprintf(w, "env %s=%s\n", n, os.Getenv(n))
			}
		}
		if *file != "" {
			b, err := os.ReadFile(*file)
			if err != nil {
				b = []byte("ERROR " + err.Error())
			}
			fmt.Fprintf(w, "file=%s\n", strings.TrimSpace(string(b)))
		}
		if *call != "" {
			fmt.Fprintf(w, "call=%s\n", strings.ReplaceAll(get(os.ExpandEnv(*call)), "\n", " | "))
		}
	})
}

func probe(args []string) {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: demoapp probe URL")
		os.Exit(2)
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, args[0], "answered", resp.Status)
		os.Exit(1)
	}
}

// statLine describes path as a container sees it: mode, numeric owner, link target, content.
func statLine(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Sprintf("stat %s ERROR %v", path, err)
	}
	line := fmt.Sprintf("stat %s mode=%04o", path, fi.Mode().Perm())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		line += fmt.Sprintf(" uid=%d gid=%d", st.Uid, st.Gid)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		line += " link=" + target
	case fi.IsDir():
		line += " dir"
	}
	if b, err := os.ReadFile(path); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		line += " content=" + first
	}
	return line
}
