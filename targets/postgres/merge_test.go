package postgres

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
)

func TestParseMergeKey(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  string
	}{
		{"id", []string{"id"}, ""},
		{" id , region ", []string{"id", "region"}, ""},
		{`"Odd, ""Name""",x`, []string{`Odd, "Name"`, "x"}, ""},
		{`"a;DROP TABLE t"`, []string{"a;DROP TABLE t"}, ""},
		{"id,", nil, "empty column name"},
		{"", nil, "empty column name"},
		{`"id`, nil, "unterminated quote"},
		{`"id" x`, nil, "expected a comma"},
		{strings.Repeat("k", 64), nil, "longer than 63 bytes"},
	} {
		got, err := ParseMergeKey(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if quoteAll([]string{`we"ird, key`}) != `"we""ird, key"` {
		t.Errorf("quoteAll: %s", quoteAll([]string{`we"ird, key`}))
	}
}

// TestMergeKeyFlag: the flag adds to the key at each use (a config file's
// list sets it once per item); Validate and New refuse what cannot be.
func TestMergeKeyFlag(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.AddFlags(fs)
	for _, v := range []string{"id", `"b, c"`} {
		if err := fs.Set("merge-key", v); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(c.MergeKey, []string{"id", "b, c"}) || fs.Lookup("merge-key").Value.String() != `id,"b, c"` {
		t.Fatalf("MergeKey %q, flag %s", c.MergeKey, fs.Lookup("merge-key").Value)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Set("merge-key", "id"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `names column "id" twice`) {
		t.Fatalf("twice: %v", err)
	}
	c.MergeKey = []string{"id"}
	c.ReplaceKeys = true
	err := c.CheckMergeKey()
	var u interface{ Usage() bool }
	if err == nil || !strings.Contains(err.Error(), "--merge-key cannot go with --on-change replace") || !errors.As(err, &u) || !u.Usage() {
		t.Fatalf("replace: %v", err)
	}
	if err := (&Config{MergeKey: []string{"id"}, RemoveKeys: true}).CheckMergeKey(); err == nil || !strings.Contains(err.Error(), "--merge-key cannot go with --delete-on-remove") {
		t.Fatalf("remove: %v", err)
	}
	if err := (&Config{MergeKey: []string{"id"}}).OnlyPostgres(); err == nil || !strings.Contains(err.Error(), "--merge-key is for a PostgreSQL target") {
		t.Fatalf("OnlyPostgres: %v", err)
	}
}

func TestNullKey(t *testing.T) {
	b := &pusher.Batch{Columns: []string{"id", "v"}}
	b.StartRecord()
	b.AddField(pusher.Number, []byte("1"))
	b.AddNull()
	b.StartRecord()
	b.AddNull()
	b.AddField(pusher.Number, []byte("2"))
	p := &plan{fields: []int{0, 1, sysConst}, cols: []string{"id", "v", "_ferry_file"}, consts: [][]byte{[]byte("f")}, key: []bool{true, false, true}}
	if j := nullKey(p, b.Record(0)); j != -1 {
		t.Errorf("record 0: key column %d NULL, want none", j)
	}
	if j := nullKey(p, b.Record(1)); j != 0 {
		t.Errorf("record 1: key column %d NULL, want 0", j)
	}
	p.consts[0] = nil
	if j := nullKey(p, b.Record(0)); j != 2 {
		t.Errorf("NULL const: key column %d NULL, want 2", j)
	}
}
