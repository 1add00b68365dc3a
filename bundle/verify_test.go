package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestVerifySound(t *testing.T) {
	b := fxNewBundle(t)
	for _, form := range fxForms {
		t.Run(form, func(t *testing.T) {
			m, problems, err := Verify(context.Background(), b.write(t, form))
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 0 {
				t.Fatalf("problems in a sound bundle:\n%s", strings.Join(fxProblems(problems), "\n"))
			}
			if !reflect.DeepEqual(m, b.manifest) {
				t.Fatalf("manifest %+v, want %+v", m, b.manifest)
			}
		})
	}
}

// fxRewriteImages rewrites b's image archive entry by entry: edit returns the new body, or nil to
// drop the entry.
func (b *fxBundle) fxRewriteImages(t *testing.T, edit func(name string, body []byte) []byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b.files[ImageArchive]))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		fxCheck(t, err)
		body, err := io.ReadAll(tr)
		fxCheck(t, err)
		if hdr.Typeflag == tar.TypeReg {
			if body = edit(hdr.Name, body); body == nil {
				continue
			}
			hdr.Size = int64(len(body))
		}
		fxCheck(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		fxCheck(t, err)
	}
	fxCheck(t, tw.Close())
	b.files[ImageArchive] = out.Bytes()
}

func fxReplaceCompose(t *testing.T, b *fxBundle, old, new string) {
	t.Helper()
	c := string(b.files[ComposeFile])
	if !strings.Contains(c, old) {
		t.Fatalf("compose file has no %q", old)
	}
	b.files[ComposeFile] = []byte(strings.Replace(c, old, new, 1))
}

