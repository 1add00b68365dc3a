package pack

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/airpack/airpack/bundle"
	"github.com/airpack/airpack/compose"
)

// What pack writes, verify accepts: a provider service, a variable unset when packed in an inline
// config.
func TestPackVerifyAgree(t *testing.T) {
	host := testRegistry(t, "shop/web:1.0")
	dir := project(t, "name: shop\nservices:\n  web:\n    image: "+host+"/shop/web:1.0\n    configs: [app]\n    depends_on: [db]\n"+
		"  db:\n    provider:\n      type: awesomecloud\n      options:\n        type: mysql\n"+
		"configs:\n  app:\n    content: |\n      token=${UNSET_TOKEN}\n")
	res, err := Pack(context.Background(), Options{Compose: compose.LoadOptions{WorkDir: dir}, Version: "1.0", Output: filepath.Join(t.TempDir(), "b"), Sources: []string{"registry"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`The "UNSET_TOKEN" variable is not set. Defaulting to a blank string.`, "service db uses the provider awesomecloud: docker compose runs its plugin (docker-awesomecloud) on the target, which must have it installed; the bundle ships nothing for it"}
	if !reflect.DeepEqual(res.Warnings, want) {
		t.Errorf("Warnings = %q\nwant       %q", res.Warnings, want)
	}
	_, problems, err := bundle.Verify(context.Background(), res.Output)
	if err != nil || len(problems) > 0 {
		t.Errorf("verify: %v %v", err, problems)
	}
}
