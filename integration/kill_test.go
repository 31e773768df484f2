//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func bigCSV(rows int) []byte {
	var b bytes.Buffer
	b.WriteString("id,note\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "%d,\"row %d, with \"\"quotes\"\" and a\nnewline\"\n", i, i)
	}
	return b.Bytes()
}

func bigJSONL(rows int) []byte {
	var b bytes.Buffer
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, `{"id":%d,"note":"row %d"}`+"\n", i, i)
	}
	return b.Bytes()
}

// TestKillAndResume kills ferry with SIGKILL mid-file, restarts it, and
// checks every record is in the table exactly once.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	const rows = 300_000
	tests := []struct {
		name   string
		source func(t *testing.T) string
	}{
		{"MinIO plain CSV", func(t *testing.T) string {
			bucket := newBucket(t)
			put(t, bucket, "big/big.csv", bigCSV(rows))
			return "s3://" + bucket + "/big/"
		}},
		{"local gzip JSON lines", func(t *testing.T) string {
			return writeDir(t, map[string][]byte{"big.jsonl.gz": gz(t, string(bigJSONL(rows)))})
		}},
		// Parallel parsing (not the default on 2 CPUs) resumes exactly too.
		{"MinIO plain CSV, --parse-workers 3", func(t *testing.T) string {
			bucket := newBucket(t)
			put(t, bucket, "big/big.csv", bigCSV(rows))
			return "s3://" + bucket + "/big/"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			exec1(t, "CREATE TABLE "+table(schema, "big")+" (id bigint, note text)")
			src := tt.source(t)
			pipeline := randomName("kill-")
			args := []string{"snapshot", "--source", src, "--s3-path-style", "--target", databaseURL,
				"--table", schema + ".big", "--batch-rows", "1000", "--pipeline", pipeline}
			if strings.HasSuffix(tt.name, "--parse-workers 3") {
				args = append(args, "--parse-workers", "3")
			}

			for kills := 0; kills < 3; kills++ {
				cmd := exec.Command(ferryBin, args...)
				cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// Wait until some, but not all, chunks are committed.
				before := queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
				deadline := time.Now().Add(60 * time.Second)
				for {
					n := queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
					if n > before+5000 {
						break
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						t.Fatalf("no progress past %d rows", n)
					}
					time.Sleep(20 * time.Millisecond)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				// One statement, one snapshot: a COMMIT sent just before the
				// kill can still land between two queries.
				var committed, inTable int64
				if err := pool.QueryRow(t.Context(), `SELECT (SELECT rows FROM ferry.files WHERE pipeline = $1), (SELECT count(*) FROM `+table(schema, "big")+`)`, pipeline).Scan(&committed, &inTable); err != nil {
					t.Fatal(err)
				}
				if committed != inTable {
					t.Fatalf("after kill %d: state says %d rows, table has %d", kills, committed, inTable)
				}
				if committed >= rows {
					t.Fatalf("the file finished before it was killed; make it bigger")
				}
				t.Logf("killed with %d rows committed", committed)
			}
			r := ferry(t, args...)
			if r.code != 0 {
				t.Fatalf("resume: exit %d", r.code)
			}
			got := queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM "+table(schema, "big"))
			equal(t, "rows after resume", got, []string{fmt.Sprintf("%d|%d|1|%d", rows, rows, rows)})
			equal(t, "state", queryRows(t, `SELECT status, rows, attempts FROM ferry.files WHERE pipeline = $1`, pipeline), []string{fmt.Sprintf("done|%d|1", rows)}) // a kill is no attempt
		})
	}
}
