// Command mkimages builds the demo application's images from source into an OCI image layout,
// named airpack-demo/<role>:<version>, for `make demo`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/airpack/airpack/internal/demo"
)

func main() {
	out := flag.String("o", "", "OCI layout directory to create (must not exist)")
	version := flag.String("version", "1.0", "image tag")
	flag.Parse()
	if err := run(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "mkimages:", err)
		os.Exit(1)
	}
}

func run(out, version string) error {
	if out == "" {
		return fmt.Errorf("-o DIR is required")
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists", out)
	}
	tmp, err := os.MkdirTemp("", "airpack-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	wd, _ := os.Getwd()
	bin, err := demo.BuildBinary(context.Background(), wd, tmp)
	if err != nil {
		return err
	}
	imgs, err := demo.Images(bin, demo.Roles, "")
	if err != nil {
		return err
	}
	named := map[string]v1.Image{}
	var order []string
	for _, role := range demo.Roles {
		ref := "airpack-demo/" + role + ":" + version
		named[ref] = imgs[role]
		order = append(order, ref)
	}
	if err := demo.WriteLayout(out, named, order); err != nil {
		return err
	}
	fmt.Printf("wrote %d demo images to %s\n", len(order), out)
	return nil
}