func TestVerifyProblems(t *testing.T) {
	tests := []struct {
		name string
		// mutate damages the sound bundle b; want is given b's images as written.
		mutate func(t *testing.T, b *fxBundle)
		want   func(b *fxBundle) []string
	}{
		{
			name: "flipped byte in a shared layer",
			mutate: func(t *testing.T, b *fxBundle) {
				a := bytes.Clone(b.files[ImageArchive])
				i := bytes.Index(a, b.shared[0])
				if i < 0 {
					t.Fatal("shared layer not found in the image archive")
				}
				a[i+len(b.shared[0])/2] ^= 0x01
				b.files[ImageArchive] = a
			},
			want: func(b *fxBundle) []string {
				return []string{
					"images/images.tar: checksum mismatch (file corrupted in transit?)",
					"images/images.tar: blob " + shortDigest(b.manifest.Images[0].Layers[0].Digest) + " is corrupt (layer 1 of nginx:1.25, layer 1 of shop/web:1.0): its content does not match its digest",
				}
			},
		},
		{
			name:   "file missing",
			mutate: func(t *testing.T, b *fxBundle) { delete(b.files, "files/nginx.conf") },
			want: func(*fxBundle) []string {
				return []string{
					"files/nginx.conf: listed in SHA256SUMS but missing from the bundle",
					"docker-compose.yaml: service proxy: bind mount source ./files/nginx.conf is not in the bundle",
				}
			},
		},
		{
			name:   "unlisted extra file",
			mutate: func(t *testing.T, b *fxBundle) { b.files["files/extra.txt"] = []byte("sneaked in\n") },
			want: func(*fxBundle) []string {
				return []string{"files/extra.txt: not listed in SHA256SUMS: nothing protects it (added after packing?); remove it or re-pack the bundle"}
			},
		},
		{
			name:   "SHA256SUMS missing",
			mutate: func(t *testing.T, b *fxBundle) { delete(b.files, SumsFile) },
			want: func(*fxBundle) []string {
				return []string{"SHA256SUMS: missing: nothing protects the bundle's files from damage in transit; re-pack the bundle"}
			},
		},
		{
			name: "compose names an image not in the bundle",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "image: shop/web:1.0", "image: shop/web:2.0")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: service web: image shop/web:2.0 is not in the bundle (airpack.json)"}
			},
		},
		{
			name: "compose spells a shipped image differently",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "image: nginx:1.25", "image: docker.io/library/nginx:1.25")
				b.seal(t)
			},
			want: func(*fxBundle) []string { return nil },
		},
		{
			name: "services of another platform",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "    image: shop/web:1.0\n", "    image: shop/web:1.0\n    platform: linux/arm64\n")
				fxReplaceCompose(t, b, "    image: nginx:1.25\n", "    image: nginx:1.25\n    platform: wasi/wasm\n")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: services proxy (wasi/wasm), web (linux/arm64) have another platform than the bundle's linux/amd64: a bundle holds one platform; pack one bundle per platform (--platform)"}
			},
		},
		{
			name: "a service of the bundle's platform",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "    image: shop/web:1.0\n", "    image: shop/web:1.0\n    platform: linux/amd64\n")
				b.seal(t)
			},
			want: func(*fxBundle) []string { return nil },
		},
		{
			name: "image volumes",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "        target: /srv/static\n", "        target: /srv/static\n      - type: image\n        source: nginx:1.25\n        target: /img\n      - type: image\n        source: shop/assets:1.0\n        target: /assets\n")
				b.manifest.Images[0].MountedBy = []string{"web", "ghost"}
				b.manifest.Images[0].Pin = "sha256:abc"
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					"airpack.json: image nginx:1.25: pin \"sha256:abc\" is not a sha256 digest",
					"docker-compose.yaml: service web: volume image shop/assets:1.0 is not in the bundle (airpack.json)",
					"airpack.json: image nginx:1.25: service ghost mounts it, but docker-compose.yaml has no service ghost",
				}
			},
		},
		{
			name: "bind mount to ../outside",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "      - /var/run/docker.sock", "      - ../outside:/data\n      - /var/run/docker.sock")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: service proxy: bind mount source ../outside leaves the bundle: the target has nothing there; copy it into the bundle under files/ and point at that"}
			},
		},
		{
			// host paths are the target's (pack keeps them, inspect lists them); a source compose
			// creates need not be shipped; an empty source is refused as pack refuses it
			name: "bind mounts of host paths, created and empty sources",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "      - /var/run/docker.sock", "      - /etc/ssl/certs:/certs:ro\n      - ~/data:/data\n      - /proc:/host/proc:ro\n      - /:/rootfs:ro\n"+
					"      - /var/lib/docker:/docker\n      - /var/run:/host-run\n      - ./files/pgdata:/pgdata\n"+
					"      - type: bind\n        source: ''\n        target: /empty\n      - /dev/fuse:/dev/fuse\n      - /var/run/docker.sock")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: service proxy: bind mount source is empty: give a host path (/srv/data) or a path in the project (./data)"}
			},
		},
		{
			name: "env_file, config and secret outside or missing",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "env_file: files/web.env", "env_file: files/../../web.env")
				fxReplaceCompose(t, b, "file: ./files/app.yaml", "file: ./files/nope.yaml")
				fxReplaceCompose(t, b, "file: ./files/db.txt", "file: /root/db.txt")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					"docker-compose.yaml: service web: env_file files/../../web.env leaves the bundle: the target has nothing there; copy it into the bundle under files/ and point at that",
					"docker-compose.yaml: config app: file ./files/nope.yaml is not in the bundle",
					"docker-compose.yaml: secret db: file /root/db.txt is an absolute host path: it is not in the bundle and the target may not have it; copy it into the bundle under files/",
				}
			},
		},
		{
			name: "service with build",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "    image: shop/web:1.0\n", "    image: shop/web:1.0\n    build: ./web\n")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: service web: has build: the target cannot build images; it must name a shipped image"}
			},
		},
		{
			name: "variable missing from .env",
			mutate: func(t *testing.T, b *fxBundle) {
				fxReplaceCompose(t, b, "    image: shop/web:1.0\n", "    image: shop/web:1.0\n    environment:\n      GREETING: ${GREETING}\n      LEVEL: ${LEVEL:-info}\n")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: variable GREETING is not set in .env: it would be blank on the target"}
			},
		},
		{
			name: "compose file does not load",
			mutate: func(t *testing.T, b *fxBundle) {
				b.files[ComposeFile] = []byte("services:\n  web:\n    image: [not, a, string\n")
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{"docker-compose.yaml: does not load: failed to parse docker-compose.yaml: yaml: while parsing a flow sequence at line 2, column 12: line 3: did not find expected ',' or ']'"}
			},
		},
		{
			name: "layer blob missing from the archive",
			mutate: func(t *testing.T, b *fxBundle) {
				own := b.manifest.Images[1].Layers[2].Digest
				b.fxRewriteImages(t, func(name string, body []byte) []byte {
					if name == archiveBlobPath(own) {
						return nil
					}
					return body
				})
				b.seal(t)
			},
			want: func(b *fxBundle) []string {
				return []string{"images/images.tar: image shop/web:1.0: layer 3 (" + shortDigest(b.manifest.Images[1].Layers[2].Digest) + ") is missing from the archive"}
			},
		},
		{
			name: "upgrade bundle leaves out its base's layers",
			mutate: func(t *testing.T, b *fxBundle) {
				base := &Base{Name: "shop", Version: "0.9", ManifestSHA256: strings.Repeat("a", 64),
					Images: []BaseImage{{Ref: "shop/web:0.9", ConfigDigest: fxDigest("c"), ManifestDigest: fxDigest("d")}}}
				for _, l := range b.manifest.Images[0].Layers {
					base.Layers = append(base.Layers, l.Digest)
				}
				b.manifest.Base = base
				b.fxRewriteImages(t, func(name string, body []byte) []byte {
					for _, d := range base.Layers {
						if name == archiveBlobPath(d) {
							return nil
						}
					}
					return body
				})
				b.seal(t)
			},
			want: func(*fxBundle) []string { return nil },
		},
		{
			name: "upgrade bundle with a malformed base",
			mutate: func(t *testing.T, b *fxBundle) {
				l := b.manifest.Images[0].Layers[0].Digest
				b.manifest.Base = &Base{Name: "shop", Version: "0.9", ManifestSHA256: "abc", Layers: []string{l, "sha256:x"}}
				b.fxRewriteImages(t, func(name string, body []byte) []byte {
					if name == archiveBlobPath(l) {
						return nil
					}
					return body
				})
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					`airpack.json: base: manifestSHA256 "abc" is not 64 hex digits`,
					`airpack.json: base: layer "sha256:x" is not sha256:<64 hex digits>`,
					"airpack.json: base: lists layers but no images: load.sh could not check the target holds them",
				}
			},
		},
		{
			name: "base images must be tagged references with digests",
			mutate: func(t *testing.T, b *fxBundle) {
				b.manifest.Base = &Base{Name: "shop", Version: "0.9", ManifestSHA256: strings.Repeat("a", 64), Layers: []string{},
					Images: []BaseImage{{Ref: "shop/web@" + fxDigest("a"), ConfigDigest: fxDigest("c"), ManifestDigest: "m"}}}
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					`airpack.json: base: image "shop/web@` + fxDigest("a") + `" has no tag`,
					"airpack.json: base: image shop/web@" + fxDigest("a") + ": config and manifest digests must be sha256:<64 hex digits>",
				}
			},
		},
		{
			name: "index.json names images as go-containerregistry does",
			mutate: func(t *testing.T, b *fxBundle) {
				b.fxRewriteImages(t, func(name string, body []byte) []byte {
					if name == "index.json" {
						return bytes.ReplaceAll(body, []byte(`"docker.io/`), []byte(`"index.docker.io/`))
					}
					return body
				})
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					"images/images.tar: image nginx:1.25: index.json names it index.docker.io/library/nginx:1.25, want docker.io/library/nginx:1.25: the containerd image store would tag it so and docker would not find it",
					"images/images.tar: image shop/web:1.0: index.json names it index.docker.io/shop/web:1.0, want docker.io/shop/web:1.0: the containerd image store would tag it so and docker would not find it",
				}
			},
		},
		{
			name: "image archive without OCI layout and tags",
			mutate: func(t *testing.T, b *fxBundle) {
				b.fxRewriteImages(t, func(name string, body []byte) []byte {
					switch name {
					case "oci-layout":
						return nil
					case "manifest.json":
						return bytes.ReplaceAll(body, []byte(`"nginx:1.25"`), []byte(`"nginx:latest"`))
					}
					return body
				})
				b.seal(t)
			},
			want: func(*fxBundle) []string {
				return []string{
					"images/images.tar: no oci-layout: the containerd image store cannot load it",
					`images/images.tar: image nginx:1.25: not in manifest.json (no RepoTags "nginx:1.25"): Docker's classic image store would not load it under its tag`,
				}
			},
		},
		{
			name: "airpack.json disagrees with the image",
			mutate: func(t *testing.T, b *fxBundle) {
				im := &b.manifest.Images[0]
				im.Layers[1].DiffID = b.manifest.Images[1].Layers[2].DiffID
				im.Layers[0].Size++
				b.seal(t)
			},
			want: func(b *fxBundle) []string {
				l := b.manifest.Images[0].Layers[0]
				return []string{
					"images/images.tar: image nginx:1.25: its manifest and airpack.json disagree on the layers: layer 1 is " + shortDigest(l.Digest) + " (" + fxItoa(l.Size-1) + " bytes) in the manifest, " + shortDigest(l.Digest) + " (" + fxItoa(l.Size) + " bytes) in airpack.json",
					"images/images.tar: image nginx:1.25: its config's rootfs diff_ids differ from the layers' diffIDs in airpack.json: docker load would fail",
					"images/images.tar: image nginx:1.25: layer 1 (" + shortDigest(l.Digest) + ") is " + fxItoa(l.Size-1) + " bytes, airpack.json says " + fxItoa(l.Size),
				}
			},
		},
		{
			name:   "airpack.json missing",
			mutate: func(t *testing.T, b *fxBundle) { delete(b.files, ManifestFile); delete(b.files, SumsFile) },
			want: func(*fxBundle) []string {
				return []string{
					"SHA256SUMS: missing: nothing protects the bundle's files from damage in transit; re-pack the bundle",
					"airpack.json: missing: not an airpack bundle, or an incomplete one",
				}
			},
		},
	}
	for _, tc := range tests {
		b := fxNewBundle(t)
		tc.mutate(t, b)
		want := tc.want(b)
		for _, form := range fxForms {
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				_, problems, err := Verify(context.Background(), b.write(t, form))
				if err != nil {
					t.Fatal(err)
				}
				got := fxProblems(problems)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

func fxItoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestVerifyBadEntries(t *testing.T) {
	b := fxNewBundle(t)
	es := b.entries()
	es = append(es,
		fxFileEntry("shop-1.0/../evil.sh", 0o755, []byte("rm -rf /")),
		fxEntry{hdr: tar.Header{Name: "shop-1.0/files/passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", ModTime: fxModTime}},
	)
	for _, form := range []string{fxTar, fxTarGz, fxTarZs} {
		t.Run(form, func(t *testing.T) {
			_, problems, err := Verify(context.Background(), fxWriteArchive(t, "shop-1.0"+form, form, es))
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"shop-1.0/../evil.sh: has a name that leaves the bundle (absolute or with ..): refusing it; `tar xf` could write outside the bundle directory",
				"files/passwd: is a symbolic link (to /etc/passwd) that airpack.json does not list: replace it with the file itself",
			}
			if got := fxProblems(problems); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	t.Run("dir", func(t *testing.T) {
		root := b.write(t, fxDir)
		if err := os.Symlink("../../etc/passwd", filepath.Join(root, "files", "passwd")); err != nil {
			t.Fatal("cannot make symlinks here:", err)
		}
		_, problems, err := Verify(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"files/passwd: is a symbolic link (to ../../etc/passwd) that airpack.json does not list: replace it with the file itself"}
		if got := fxProblems(problems); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestVerifyErrors(t *testing.T) {
	newer := fxNewBundle(t)
	newer.manifest.FormatVersion = FormatVersion + 1
	newer.seal(t)
	sound := fxNewBundle(t)

	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"newer format, dir", func(t *testing.T) string { return newer.write(t, fxDir) },
			"airpack.json has format version 2, newer than this airpack understands (1): upgrade airpack"},
		{"newer format, tar.zst", func(t *testing.T) string { return newer.write(t, fxTarZs) },
			"airpack.json has format version 2, newer than this airpack understands (1): upgrade airpack"},
		{"tar.gz cut in half", func(t *testing.T) string {
			data := fxArchiveBytes(t, sound.write(t, fxTarGz))
			return fxWriteBytes(t, "shop-1.0.tar.gz", data[:len(data)/2])
		}, "is truncated or corrupt"},
		{"two top directories", func(t *testing.T) string {
			es := append(sound.entries(), fxDirEntry("shop-1.1/"))
			return fxWriteArchive(t, "shop-1.0.tar", fxTar, es)
		}, "has more than one top-level directory (shop-1.0/ and shop-1.1/)"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "shop-1.0.tar") },
			"no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, problems, err := Verify(context.Background(), tc.path(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if m != nil || problems != nil {
				t.Fatalf("got a manifest or problems with the error: %v %v", m, problems)
			}
		})
	}
}

// Links airpack.json lists are written in every form and accepted by Verify; one it lists that
// is missing, one it does not list, and one leaving files/ are problems.
func TestWriteVerifyLinks(t *testing.T) {
	b := fxNewBundle(t)
	b.manifest.Links = map[string]string{"files/static/home.html": "index.html", "files/static/missing": "index.html", "files/up": "../load.sh"}
	b.seal(t)
	c := Contents{Dir: "shop-1.0"}
	for name, data := range b.files {
		if name != SumsFile {
			c.Files = append(c.Files, File{Name: name, Body: data})
		}
	}
	c.Files = append(c.Files, File{Name: "files/static/home.html", Link: "index.html"}, File{Name: "files/static/other", Link: "../db.txt"},
		File{Name: "files/up", Link: "../load.sh"})
	want := []string{
		"files/static/missing: listed in airpack.json as a link to index.html but missing from the bundle",
		"airpack.json: link files/up is a symbolic link leaving files/: bundles hold links that stay in their shipped directory",
		"files/static/other: is a symbolic link (to ../db.txt) that airpack.json does not list: replace it with the file itself",
	}
	for _, name := range []string{"shop-1.0", "shop-1.0.tar", "shop-1.0.tar.gz", "shop-1.0.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			if err := Write(context.Background(), out, c, false); err != nil {
				t.Fatal(err)
			}
			_, problems, err := Verify(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			if got := fxProblems(problems); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
