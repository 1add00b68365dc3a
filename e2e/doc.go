// Package e2e holds airpack's end-to-end tests: they pack real applications from the real
// Distribution registry (Debian's docker-registry) and the real Docker engine, and run the
// bundles with the real `docker compose`. They are behind the "e2e" build tag and need a
// running engine; scripts/test.sh starts each engine in turn (Docker 20.10 with the classic
// image store, Docker 29 with the containerd image store) and runs them. They never skip:
// a missing tool is a failure.
package e2e
