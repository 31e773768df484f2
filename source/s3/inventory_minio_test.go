//go:build integration

package s3

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferrydata/ferry/pusher"
)

// TestMinIOInventory: a report built by hand in AWS's format (manifest.json
// and a gzipped CSV file in another bucket) replaces the first listing;
// the objects it names carry the ETags a listing gives, and the next
// listing lists the bucket (finding what arrived after the report).
func TestMinIOInventory(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	src, dst := testBucket(t, c), testBucket(t, c)
	put(t, c, src, "in/a.csv", []byte("a\n1\n"))
	put(t, c, src, "in/b c.csv", []byte("a\n2\n"))
	put(t, c, src, "other/x.csv", []byte("a\n3\n"))
	// What a listing says of them, to build the report from.
	store, err := New(ctx, Config{URL: "s3://" + src + "/in", Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]pusher.Object{}
	all, err := New(ctx, Config{URL: "s3://" + src, Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := all.List(ctx, func(page []pusher.Object) error {
		for _, o := range page {
			listed[o.Key] = o
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Schema order: Bucket, Key, Size, LastModifiedDate, ETag.
	var csvRows strings.Builder
	for _, k := range []string{"in/a.csv", "in/b c.csv", "other/x.csv"} {
		o := listed[k]
		fmt.Fprintf(&csvRows, "%q,%q,\"%d\",%q,%q\n", src, strings.ReplaceAll(k, " ", "%20"), o.Size, o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"), o.ETag)
	}
	put(t, c, dst, "inv/"+src+"/all/data/part-0.csv.gz", gzipped(t, csvRows.String()))
	manifest := fmt.Sprintf(`{"sourceBucket":%q,"destinationBucket":"arn:aws:s3:::%s","version":"2016-11-30","creationTimestamp":"1714557600000",
		"fileFormat":"CSV","fileSchema":"Bucket, Key, Size, LastModifiedDate, ETag",
		"files":[{"key":"inv/%s/all/data/part-0.csv.gz","size":1,"MD5checksum":"x"}]}`, src, dst, src)
	put(t, c, dst, "inv/"+src+"/all/2024-05-01T10-00Z/manifest.json", []byte(manifest))
	// After the report: a new object.
	put(t, c, src, "in/new.csv", []byte("a\n4\n"))

	inv, err := NewInventory(ctx, store, "s3://"+dst+"/inv/"+src+"/all/2024-05-01T10-00Z/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	list := func() []pusher.Object {
		t.Helper()
		var got []pusher.Object
		if err := inv.List(ctx, func(page []pusher.Object) error {
			got = append(got, page...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b pusher.Object) int { return strings.Compare(a.Key, b.Key) })
		return got
	}
	first := list()
	want := []pusher.Object{listed["in/a.csv"], listed["in/b c.csv"]}
	if len(first) != 2 || first[0].ID() != want[0].ID() || first[1].ID() != want[1].ID() ||
		first[0].Size != want[0].Size || !first[1].LastModified.Equal(want[1].LastModified) {
		t.Fatalf("first listing (the report)\n%v\nwant\n%v", first, want)
	}
	second := list()
	var keys []string
	for _, o := range second {
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"in/a.csv", "in/b c.csv", "in/new.csv"}) {
		t.Errorf("second listing (the bucket) %v", keys)
	}

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct{ url, want string }{
			{"s3://" + dst + "/inv/nope/manifest.json", "inventory manifest s3://" + dst + "/inv/nope/manifest.json"},
			{"s3://" + dst + "/inv/", "want the URL of the report's manifest.json"},
		} {
			if _, err := NewInventory(ctx, store, c.url); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.url, err, c.want)
			}
		}
		other, err := New(ctx, Config{URL: "s3://" + dst, Endpoint: ep, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewInventory(ctx, other, "s3://"+dst+"/inv/"+src+"/all/2024-05-01T10-00Z/manifest.json")
		if want := fmt.Sprintf("describes bucket %q, not the source's bucket %q", src, dst); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("another bucket's report: %v, want %q", err, want)
		}
		// A report file that is gone fails the listing, and the next
		// listing reads the report again.
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(dst), Key: aws.String("inv/" + src + "/all/data/part-0.csv.gz")}); err != nil {
			t.Fatal(err)
		}
		inv, err := NewInventory(ctx, store, "s3://"+dst+"/inv/"+src+"/all/2024-05-01T10-00Z/manifest.json")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err := inv.List(ctx, func([]pusher.Object) error { return nil })
			if want := "inventory file s3://" + dst + "/inv/" + src + "/all/data/part-0.csv.gz"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("report file gone: %v, want %q", err, want)
			}
		}
	})
}

