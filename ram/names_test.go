package ram

import "testing"

// One rule makes .env variables (ToCompose) and port aliases (FromCompose): uppercase letters,
// digits and single '_', never a leading digit.
func TestEnvNameAndPortAlias(t *testing.T) {
	for _, c := range []struct{ in, env, alias string }{
		{"web", "WEB", "WEB_80"},
		{"my-db_1", "MY_DB_1", "MY_DB_1_80"},
		{"my--svc_", "MY_SVC", "MY_SVC_80"},
		{"1web", "_1WEB", "_1WEB_80"},
		{"服务", "VAR", "VAR_80"},
	} {
		if got := envName(c.in); got != c.env {
			t.Errorf("envName(%q) = %q, want %q", c.in, got, c.env)
		}
		if got := portAlias(c.in, 80); got != c.alias {
			t.Errorf("portAlias(%q, 80) = %q, want %q", c.in, got, c.alias)
		}
	}
}
