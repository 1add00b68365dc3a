package pack

import (
	"fmt"
	"strings"

	"github.com/airpack/airpack/compose"
)

// platformWarnings says which platform a bundle packed without --platform took from its
// services' `platform:` when other services name none: they get images for it too.
func platformWarnings(services []compose.ServiceImage, override, platform string) []string {
	if override != "" {
		return nil
	}
	var named, unnamed []string
	for _, s := range services {
		if s.Platform != "" {
			named = append(named, s.Service)
		} else {
			unnamed = append(unnamed, s.Service)
		}
	}
	if len(named) == 0 || len(unnamed) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the bundle is for %s, the platform: of %s %s; %s %s %s none and get %s images too (a bundle holds one platform)",
		platform, plural(len(named), "service", "services"), strings.Join(named, ", "),
		plural(len(unnamed), "service", "services"), strings.Join(unnamed, ", "), plural(len(unnamed), "names", "name"), platform)}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
