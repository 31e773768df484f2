//go:build integration

package integration

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// keys lists the bucket's keys, sorted.
func keys(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := s3Client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, aws.ToString(o.Key))
	}
	sort.Strings(ks)
	return ks
}

// dirFiles lists the files under dir, relative, sorted.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func tags(t *testing.T, bucket, key string) []string {
	t.Helper()
	out, err := s3Client.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var ts []string
	for _, tg := range out.TagSet {
		ts = append(ts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	sort.Strings(ts)
	return ts
}

// afterLoadState is each file's key, status and after-load columns.
func afterLoadState(t *testing.T, pipeline string) []string {
	t.Helper()
	return queryRows(t, `SELECT key, status, rows, coalesce(after_load, '-'), coalesce(after_load_action, '-') FROM ferry.files
		WHERE pipeline = $1 ORDER BY key, etag`, pipeline)
}

// TestAfterLoadS3 snapshots a MinIO prefix under each --after-load action.
func TestAfterLoadS3(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action string
		keys   []string // the bucket's keys after the load
	}{
		{"keep", []string{"in/a.csv", "in/sub/b.csv", "other/c.csv"}},
		{"delete", []string{"other/c.csv"}},
		{"move:archive/2024", []string{"archive/2024/a.csv", "archive/2024/sub/b.csv", "other/c.csv"}},
		{"tag:ferry=loaded", []string{"in/a.csv", "in/sub/b.csv", "other/c.csv"}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			schema, bucket, pipeline := newSchema(t), newBucket(t), randomName("afterload-")
			exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
			put(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
			put(t, bucket, "in/sub/b.csv", idsCSV(4, 5, "b"))
			put(t, bucket, "other/c.csv", idsCSV(6, 6, "c"))
			if _, err := s3Client.PutObjectTagging(t.Context(), &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("in/a.csv"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("owner"), Value: aws.String("x")}}}}); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"snapshot"}, pgArgs("s3://"+bucket+"/in/", schema, pipeline)...)
			args = append(args, "--after-load", tc.action)
			for run := range 2 { // the second run loads nothing, does nothing
				if r := ferry(t, args...); r.code != 0 {
					t.Fatalf("run %d: exit %d", run, r.code)
				}
			}
			equal(t, "keys", keys(t, bucket), tc.keys)
			equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1 ORDER BY 1"), []string{"a|3", "b|2"})
			want := []string{"in/a.csv|done|3|done|" + tc.action, "in/sub/b.csv|done|2|done|" + tc.action}
			if tc.action == "keep" {
				want = []string{"in/a.csv|done|3|-|-", "in/sub/b.csv|done|2|-|-"}
			}
			equal(t, "state", afterLoadState(t, pipeline), want)
			switch tc.action {
			case "tag:ferry=loaded":
				equal(t, "tags of a", tags(t, bucket, "in/a.csv"), []string{"ferry=loaded", "owner=x"})
				equal(t, "tags of b", tags(t, bucket, "in/sub/b.csv"), []string{"ferry=loaded"})
			case "move:archive/2024":
				equal(t, "tags moved along", tags(t, bucket, "archive/2024/a.csv"), []string{"owner=x"})
			}
		})
	}
	t.Run("move under the source is refused", func(t *testing.T) {
		t.Parallel()
		bucket := newBucket(t)
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
		r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--after-load", "move:in/done/")
		if r.code != 2 || !strings.Contains(r.stderr, "under the source") {
			t.Fatalf("exit %d, %q; want a usage error", r.code, r.stderr)
		}
		equal(t, "keys", keys(t, bucket), []string{"in/a.csv"})
	})
}

