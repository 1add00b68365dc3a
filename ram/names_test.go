package ram

import (
	"strings"
	"testing"
)

// One rule makes .env variables (ToCompose) and port aliases (FromCompose): uppercase letters,
// digits and single '_', never a leading digit. A port alias is cut to the console's column,
// without a separator before its port; platformNames derives every alias with portAlias.
func TestEnvNameAndPortAlias(t *testing.T) {
	long := strings.Repeat("s", 70)
	for _, c := range []struct {
		in, env, alias string
		port           int
	}{
		{"web", "WEB", "WEB_80", 80},
		{"my-db_1", "MY_DB_1", "MY_DB_1_80", 80},
		{"my--svc_", "MY_SVC", "MY_SVC_80", 80},
		{"1web", "_1WEB", "_1WEB_80", 80},
		{"服务", "VAR", "VAR_80", 80},
		{long, strings.ToUpper(long), strings.Repeat("S", 58) + "_65535", 65535},
		{strings.Repeat("s", 57) + "-x", strings.Repeat("S", 57) + "_X", strings.Repeat("S", 57) + "_65535", 65535},
	} {
		if got := envName(c.in); got != c.env {
			t.Errorf("envName(%q) = %q, want %q", c.in, got, c.env)
		}
		got := portAlias(c.in, c.port)
		if got != c.alias {
			t.Errorf("portAlias(%q, %d) = %q, want %q", c.in, c.port, got, c.alias)
		}
		if len(got) > maxPortAlias || !portAliasRule.MatchString(got) {
			t.Errorf("portAlias(%q, %d) = %q: not a valid port_alias", c.in, c.port, got)
		}
	}
}
