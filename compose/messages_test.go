package compose

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestLoadRefusesWithReason covers issue 9 item 13: what docker compose
// would not run, or would run as nothing, is refused in one line.
func TestLoadRefusesWithReason(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "every service in an inactive profile",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    profiles: [dbg]\n" +
				"  b:\n    image: y\n    profiles: [tools, dbg]\n"},
			want: "load compose project: no service is active: every service is in a profile not enabled (dbg, tools): pass --profile with the ones to pack",
		},
		{
			name:  "no services at all",
			files: map[string]string{"compose.yaml": "name: x\nvolumes:\n  v: {}\n"},
			want:  "load compose project: the project has no services: nothing to pack",
		},
		{
			name:  "remote include (oci)",
			files: map[string]string{"compose.yaml": "include:\n  - oci://docker.io/foo/bar:1\nservices:\n  a:\n    image: x\n"},
			want: "load compose project: compose.yaml: include oci://docker.io/foo/bar:1: remote includes are not supported; " +
				"copy the included project next to this one and include its compose file by path",
		},
		{
			name: "remote include (git, long syntax, nested in a local include)",
			files: map[string]string{
				"compose.yaml":     "include:\n  - sub/compose.yaml\nservices:\n  a:\n    image: x\n",
				"sub/compose.yaml": "include:\n  - path: git@github.com:org/repo.git\nservices:\n  b:\n    image: y\n",
			},
			want: "load compose project: sub/compose.yaml: include git@github.com:org/repo.git: remote includes are not supported; " +
				"copy the included project next to this one and include its compose file by path",
		},
		{
			name: "duplicate container_name",
			files: map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n    container_name: app-c\n" +
				"  db:\n    image: y\n    container_name: app-c\n  other:\n    image: z\n"},
			want: `load compose project: services db and web both have container_name "app-c": docker compose refuses two containers of one name; give each its own`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t)
			_, err := Load(context.Background(), LoadOptions{WorkDir: writeProject(t, tt.files)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err, tt.want)
			}
		})
	}
}

// TestLoadComposeWarnings checks compose-go's own warnings become airpack
// warnings (files named relative to the project) instead of log lines.
func TestLoadComposeWarnings(t *testing.T) {
	cleanEnv(t, "NOT_SET_ANYWHERE")
	var logged bytes.Buffer
	logrus.SetOutput(&logged)
	defer logrus.SetOutput(io.Discard)

	dir := writeProject(t, map[string]string{"compose.yaml": "version: '3.8'\nservices:\n  web:\n    image: nginx\n" +
		"    environment:\n      A: ${NOT_SET_ANYWHERE}\n      B: ${NOT_SET_ANYWHERE}-again\n"})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	want := []string{
		`The "NOT_SET_ANYWHERE" variable is not set. Defaulting to a blank string.`,
		"compose.yaml: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
	}
	out := mustRewrite(t, p, RewriteOptions{})
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, want)
	}
	if logged.Len() != 0 {
		t.Errorf("compose-go printed log lines: %q", logged.String())
	}
	// the logger is given back: a warning after Load is printed again
	logrus.Warn("after")
	if !strings.Contains(logged.String(), "after") {
		t.Errorf("logrus output not restored: %q", logged.String())
	}
}

// Rewrite loads the rewritten file again: compose-go's warnings about it
// are those Load reported already, never printed.
func TestRewritePrintsNoComposeWarnings(t *testing.T) {
	cleanEnv(t)
	var logged bytes.Buffer
	logrus.SetOutput(&logged)
	defer logrus.SetOutput(io.Discard)

	dir := writeProject(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    volumes: [data:/data]\n" +
		"volumes:\n  data:\n    external:\n      name: shared-data\n"})
	p := mustLoad(t, LoadOptions{WorkDir: dir})
	out := mustRewrite(t, p, RewriteOptions{})
	want := []string{"volumes.data: external.name is deprecated. Please set name and external: true"}
	if !reflect.DeepEqual(out.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", out.Warnings, want)
	}
	if logged.Len() != 0 {
		t.Errorf("compose-go printed log lines: %q", logged.String())
	}
}
