//go:build integration

package integration

import (
	"net/url"
	"strings"
	"testing"
)

func dbName(t *testing.T, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Path, "/")
}

// TestPipelineNamesTheTarget: the default pipeline name holds the target
// database, so the same source and table loaded into a second database
// (with one directory state) load there too; a pipeline named by an older
// ferry (source and table only) keeps its progress and does not reload.
func TestPipelineNamesTheTarget(t *testing.T) {
	t.Parallel()
	url1, db1 := newDatabase(t, "")
	url2, db2 := newDatabase(t, "")
	url3, db3 := newDatabase(t, "")
	dir := writeDir(t, map[string][]byte{"a.csv": []byte("id,name\n1,one\n2,two\n")})
	// One directory state, two databases: both load.
	stateDir := t.TempDir()
	for i, u := range []string{url1, url2} {
		r := ferry(t, "snapshot", "--source", dir, "--target", u, "--table", "events", "--state", stateDir)
		if r.code != 0 || strings.Contains(r.stderr, "nothing new to load") {
			t.Fatalf("database %d: exit %d", i+1, r.code)
		}
		if db := dbName(t, u); !strings.Contains(r.stderr, "/"+db+` \"events\"`) && !strings.Contains(r.stderr, "/"+db+` "events"`) {
			t.Fatalf("database %d: the pipeline logged does not name the database %s", i+1, db)
		}
	}
	if a, b := dbInt(t, db1, "SELECT count(*) FROM events"), dbInt(t, db2, "SELECT count(*) FROM events"); a != 2 || b != 2 {
		t.Fatalf("rows: %d in the first database, %d in the second; want 2 and 2", a, b)
	}

	// A directory state written by an older ferry (the source and the
	// table only) for the first database: no reload there; a database
	// without the table is taken as another one and loads.
	older := "file://" + dir + ` -> "events"`
	oldState := t.TempDir()
	exec := func(db string, args ...string) result {
		return ferry(t, append([]string{"snapshot", "--source", dir, "--target", db, "--table", "events"}, args...)...)
	}
	if r := exec(url3, "--state", oldState, "--pipeline", older); r.code != 0 {
		t.Fatalf("older pipeline: exit %d", r.code)
	}
	r := exec(url3, "--state", oldState)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing new to load") || !strings.Contains(r.stderr, "older ferry") {
		t.Fatalf("re-run under the older name: exit %d, want nothing new to load and the older name kept", r.code)
	}
	if n := dbInt(t, db3, "SELECT count(*) FROM events"); n != 2 {
		t.Fatalf("rows after the re-run under the older name: %d, want 2", n)
	}
	dbNoTable, dbNoTablePool := newDatabase(t, "")
	if r := exec(dbNoTable, "--state", oldState); r.code != 0 || strings.Contains(r.stderr, "nothing new to load") {
		t.Fatalf("another database, older name in the directory: exit %d", r.code)
	}
	if n := dbInt(t, dbNoTablePool, "SELECT count(*) FROM events"); n != 2 {
		t.Fatalf("rows in another database: %d, want 2", n)
	}

	// State in the target database, under the older name: no reload.
	if r := exec(url2, "--pipeline", older); r.code != 0 {
		t.Fatalf("older pipeline, state in the target: exit %d", r.code)
	}
	r = exec(url2)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing new to load") {
		t.Fatalf("re-run under the older name, state in the target: exit %d", r.code)
	}
	if n := dbInt(t, db2, "SELECT count(*) FROM events"); n != 4 {
		t.Fatalf("rows in the second database: %d, want 4 (2 per pipeline)", n)
	}
}
