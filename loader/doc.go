// Package loader generates a bundle's load.sh: the POSIX sh script that, on a target host with
// only Docker, checks the engine and the bundle's files and loads the bundle's images, so that
// `./load.sh && docker compose up -d` starts the application without any network access.
//
// The script is rendered from the embedded template load.sh.tmpl with everything it needs written
// in (the image table, expected image IDs for both image stores, archive paths and sizes, the
// bundle's name, version and platform), so it never parses airpack.json. What the script must do,
// step by step, is the "load.sh" section of the bundle format contract (docs/bundle-format.md).
package loader