// TestAfterLoadLocal snapshots a directory under each --after-load
// action, with the state in the target database and in a directory.
func TestAfterLoadLocal(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{"a.csv": idsCSV(1, 3, "a"), "sub/b.csv": idsCSV(4, 5, "b")}
	for _, tc := range []struct {
		action string
		left   []string // the source's files after the load
		moved  bool
	}{
		{"delete", nil, false},
		{"move", nil, true},
	} {
		for _, stateDir := range []bool{false, true} {
			t.Run(tc.action+map[bool]string{false: " postgres state", true: " directory state"}[stateDir], func(t *testing.T) {
				t.Parallel()
				schema, pipeline := newSchema(t), randomName("afterload-")
				exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
				src := writeDir(t, files)
				archive := filepath.Join(t.TempDir(), "archive")
				action := tc.action
				if tc.moved {
					action = "move:" + archive
				}
				args := append([]string{"snapshot"}, pgArgs(src, schema, pipeline)...)
				args = append(args, "--after-load", action)
				st := filepath.Join(t.TempDir(), "state")
				if stateDir {
					args = append(args, "--state", st)
				}
				if r := ferry(t, args...); r.code != 0 {
					t.Fatalf("exit %d", r.code)
				}
				equal(t, "source", dirFiles(t, src), tc.left)
				if tc.moved {
					equal(t, "archive", dirFiles(t, archive), []string{"a.csv", "sub/b.csv"})
				}
				equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1 ORDER BY 1"), []string{"a|3", "b|2"})
				var fs struct {
					Files []struct {
						Key       string
						Status    string
						AfterLoad *struct{ Status, Action string } `json:"after_load"`
					}
				}
				if stateDir {
					inspect(t, &fs, "files", "--state", st, "--pipeline", pipeline)
				} else {
					inspect(t, &fs, "files", "--target", databaseURL, "--pipeline", pipeline)
				}
				if len(fs.Files) != 2 {
					t.Fatalf("files = %+v", fs)
				}
				for _, f := range fs.Files {
					if f.Status != "done" || f.AfterLoad == nil || f.AfterLoad.Status != "done" || f.AfterLoad.Action != action {
						t.Errorf("file %+v; want done, its action %s done", f, action)
					}
				}
			})
		}
	}
	t.Run("tag is for S3 only", func(t *testing.T) {
		t.Parallel()
		src := writeDir(t, files)
		r := ferry(t, "snapshot", "--source", src, "--after-load", "tag:a=b")
		if r.code != 2 || !strings.Contains(r.stderr, "S3 sources only") {
			t.Fatalf("exit %d, %q; want a usage error", r.code, r.stderr)
		}
	})
	t.Run("move under the source is refused", func(t *testing.T) {
		t.Parallel()
		src := writeDir(t, files)
		r := ferry(t, "snapshot", "--source", src, "--after-load", "move:"+filepath.Join(src, "done"))
		if r.code != 2 || !strings.Contains(r.stderr, "under the source") {
			t.Fatalf("exit %d, %q; want a usage error", r.code, r.stderr)
		}
		equal(t, "source", dirFiles(t, src), []string{"a.csv", "sub/b.csv"})
	})
}

// TestAfterLoadKilled: ferry is killed (SIGKILL) right after the commit
// that recorded the delete pending, before the delete; the restart
// deletes the object and loads nothing again.
func TestAfterLoadKilled(t *testing.T) {
	t.Parallel()
	for _, s3src := range []bool{true, false} {
		t.Run(map[bool]string{true: "MinIO", false: "local"}[s3src], func(t *testing.T) {
			t.Parallel()
			schema, pipeline := newSchema(t), randomName("afterload-kill-")
			exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)") // no key: a reload would show
			var src, bucket, key string
			if s3src {
				bucket, key = newBucket(t), "in/a.csv"
				put(t, bucket, key, idsCSV(1, 3, "a"))
				src = "s3://" + bucket + "/in/"
			} else {
				key = "a.csv"
				src = writeDir(t, map[string][]byte{key: idsCSV(1, 3, "a")})
			}
			exists := func() bool {
				if s3src {
					return len(keys(t, bucket)) == 1
				}
				return len(dirFiles(t, src)) == 1
			}
			args := append([]string{"snapshot"}, pgArgs(src, schema, pipeline)...)
			args = append(args, "--after-load", "delete")
			cmd := exec.Command(ferryBin, args...)
			cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint, "FERRY_TEST_KILL_BEFORE_AFTER_LOAD=1")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.String() != "signal: killed" {
				t.Fatalf("ferry: %v; want killed\n%s", err, out)
			}
			equal(t, "state after the kill", afterLoadState(t, pipeline), []string{key + "|done|3|pending|delete"})
			if !exists() || queryInt(t, countSQL(schema)) != 3 {
				t.Fatalf("after the kill: object there %v, %d rows; want it there and 3 rows", exists(), queryInt(t, countSQL(schema)))
			}
			if r := ferry(t, args...); r.code != 0 {
				t.Fatalf("restart: exit %d", r.code)
			}
			equal(t, "state after the restart", afterLoadState(t, pipeline), []string{key + "|done|3|done|delete"})
			if exists() {
				t.Error("the object is still there after the restart")
			}
			equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")), []string{"3|3"})
		})
	}
}

