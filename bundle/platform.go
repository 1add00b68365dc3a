package bundle

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A bundle holds images for one platform, which load.sh checks against the engine. A service
// of its compose file may say `platform:` only when it is that platform: pack refuses the
// others, and verify, reading the compose file, the same way with the same words.

// Platform is the platform a bundle is packed for: want (--platform) when set, else the one
// platform the services name, else fallback. services maps a service to its `platform:` ("" for
// none). It fails when a service names another platform than the bundle's.
func Platform(want string, services map[string]string, fallback string) (string, error) {
	names := sortedKeys(services)
	if want == "" {
		for _, s := range names {
			p := services[s]
			switch {
			case p == "":
			case want == "":
				want = p
			case !samePlatform(want, p):
				return "", mixedPlatforms(services)
			}
		}
	}
	if want == "" {
		want = fallback
	}
	if err := CheckPlatforms(want, services); err != nil {
		return "", err
	}
	return want, nil
}

// CheckPlatforms checks the services' `platform:` against the bundle's platform.
func CheckPlatforms(bundle string, services map[string]string) error {
	for _, s := range sortedKeys(services) {
		if p := services[s]; p != "" {
			if _, err := parsePlatform(p); err != nil {
				return fmt.Errorf("service %s: %w", s, err)
			}
		}
	}
	if _, err := parsePlatform(bundle); err != nil {
		return fmt.Errorf("the bundle's %w", err)
	}
	var other []string
	for _, s := range sortedKeys(services) {
		if p := services[s]; p != "" && !samePlatform(bundle, p) {
			other = append(other, fmt.Sprintf("%s (%s)", s, services[s]))
		}
	}
	switch len(other) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("service %s has another platform than the bundle's %s: a bundle holds one platform; pack one bundle per platform (--platform)", other[0], bundle)
	}
	return fmt.Errorf("services %s have another platform than the bundle's %s: a bundle holds one platform; pack one bundle per platform (--platform)", strings.Join(other, ", "), bundle)
}

func mixedPlatforms(services map[string]string) error {
	var named []string
	for _, s := range sortedKeys(services) {
		if p := services[s]; p != "" {
			named = append(named, fmt.Sprintf("%s (%s)", s, p))
		}
	}
	return fmt.Errorf("services %s name different platforms: a bundle holds one platform; pack one bundle per platform (--platform), each with the services of that platform", strings.Join(named, ", "))
}

// parsePlatform parses os/arch[/variant].
func parsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") > 2 {
		return nil, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	return p, nil
}
