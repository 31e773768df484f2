//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCountsLoadedAndRejected: ferry.files counts the records loaded and
// those rejected apart, whichever step rejected them: the parser (a row
// with too many fields), the conversion (not an integer) or PostgreSQL (a
// NOT NULL column); rows stays the position, loaded plus rejected.
func TestCountsLoadedAndRejected(t *testing.T) {
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, v text NOT NULL)")
	src := t.TempDir()
	csv := "id,v\n1,a\n2,b,extra\nx,c\n4,\n5,e\n6,f\n"
	if err := os.WriteFile(filepath.Join(src, "counts.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ferryQuick(t, "snapshot", "--source", src, "--target", databaseURL, "--table", schema+".t",
		"--on-error", "skip-record", "--progress", "none", "--batch-rows", "2")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	equal(t, "rows", queryRows(t, "SELECT id FROM "+table(schema, "t")+" ORDER BY id"), []string{"1", "5", "6"})
	equal(t, "ferry.files", queryRows(t, `SELECT rows, loaded, rejected FROM ferry.files WHERE key = 'counts.csv' AND pipeline LIKE '%' || $1 || '%'`, schema),
		[]string{"6|3|3"})
	if n := queryInt(t, `SELECT count(*) FROM ferry.rejects WHERE key = 'counts.csv' AND pipeline LIKE '%' || $1 || '%'`, schema); n != 3 {
		t.Fatalf("%d rejects recorded, want 3", n)
	}
}
