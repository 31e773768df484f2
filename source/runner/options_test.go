package runner

import "testing"

func TestReplacesKeys(t *testing.T) {
	for _, tc := range []struct {
		change, fallback OnChange
		want             bool
	}{
		{OnChangeAppend, "", false},
		{OnChangeIgnore, "", false},
		{OnChangeReplace, "", true},
		{OnChangeResume, OnChangeAppend, false},
		{OnChangeResume, OnChangeReplace, true},
	} {
		if got := (Options{OnChange: tc.change, ResumeFallback: tc.fallback}).ReplacesKeys(); got != tc.want {
			t.Errorf("on-change %s, resume fallback %q: ReplacesKeys %v, want %v", tc.change, tc.fallback, got, tc.want)
		}
	}
}
