package compose

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkServices refuses a project that would start nothing, and two
// services sharing a container_name, which docker compose refuses too.
func checkServices(p *types.Project) error {
	if len(p.Services) == 0 {
		if len(p.DisabledServices) == 0 {
			return errors.New("the project has no services: nothing to pack")
		}
		profiles := map[string]bool{}
		for _, s := range p.DisabledServices {
			for _, pr := range s.Profiles {
				profiles[pr] = true
			}
		}
		return fmt.Errorf("no service is active: every service is in a profile not enabled (%s): pass --profile with the ones to pack",
			strings.Join(sortedKeys(profiles), ", "))
	}
	owner := map[string]string{}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		cn := p.Services[name].ContainerName
		if cn == "" {
			continue
		}
		if other, ok := owner[cn]; ok {
			return fmt.Errorf("services %s and %s both have container_name %q: docker compose refuses two containers of one name; give each its own",
				other, name, cn)
		}
		owner[cn] = name
	}
	return nil
}
