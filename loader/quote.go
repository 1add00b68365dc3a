package loader

import (
	"errors"
	"strings"
)

// shellQuote returns s as one sh word that expands to exactly s: wrapped in single quotes, inside
// which sh interprets nothing, with each ' written as '\” (close, escaped quote, reopen).
// sh cannot hold a NUL byte in a word; callers reject such values (see checkText).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// templateQuote is shellQuote for the template, refusing what no sh word can hold.
func templateQuote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errors.New("value contains a NUL byte, which sh cannot hold")
	}
	return shellQuote(s), nil
}

// dotSlash makes a relative path one no command takes for an option (a path may start with -).
func dotSlash(p string) string { return "./" + p }