// TestMinIOInventoryParquet: a Parquet report built by hand in AWS's
// format (manifest.json and two Parquet files in another bucket, read
// through ranged GETs) replaces the first listing; its objects carry the
// ETags and times a listing gives; keys are as stored (not URL-encoded).
func TestMinIOInventoryParquet(t *testing.T) {
	ep := testEndpoint(t)
	ctx := context.Background()
	c := testClient(t, ep)
	src, dst := testBucket(t, c), testBucket(t, c)
	put(t, c, src, "in/a.csv", []byte("a\n1\n"))
	put(t, c, src, "in/b c%20+.csv", []byte("a\n2\n"))
	put(t, c, src, "other/x.csv", []byte("a\n3\n"))
	all, err := New(ctx, Config{URL: "s3://" + src, Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]pusher.Object{}
	if err := all.List(ctx, func(page []pusher.Object) error {
		for _, o := range page {
			listed[o.Key] = o
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	row := func(k string) invRow {
		o := listed[k]
		return newInvRow(src, k, o.Size, o.LastModified, o.ETag)
	}
	old := row("in/a.csv")
	old.IsLatest, old.ETag = ptr(false), ptr("an-older-version")
	put(t, c, dst, "inv/data/part-0.parquet", inventoryParquet(t, []invRow{row("in/a.csv"), old, row("other/x.csv")}, 0))
	put(t, c, dst, "inv/data/part-1.parquet", inventoryParquet(t, []invRow{row("in/b c%20+.csv")}, 0))
	manifest := func(files ...string) []byte {
		var fs []string
		for _, f := range files {
			fs = append(fs, fmt.Sprintf(`{"key":%q,"size":1,"MD5checksum":"x"}`, f))
		}
		return []byte(fmt.Sprintf(`{"sourceBucket":%q,"destinationBucket":"arn:aws:s3:::%s","version":"2016-11-30","creationTimestamp":"1714557600000",
			"fileFormat":"Parquet","fileSchema":%q,"files":[%s]}`, src, dst, testParquetSchema, strings.Join(fs, ",")))
	}
	put(t, c, dst, "inv/2024-05-01T10-00Z/manifest.json", manifest("inv/data/part-0.parquet", "inv/data/part-1.parquet"))
	put(t, c, src, "in/new.csv", []byte("a\n4\n")) // after the report

	store, err := New(ctx, Config{URL: "s3://" + src + "/in", Endpoint: ep, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := NewInventory(ctx, store, "s3://"+dst+"/inv/2024-05-01T10-00Z/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	list := func(inv *Inventory) ([]pusher.Object, error) {
		var got []pusher.Object
		err := inv.List(ctx, func(page []pusher.Object) error {
			got = append(got, page...)
			return nil
		})
		slices.SortFunc(got, func(a, b pusher.Object) int { return strings.Compare(a.Key, b.Key) })
		return got, err
	}
	first, err := list(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := []pusher.Object{listed["in/a.csv"], listed["in/b c%20+.csv"]}
	if len(first) != len(want) {
		t.Fatalf("first listing (the report)\n%v\nwant\n%v", first, want)
	}
	for i := range want {
		if first[i].ID() != want[i].ID() || first[i].Size != want[i].Size || !first[i].LastModified.Equal(want[i].LastModified) {
			t.Errorf("object %d from the report %+v, the listing's %+v", i, first[i], want[i])
		}
	}
	second, err := list(inv)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range second {
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"in/a.csv", "in/b c%20+.csv", "in/new.csv"}) {
		t.Errorf("second listing (the bucket) %v", keys)
	}

	t.Run("errors", func(t *testing.T) {
		type noETag struct {
			Key          string `parquet:"key"`
			Size         int64  `parquet:"size"`
			LastModified int64  `parquet:"last_modified_date,timestamp"`
		}
		put(t, c, dst, "inv/data/no-etag.parquet", inventoryParquet(t, []noETag{{"in/a.csv", 1, 1}}, 0))
		put(t, c, dst, "inv/data/not.parquet", gzipped(t, "a,b\n"))
		for _, e := range []struct{ file, want string }{
			{"inv/data/no-etag.parquet", "no e_tag column"},
			{"inv/data/not.parquet", "not a Parquet file"},
			{"inv/data/gone.parquet", "not found"},
		} {
			m := "inv/err/" + path.Base(e.file) + "/manifest.json"
			put(t, c, dst, m, manifest("inv/data/part-0.parquet", e.file))
			inv, err := NewInventory(ctx, store, "s3://"+dst+"/"+m)
			if err != nil {
				t.Fatal(err)
			}
			// The first file's objects are handed on, then the bad file
			// fails the listing, naming it; the next listing reads the
			// report again.
			for range 2 {
				got, err := list(inv)
				if want := "inventory file s3://" + dst + "/" + e.file + ": "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), e.want) {
					t.Errorf("%s: %v, want %q and %q", e.file, err, want, e.want)
				}
				if len(got) != 1 || got[0].Key != "in/a.csv" {
					t.Errorf("%s: objects before the error %v", e.file, got)
				}
			}
		}
	})
}
