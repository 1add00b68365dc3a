package main

import "testing"

// --allow-outside takes a path: the old bare form, which would take the next flag as its path,
// is refused with what to do, in pack and ram.
func TestAllowOutsideTakesAPath(t *testing.T) {
	want := `--allow-outside takes a PATH (got "--version"): name each file or directory outside the project to ship a copy of, ` +
		`repeating the flag; absolute host paths are otherwise kept as the target's`
	for _, args := range [][]string{
		{"pack", "--allow-outside", "--version", "1.0"},
		{"ram", "--allow-outside", "--version", "1.0"},
	} {
		_, _, err := run(t, args...)
		if err == nil || err.Error() != want {
			t.Errorf("%v: error = %v\nwant    %s", args, err, want)
		}
	}
	if _, _, err := run(t, "pack", "--version", "1.0", "--allow-outside"); err == nil || err.Error() != "flag needs an argument: --allow-outside" {
		t.Errorf("bare --allow-outside at the end: %v", err)
	}
}
