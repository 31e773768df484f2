//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	parquetgo "github.com/parquet-go/parquet-go"
)

// inventoryRow is a row of a Parquet S3 Inventory report: AWS's column
// names and types.
type inventoryRow struct {
	Bucket         string  `parquet:"bucket"`
	Key            string  `parquet:"key"`
	VersionID      *string `parquet:"version_id,optional"`
	IsLatest       *bool   `parquet:"is_latest,optional"`
	IsDeleteMarker *bool   `parquet:"is_delete_marker,optional"`
	Size           *int64  `parquet:"size,optional"`
	LastModified   *int64  `parquet:"last_modified_date,optional,timestamp(millisecond:utc)"`
	ETag           *string `parquet:"e_tag,optional"`
	StorageClass   *string `parquet:"storage_class,optional"`
}

// TestSnapshotFromInventoryParquet: --inventory reads the first listing
// from a Parquet report built by hand in AWS's documented format
// (manifest.json and a Parquet file, in another bucket): only the current
// objects it names under the prefix load, keys as stored (not
// URL-decoded). A later run without it lists the bucket and loads only
// what the report did not name: the report's ETag and LastModified give
// the listing's identity.
func TestSnapshotFromInventoryParquet(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	src, dst := newBucket(t), newBucket(t)
	a := putObject(t, src, "landing/a.csv", []byte("id,note\n1,a\n2,a\n"))
	b := putObject(t, src, "landing/b c%2B.csv", []byte("id,note\n3,b\n"))
	late := putObject(t, src, "landing/late.csv", []byte("id,note\n4,late\n"))
	other := putObject(t, src, "elsewhere/x.csv", []byte("id,note\n5,x\n"))
	row := func(o putObj) inventoryRow {
		h, err := s3Client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(src), Key: aws.String(o.key)})
		if err != nil {
			t.Fatal(err)
		}
		yes, no, ms := true, false, aws.ToTime(h.LastModified).UnixMilli()
		return inventoryRow{Bucket: src, Key: o.key, IsLatest: &yes, IsDeleteMarker: &no, Size: &o.size, LastModified: &ms, ETag: &o.etag}
	}
	// late.csv: only an older version and a delete marker in the report.
	oldLate, markerLate := row(late), row(late)
	oldLate.IsLatest, oldLate.ETag = new(bool), aws.String("an-older-version")
	markerLate.IsDeleteMarker, markerLate.Size, markerLate.ETag = aws.Bool(true), nil, nil
	var file bytes.Buffer
	w := parquetgo.NewGenericWriter[inventoryRow](&file)
	if _, err := w.Write([]inventoryRow{row(a), row(b), oldLate, markerLate, row(other)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	put(t, dst, "inv/data/part-0.parquet", file.Bytes())
	manifest := fmt.Sprintf(`{"sourceBucket":%q,"destinationBucket":"arn:aws:s3:::%s","version":"2016-11-30",
		"creationTimestamp":"1714557600000","fileFormat":"Parquet",
		"fileSchema":"message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); }",
		"files":[{"key":"inv/data/part-0.parquet","size":%d,"MD5checksum":"x"}]}`, src, dst, file.Len())
	put(t, dst, "inv/2024-05-01T10-00Z/manifest.json", []byte(manifest))

	args := []string{"snapshot", "--source", "s3://" + src + "/landing/", "--s3-path-style",
		"--target", databaseURL, "--table", schema + ".t"}
	r := ferry(t, append(args, "--inventory", "s3://"+dst+"/inv/2024-05-01T10-00Z/manifest.json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); got != 3 {
		t.Fatalf("%d rows after the report's listing, want 3 (a.csv and b c%%2B.csv)", got)
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

	// An ORC report: a clear error, nothing read.
	put(t, dst, "inv/orc/manifest.json", []byte(strings.Replace(manifest, `"fileFormat":"Parquet"`, `"fileFormat":"ORC"`, 1)))
	r = ferry(t, append(args, "--inventory", "s3://"+dst+"/inv/orc/manifest.json")...)
	if r.code == 0 || !strings.Contains(r.stderr, `inventory in "ORC" format: only CSV and Parquet reports are read`) {
		t.Errorf("ORC report: exit %d: %s", r.code, r.stderr)
	}
}
