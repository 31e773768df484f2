//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/state/filestore"
)

// TestStateDirFull: a directory state whose log cannot be written (it is
// /dev/full: every write fails with ENOSPC) stops the snapshot with exit 1
// and an error naming the log and the cause, loads nothing it could not
// record, and leaves the state readable: once the disk has room, the next
// run loads every row, once. (Mid-run failures, torn appends and failed
// compactions: state/filestore's TestUnwritableStateMidRun and
// TestUnwritableCompaction.)
func TestStateDirFull(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("no /dev/full: %v", err)
	}
	src := writeDir(t, map[string][]byte{"a.csv": idsCSV(1, 100, "a"), "b.csv": idsCSV(101, 150, "b")})
	stateDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	const pipeline = "state-dir-full"
	st, err := filestore.New(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	logPath := strings.TrimSuffix(st.Path(pipeline), ".json") + ".log"
	if err := os.Symlink("/dev/full", logPath); err != nil {
		t.Fatal(err)
	}
	args := []string{"snapshot", "--source", src, "--target", "file:" + out, "--state", stateDir, "--pipeline", pipeline}
	res := ferry(t, args...)
	if res.code != 1 || !strings.Contains(res.stderr, logPath+": no space left on device") {
		t.Fatalf("full state disk: exit %d, stderr:\n%s\nwant exit 1 naming %s and the cause", res.code, res.stderr, logPath)
	}
	if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
		t.Fatalf("rows written that the state could not record:\n%s", b)
	}

	// Room again.
	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}
	if res := ferry(t, args...); res.code != 0 {
		t.Fatalf("next run: exit %d\n%s", res.code, res.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var row struct{ ID string }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		ids = append(ids, row.ID)
	}
	slices.Sort(ids)
	if n := len(slices.Compact(slices.Clone(ids))); len(ids) != 150 || n != 150 {
		t.Fatalf("next run wrote %d rows, %d distinct; want 150 once each", len(ids), n)
	}
}
