//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestSourceSingleObjectAndNoMatch: an S3 key that names an object is a
// source of that object alone; a snapshot that matches nothing (a prefix
// with a typo, --include matching no key) says what it listed and exits
// 1, or 0 with --allow-empty; replicate on an empty prefix says so once
// and waits for files.
func TestSourceSingleObjectAndNoMatch(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	put(t, bucket, "dir/events.csv.gz", gz(t, "id,note\n1,one\n2,two\n"))
	put(t, bucket, "dir/events.csv.gz.bak", []byte("id,note\n3,bak\n"))
	put(t, bucket, "dir/other.csv", []byte("id,note\n4,other\n"))
	put(t, bucket, "dir/.hidden.csv", []byte("id,note\n5,hidden\n"))
	snapshot := func(source string, args ...string) result {
		return ferry(t, append([]string{"snapshot", "--source", source, "--s3-path-style",
			"--target", databaseURL, "--table", schema + ".t", "--pipeline", randomName("empty-")}, args...)...)
	}

	r := snapshot("s3://" + bucket + "/dir/events.csv.gz")
	if r.code != 0 {
		t.Fatalf("single object: exit %d", r.code)
	}
	equal(t, "rows of the single object", queryRows(t, "SELECT id, note FROM "+table(schema, "t")+" ORDER BY id"), []string{"1|one", "2|two"})

	r = snapshot("s3://" + bucket + "/dri/")
	if r.code != 1 || !strings.Contains(r.stderr, "no files matched in s3://"+bucket+"/dri: the listing found no keys") {
		t.Fatalf("prefix with a typo: exit %d, want 1 and no files matched", r.code)
	}
	r = snapshot("s3://"+bucket+"/dri/", "--allow-empty")
	if r.code != 0 || !strings.Contains(r.stderr, "no files matched") {
		t.Fatalf("prefix with a typo, --allow-empty: exit %d, want 0 and no files matched", r.code)
	}
	r = snapshot("s3://"+bucket+"/dir", "--include", "*.json")
	if r.code != 1 || !strings.Contains(r.stderr, "no files matched in s3://"+bucket+"/dir: 4 keys listed, 3 left out by --include/--exclude, 1 hidden") {
		t.Fatalf("--include matching nothing: exit %d, want 1 and the counts", r.code)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); n != 2 {
		t.Fatalf("rows after the empty runs: %d, want 2", n)
	}

	// replicate waits on an empty prefix, having said so once.
	rep := startReplicate(t, pgArgs("s3://"+bucket+"/later/", schema, randomName("empty-repl-"))...)
	rep.waitFor("no files matched, logged", func() bool { return strings.Contains(rep.stderr.String(), "no files matched") })
	put(t, bucket, "later/a.csv", []byte("id,note\n10,later\n"))
	rep.waitCount(3, "SELECT count(*) FROM "+table(schema, "t"))
	if code := rep.stop(); code != 0 {
		t.Fatalf("replicate: exit %d", code)
	}
	if n := strings.Count(rep.stderr.String(), "no files matched"); n != 1 {
		t.Fatalf("replicate said no files matched %d times, want once", n)
	}
}
