package targets

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state/filestore"
)

func TestDefaultPipeline(t *testing.T) {
	t.Setenv("PGPASSWORD", "envsecret")
	const src = "s3://bucket/landing"
	for _, tc := range []struct {
		target, table, want, older string
	}{
		{"stdout", "", src + " -> stdout", ""},
		{"file:/tmp/out.jsonl", "", src + " -> file:/tmp/out.jsonl", ""},
		{"postgres://loader:s3cret@db1.example:5433/warehouse?sslmode=disable", "raw.events",
			src + ` -> postgres://db1.example:5433/warehouse "raw"."events"`, src + ` -> "raw"."events"`},
		{"host=db2.example port=5432 dbname=other user=loader password=s3cret", "events",
			src + ` -> postgres://db2.example:5432/other "events"`, src + ` -> "events"`},
	} {
		name, older, err := DefaultPipeline(src, tc.target, tc.table)
		if err != nil || name != tc.want || older != tc.older {
			t.Errorf("DefaultPipeline(%q, %q) = %q, %q, %v; want %q, %q", tc.target, tc.table, name, older, err, tc.want, tc.older)
		}
		for _, secret := range []string{"s3cret", "envsecret", "loader"} {
			if strings.Contains(name, secret) {
				t.Errorf("pipeline %q holds %q", name, secret)
			}
		}
	}
	// Same source and table, another database or server: another pipeline.
	a, _, _ := DefaultPipeline(src, "postgres://u@h:5432/one", "t")
	b, _, _ := DefaultPipeline(src, "postgres://u@h:5432/two", "t")
	c, _, _ := DefaultPipeline(src, "postgres://u@h:5433/one", "t")
	d, _, _ := DefaultPipeline(src, "postgres://other@h:5432/one", "t")
	if a == b || a == c {
		t.Errorf("two targets share a pipeline name: %q, %q, %q", a, b, c)
	}
	if a != d {
		t.Errorf("the user changed the pipeline name: %q, %q", a, d)
	}
}

func TestPipelineNameKeepsOlderName(t *testing.T) {
	ctx := context.Background()
	const src = "file:///data/events"
	cfg := Config{Source: src, Target: "postgres://u:pw@h:5432/db", Table: "events", Log: zerolog.Nop()}
	name, older, err := DefaultPipeline(src, cfg.Target, cfg.Table)
	if err != nil {
		t.Fatal(err)
	}
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pick := func() string {
		t.Helper()
		// sameDB: the older name is this target's without asking it.
		got, err := Pipeline(ctx, cfg, st, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := pick(); got != name {
		t.Fatalf("no state: pipeline %q, want the default %q", got, name)
	}
	obj := pusher.Object{Key: "a.csv", ETag: "1"}
	if _, err := st.Start(ctx, older, obj); err != nil {
		t.Fatal(err)
	}
	if got := pick(); got != older {
		t.Fatalf("state under the older name only: pipeline %q, want %q", got, older)
	}
	if _, err := st.Start(ctx, name, obj); err != nil {
		t.Fatal(err)
	}
	if got := pick(); got != name {
		t.Fatalf("state under both names: pipeline %q, want the default %q", got, name)
	}
	cfg.Pipeline = "mine"
	if got := pick(); got != "mine" {
		t.Fatalf("--pipeline mine: pipeline %q", got)
	}
}
