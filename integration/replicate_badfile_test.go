//go:build integration

package integration

import (
	"fmt"
	"testing"
)

// TestReplicateBadFileDoesNotStallOthers: under skip-file, a file whose
// value does not convert stops the shared write queue (the async pusher);
// that file is quarantined and every other file, including those read
// ahead and abandoned when the queue stopped, still loads exactly once.
func TestReplicateBadFileDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	files := map[string][]byte{}
	const n, per = 40, 500
	for i := range n {
		files[fmt.Sprintf("f%03d.csv", i)] = idsCSV(i*per+1, (i+1)*per, "ok")
	}
	files["f010b.csv"] = []byte("id,note\n999999,x\nnot-a-number,y\n")
	dir := writeDir(t, files)
	pipeline := randomName("badfile-")
	r := startReplicate(t, "--source", dir, "--target", databaseURL, "--table", schema+".t", "--pipeline", pipeline,
		"--batch-rows", "100", "--max-attempts", "1")
	r.waitCount(n, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'failed'`, pipeline)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")+" WHERE id < 999999"),
		[]string{fmt.Sprintf("%d|%d", n*per, n*per)})
	equal(t, "failed file", queryRows(t, `SELECT key, error LIKE '%invalid bigint "not-a-number"%' FROM ferry.files WHERE pipeline = $1 AND status = 'failed'`, pipeline),
		[]string{"f010b.csv|true"})
	if r.exited() {
		t.Fatalf("replicate exited: %s", r.status())
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}
