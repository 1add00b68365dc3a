package compose

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// missingEnvFile keeps an env_file with `required: false` that does not
// exist when packing: docker compose skips it, and the operator may add it
// on the target, at the place the bundle would ship it ("./files/..."). Its
// entry in the compose file is returned; nothing is copied.
func (r *rewriter) missingEnvFile(service string, ef types.EnvFile) map[string]any {
	abs := filepath.Clean(ef.Path)
	dst, ok := r.shipped[abs]
	if !ok {
		if r.inside(abs) {
			dst = path.Join(filesDir, filepath.ToSlash(r.rel(abs)))
		} else {
			dst = path.Join(filesDir, outsideDir, filepath.ToSlash(strings.TrimPrefix(abs, string(filepath.Separator))))
		}
		r.shipped[abs] = dst // where verify expects it
	}
	r.warnf("service %s: env_file %s (required: false) does not exist: the bundle names it ./%s, which docker compose skips "+
		"until the operator adds it on the target", service, r.display(abs), dst)
	m := map[string]any{"path": escape("./" + dst), "required": false}
	if ef.Format != "" {
		m["format"] = escape(ef.Format)
	}
	return m
}