// TestAfterLoadFailing: S3 answers 503 to every DELETE. The action is
// retried with backoff, then recorded failed and reported; the file stays
// done and loads once. Once S3 deletes again, the next run deletes.
func TestAfterLoadFailing(t *testing.T) {
	t.Parallel()
	schema, bucket, pipeline := newSchema(t), newBucket(t), randomName("afterload-fail-")
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	put(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
	fp := newFaultProxy(t, s3Endpoint, 0)
	failing := true
	fp.configure(func(fp *faultProxy) {
		fp.script = func(fp *faultProxy, r *http.Request) fault {
			if r.Method == http.MethodDelete && failing {
				fp.counts["delete 503"]++
				return fault{slowDown: true}
			}
			return fault{}
		}
	})
	args := append([]string{"snapshot"}, pgArgs("s3://"+bucket+"/in/", schema, pipeline)...)
	args = append(args, "--after-load", "delete", "--s3-endpoint", fp.URL, "--retry-max-elapsed", "2s")
	r := ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d; a failed action does not fail the run", r.code)
	}
	if !strings.Contains(r.stderr, "after-load action failed, retrying") || !strings.Contains(r.stderr, "after-load action failed (the file stays loaded") {
		t.Errorf("no retries or failure reported in the log")
	}
	if n := fp.injected()["delete 503"]; n < 2 {
		t.Errorf("%d DELETEs answered 503; want retries", n)
	}
	equal(t, "state", queryRows(t, `SELECT key, status, after_load, after_load_attempts, after_load_error LIKE '%SlowDown%' FROM ferry.files WHERE pipeline = $1`, pipeline),
		[]string{"in/a.csv|done|failed|1|true"})
	equal(t, "keys", keys(t, bucket), []string{"in/a.csv"})
	var sum struct {
		Pipelines []struct {
			AfterLoad struct{ Pending, Failed int } `json:"after_load"`
		}
	}
	inspect(t, &sum, "status", "--target", databaseURL, "--pipeline", pipeline)
	if len(sum.Pipelines) != 1 || sum.Pipelines[0].AfterLoad.Failed != 1 {
		t.Errorf("status = %+v; want 1 failed after-load action", sum)
	}
	st := ferry(t, "status", "--target", databaseURL, "--pipeline", pipeline)
	if !strings.Contains(st.stdout, "after load      0 pending, 1 failed") {
		t.Errorf("status text:\n%s", st.stdout)
	}

	fp.configure(func(*faultProxy) { failing = false })
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("second run: exit %d", r.code)
	}
	equal(t, "state after the second run", queryRows(t, `SELECT key, status, after_load, after_load_attempts, after_load_error IS NULL FROM ferry.files WHERE pipeline = $1`, pipeline),
		[]string{"in/a.csv|done|done|1|true"})
	equal(t, "keys after the second run", keys(t, bucket), nil)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")), []string{"3|3"})
}

// TestAfterLoadReplicate: polling replication moves each file once it is
// loaded, files that arrive later too, and a failing move (the archive
// directory is a file) is retried by later polls once it can succeed.
func TestAfterLoadReplicate(t *testing.T) {
	t.Parallel()
	t.Run("MinIO", func(t *testing.T) {
		t.Parallel()
		schema, bucket, pipeline := newSchema(t), newBucket(t), randomName("afterload-rep-")
		exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
		r := startReplicate(t, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--after-load", "move:done")...)
		r.waitFor("a.csv moved", func() bool { return strings.Join(keys(t, bucket), ",") == "done/a.csv" })
		put(t, bucket, "in/b.csv", idsCSV(4, 5, "b"))
		r.waitFor("b.csv moved", func() bool { return strings.Join(keys(t, bucket), ",") == "done/a.csv,done/b.csv" })
		time.Sleep(2 * time.Second) // two more polls: nothing loads again
		equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1 ORDER BY 1"), []string{"a|3", "b|2"})
		equal(t, "state", afterLoadState(t, pipeline), []string{"in/a.csv|done|3|done|move:done", "in/b.csv|done|2|done|move:done"})
	})
	t.Run("local, failing then fixed", func(t *testing.T) {
		t.Parallel()
		schema, pipeline := newSchema(t), randomName("afterload-rep-")
		exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
		src := writeDir(t, map[string][]byte{"a.csv": idsCSV(1, 3, "a")})
		archive := filepath.Join(t.TempDir(), "archive")
		if err := os.WriteFile(archive, nil, 0o644); err != nil { // not a directory: the move fails
			t.Fatal(err)
		}
		r := startReplicate(t, append(pgArgs(src, schema, pipeline), "--after-load", "move:"+archive, "--state", filepath.Join(t.TempDir(), "state"))...)
		r.waitFor("the move failed", func() bool { return strings.Contains(r.stderr.String(), "not a directory") })
		if err := os.Remove(archive); err != nil {
			t.Fatal(err)
		}
		r.waitFor("a.csv moved", func() bool { return strings.Join(dirFiles(t, archive), ",") == "a.csv" })
		if n := queryInt(t, countSQL(schema)); n != 3 {
			t.Errorf("%d rows; want 3", n)
		}
		if got := dirFiles(t, src); len(got) != 0 {
			t.Errorf("source holds %q", got)
		}
	})
}

// TestAfterLoadSQS: a file named by a notification is deleted after its
// load (and its message); the ObjectRemoved notification that the delete
// sends is ferry's own, and --delete-on-remove leaves the rows.
func TestAfterLoadSQS(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema, bucket, pipeline := newSchema(t), newBucket(t), randomName("afterload-sqs-")
	ensureState(t, pool)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text, _ferry_file text)")
	a := putObject(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, a))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--after-load", "delete", "--delete-on-remove", "--backfill=false")...)
	r.waitCount(3, countSQL(schema))
	r.waitFor("a.csv deleted", func() bool { return len(keys(t, bucket)) == 0 })
	waitQueueEmpty(r, c, queue)
	// What S3 sends for ferry's own delete.
	send(t, c, queue, s3Notification("ObjectRemoved:Delete", bucket, putObj{key: "in/a.csv"}))
	waitQueueEmpty(r, c, queue)
	r.waitFor("the removal ignored", func() bool {
		return len(r.logs("removal ignored: the object was deleted or moved by --after-load")) == 1
	})
	equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1"), []string{"a|3"})
	equal(t, "state", afterLoadState(t, pipeline), []string{"in/a.csv|done|3|done|delete"})
}
