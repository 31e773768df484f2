package stores

import (
	"context"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" for valid
	}{
		{Config{Source: "./data"}, ""},
		{Config{Source: "file:///data"}, ""},
		{Config{Source: "s3://b/in", Inventory: "s3://inv/m/manifest.json"}, ""},
		{Config{}, "--source is required"},
		{Config{Source: "s3://"}, "no bucket"},
		{Config{Source: "gs://b"}, "expected a directory"},
		{Config{Source: "./data", Inventory: "s3://inv/m/manifest.json"}, "--inventory needs an s3:// --source"},
		{Config{Source: "s3://b/in", Inventory: "./manifest.json"}, "expected s3://bucket/path/manifest.json"},
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(context.Background(), Config{Source: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.String(), dir) {
		t.Errorf("store %q, want it to name %s", st.String(), dir)
	}
	if _, err := Open(context.Background(), Config{Source: dir + "/missing"}); err == nil {
		t.Error("a missing directory opened")
	}
}

func TestLastElement(t *testing.T) {
	for src, want := range map[string]string{
		"s3://b/landing/Events-2024/": "Events-2024",
		"file:///data/events":         "events",
		"./data":                      "data",
		"s3://bucket":                 "bucket",
	} {
		if got := LastElement(src); got != want {
			t.Errorf("LastElement(%q) = %q, want %q", src, got, want)
		}
	}
}
