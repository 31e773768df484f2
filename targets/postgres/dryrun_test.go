package postgres

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestTablePlanText(t *testing.T) {
	for name, tp := range map[string]*TablePlan{
		"plan_new.txt": {Table: `"s"."ev"`, UnknownFields: "error",
			Create:    []string{`CREATE SCHEMA IF NOT EXISTS "s"`, `CREATE TABLE IF NOT EXISTS "s"."ev" ("id" bigint, "n" bigint)`},
			Alter:     []string{`ALTER TABLE "s"."ev" ALTER COLUMN "n" TYPE text USING "n"::text`},
			Conflicts: []Conflict{{Column: "n", Type: "bigint", Values: 2, Action: "widen the column to text", File: "b.csv", Record: 9, Value: "many"}}},
		"plan_existing.txt": {Table: `"ev"`, Exists: true, UnknownFields: "ignore",
			Matched:   []Matched{{Field: "id", Column: "id", Type: "bigint"}},
			Unknown:   []Unknown{{Field: "zz", Action: "ignored"}},
			Missing:   []Missing{{Column: "req", Type: "integer", Gets: "refused: NOT NULL without a default"}, {Column: "note", Type: "text", Gets: "NULL"}},
			Conflicts: []Conflict{{Column: "id", Type: "bigint", Values: 1, Action: "reject the record", File: "a.jsonl", Record: 2, Value: "x"}},
			Failure:   `column "req" of table "ev" is NOT NULL without a default and no field fills it: every record would be rejected`},
	} {
		var b bytes.Buffer
		if err := tp.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (go test -update):\n%s", name, b.String())
		}
		if got := tp.Failed(); got != tp.Failure {
			t.Errorf("Failed() = %q", got)
		}
	}
}

// TestTablePlanCannotCreate: a table a load could not create is not
// said to lack records to infer its columns from.
func TestTablePlanCannotCreate(t *testing.T) {
	var b bytes.Buffer
	tp := &TablePlan{Table: `"t"`, Failure: `cannot create table "t": column name "x" is longer than 63 bytes`}
	if err := tp.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "a load could not create it") || strings.Contains(out, "no record in the sample") {
		t.Fatalf("%s", out)
	}
}
