// Package bundle defines the airpack bundle: its layout on disk, the airpack.json manifest, the
// SHA256SUMS file, and the checks `airpack verify` and `airpack inspect` run on a bundle directory
// or archive. The contract it implements is docs/bundle-format.md.
package bundle
