//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSnapshotFromInventory: --inventory reads the first listing from a
// report built by hand in AWS's documented format (manifest.json and a
// gzipped CSV file, in another bucket): only the objects it names load.
// A later run without it lists the bucket and loads only what the report
// did not name: a file loaded from the report is the same version as the
// listing's (key and ETag).
func TestSnapshotFromInventory(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	src, dst := newBucket(t), newBucket(t)
	a := putObject(t, src, "landing/a.csv", []byte("id,note\n1,a\n2,a\n"))
	b := putObject(t, src, "landing/b c.csv", []byte("id,note\n3,b\n"))
	putObject(t, src, "landing/late.csv", []byte("id,note\n4,late\n")) // after the report
	other := putObject(t, src, "elsewhere/x.csv", []byte("id,note\n5,x\n"))
	var rows strings.Builder
	mod := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for _, o := range []putObj{a, b, other} {
		fmt.Fprintf(&rows, "%q,%q,\"%d\",%q,%q,\"STANDARD\"\n", src, strings.ReplaceAll(o.key, " ", "%20"), o.size, mod, o.etag)
	}
	put(t, dst, "inv/data/part-0.csv.gz", gz(t, rows.String()))
	manifest := fmt.Sprintf(`{"sourceBucket":%q,"destinationBucket":"arn:aws:s3:::%s","version":"2016-11-30",
		"creationTimestamp":"1714557600000","fileFormat":"CSV","fileSchema":"Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
		"files":[{"key":"inv/data/part-0.csv.gz","size":100,"MD5checksum":"x"}]}`, src, dst)
	put(t, dst, "inv/2024-05-01T10-00Z/manifest.json", []byte(manifest))

	args := []string{"snapshot", "--source", "s3://" + src + "/landing/", "--s3-path-style",
		"--target", databaseURL, "--table", schema + ".t"}
	r := ferry(t, append(args, "--inventory", "s3://"+dst+"/inv/2024-05-01T10-00Z/manifest.json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); got != 3 {
		t.Fatalf("%d rows after the report's listing, want 3 (a.csv and b c.csv)", got)
	}
	r = ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 loaded, 2 already loaded") {
		t.Errorf("the listing after the report: %s", r.stderr)
	}
	if got := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); got != 4 {
		t.Fatalf("%d rows, want 4 (each once)", got)
	}

	// A manifest of another bucket, or one that is not there: a clear
	// error, nothing loaded.
	r = ferry(t, append(args, "--inventory", "s3://"+dst+"/inv/nope/manifest.json")...)
	if r.code == 0 || !strings.Contains(r.stderr, "inventory manifest s3://"+dst+"/inv/nope/manifest.json") {
		t.Errorf("missing manifest: exit %d: %s", r.code, r.stderr)
	}
}
