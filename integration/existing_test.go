//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestExistingTableMapping: fields map onto an existing table's columns by
// name; a field with no column fails unless --ignore-unknown-fields; a
// column with no field gets its default.
func TestExistingTableMapping(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+` (id bigint, "Name" text, loaded_at timestamptz DEFAULT '2000-01-01T00:00:00Z', n smallint)`)
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte(`{"ID":1,"name":"x","extra":{"a":1},"n":7}` + "\n")})
	args := []string{"snapshot", "--source", dir, "--target", databaseURL, "--table", schema + ".t"}

	r := ferry(t, args...)
	if r.code != 1 || !strings.Contains(r.stderr, `field "extra" has no column`) || !strings.Contains(r.stderr, "--unknown-fields ignore, extra or add") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); n != 0 {
		t.Fatalf("rows after a failed chunk = %d", n)
	}
	r = ferry(t, append(args, "--ignore-unknown-fields")...)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, `SELECT id, "Name", loaded_at, n FROM `+table(schema, "t")), []string{"1|x|2000-01-01T00:00:00Z|7"})

	// A value out of range for the column type names the column.
	dir = writeDir(t, map[string][]byte{"b.jsonl": []byte(`{"id":2,"n":70000}` + "\n")})
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".t")
	if r.code != 1 || !strings.Contains(r.stderr, `file "b.jsonl": record 1: column "n": value "70000" out of range for smallint`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}
