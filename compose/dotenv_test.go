package compose

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// TestDotenvQuoteRoundTrip checks that compose-go's dotenv parser, the one
// docker compose reads the bundle's .env with, reads every written value
// back unchanged.
func TestDotenvQuoteRoundTrip(t *testing.T) {
	values := []struct {
		value, written string
	}{
		{"", ""},
		{"plain", "plain"},
		{"1.2.3-rc_1", "1.2.3-rc_1"},
		{"http://host:8080/path?x=1", `"http://host:8080/path?x=1"`},
		{"a=b", "a=b"},
		{"with space", `"with space"`},
		{" leading and trailing ", `" leading and trailing "`},
		{`double "quotes"`, `"double \"quotes\""`},
		{"'single'", `"'single'"`},
		{`back\slash`, `"back\\slash"`},
		{`trailing\`, `"trailing\\"`},
		{`\n is not a newline`, `"\\n is not a newline"`},
		{`\0123 octal`, `"\\0123 octal"`},
		{"$VAR", `"\$VAR"`},
		{"${VAR:-x}", `"\${VAR:-x}"`},
		{"$$", `"\$\$"`},
		{`\$`, `"\\\$"`},
		{"value #not a comment", `"value #not a comment"`},
		{"#hash", `"#hash"`},
		{"multi\nline\r\n", `"multi\nline\r\n"`},
		{"tab\there", "\"tab\there\""},
		{"ünïcödé", `"ünïcödé"`},
		{"p@ss:w0rd,%^~+", "p@ss:w0rd,%^~+"},
	}
	var file strings.Builder
	for i, v := range values {
		got := dotenvQuote(v.value)
		if got != v.written {
			t.Errorf("dotenvQuote(%q) = %s, want %s", v.value, got, v.written)
		}
		file.WriteString("V" + string(rune('A'+i)) + "=" + got + "\n")
	}
	// a lookup answering everything: nothing may be interpolated
	parsed, err := dotenv.UnmarshalWithLookup(file.String(), func(string) (string, bool) { return "INJECTED", true })
	if err != nil {
		t.Fatalf("parse %q: %v", file.String(), err)
	}
	for i, v := range values {
		key := "V" + string(rune('A'+i))
		if got, ok := parsed[key]; !ok || got != v.value {
			t.Errorf("%s: read back %q (present %v), want %q", key, got, ok, v.value)
		}
	}
	if len(parsed) != len(values) {
		t.Errorf("read %d variables, want %d: %v", len(parsed), len(values), parsed)
	}
}
