// Package imageset resolves the images of an application from their sources (a registry, the
// local Docker engine, an OCI layout directory, image archive files such as a RAM package's
// component-images.tar, or any v1.Image) and writes them into one
// dual-format image archive: Docker's manifest.json for the classic image store and an OCI image
// layout for the containerd image store, pointing at the same blobs, each blob stored once.
//
// The flow is plan first, then write: Resolve finds every image (failing with one line per
// problem before anything is written), NewArchive plans the archive from manifests alone, and
// Archive.WriteAt fetches the blobs concurrently straight to their final offsets.
package imageset
