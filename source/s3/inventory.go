package s3

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// Inventory is the store with its first listing read from an S3
// Inventory report instead of ListObjectsV2: for a bucket of 10^8 objects,
// reading the report's files is hours faster and costs no LIST requests.
// Later listings (polling, a resumed StartAfter window) list the bucket as
// the store does, so objects written after the report was made still
// load: the report only replaces the first full listing.
//
// The report is the one a manifest.json describes (AWS's documented
// format: sourceBucket, fileFormat, fileSchema, files), in CSV format
// (gzip-compressed, no header, the key URL-encoded) or Parquet (columns
// named key, size, e_tag..., the key as it is). Its files are read one at
// a time, record by record (a Parquet file row group by row group, page
// by page of the few columns read, through ranged GETs), and handed on in
// pages, so memory does not grow with the bucket. Rows of delete markers
// and of non-current versions are left out, as are keys outside the
// store's prefix. ORC reports are refused.
type Inventory struct {
	*Store
	manifestURL string
	manifest    Manifest
	schema      schema // of the report's rows
	mbucket     string // the manifest's bucket, where the report's files are

	mu   sync.Mutex
	used bool // a List has read the whole report
}

var _ source.StartAfterLister = (*Inventory)(nil)

// Manifest is the part of an S3 Inventory manifest.json ferry reads.
type Manifest struct {
	SourceBucket      string         `json:"sourceBucket"`
	DestinationBucket string         `json:"destinationBucket"`
	FileFormat        string         `json:"fileFormat"`
	FileSchema        string         `json:"fileSchema"`
	CreationTimestamp string         `json:"creationTimestamp"`
	Files             []ManifestFile `json:"files"`
}

// ManifestFile is one file of the report.
type ManifestFile struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// Created is when AWS made the report (zero when the manifest does not
// say).
func (m Manifest) Created() time.Time {
	ms, err := strconv.ParseInt(m.CreationTimestamp, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// NewInventory reads and checks the manifest at manifestURL
// (s3://bucket/key/manifest.json) and returns s with its first listing
// read from the report. The manifest must describe s's bucket, in CSV or
// Parquet.
func NewInventory(ctx context.Context, s *Store, manifestURL string) (*Inventory, error) {
	bucket, key, err := ParseURL(manifestURL)
	if err != nil {
		return nil, fmt.Errorf("--inventory: %w", err)
	}
	if key == "" || strings.HasSuffix(manifestURL, "/") {
		return nil, fmt.Errorf("--inventory %s: want the URL of the report's manifest.json", manifestURL)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("inventory manifest %s: %w", manifestURL, classify(err))
	}
	defer out.Body.Close()
	m, err := ParseManifest(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("inventory manifest %s: %w", manifestURL, err)
	}
	if m.SourceBucket != s.bucket {
		return nil, fmt.Errorf("inventory manifest %s describes bucket %q, not the source's bucket %q", manifestURL, m.SourceBucket, s.bucket)
	}
	var sc schema
	if m.parquet() {
		sc.parquet = true
	} else {
		sc, _ = parseSchema(m.FileSchema) // checked by ParseManifest
	}
	return &Inventory{Store: s, manifestURL: manifestURL, manifest: m, schema: sc, mbucket: bucket}, nil
}

// ParseManifest reads a manifest.json and checks what ferry needs of it:
// a CSV or Parquet report whose schema has Key, Size, LastModifiedDate
// and ETag (a file version is its key and ETag, as a listing gives them),
// and its files.
func ParseManifest(r io.Reader) (Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, fmt.Errorf("not an inventory manifest: %w", err)
	}
	switch {
	case m.SourceBucket == "":
		return m, errors.New("not an inventory manifest: no sourceBucket")
	case m.parquet():
		if err := checkParquetSchema(m.FileSchema); err != nil {
			return m, err
		}
	case strings.EqualFold(m.FileFormat, "CSV"):
		if _, err := parseSchema(m.FileSchema); err != nil {
			return m, err
		}
	default:
		return m, fmt.Errorf("inventory in %q format: only CSV and Parquet reports are read (choose CSV or Parquet as the report's output format)", m.FileFormat)
	}
	for i, f := range m.Files {
		if f.Key == "" {
			return m, fmt.Errorf("inventory manifest: file %d has no key", i+1)
		}
	}
	return m, nil
}

// parquet says whether the report is in Parquet format.
func (m Manifest) parquet() bool { return strings.EqualFold(m.FileFormat, "Parquet") }

// schema is where each field ferry reads is in a CSV report row (-1:
// absent); a Parquet report's columns are found by name in each file.
type schema struct {
	parquet                                                 bool
	n                                                       int
	bucket, key, size, modified, etag, latest, deleteMarker int
}

func parseSchema(s string) (schema, error) {
	sc := schema{bucket: -1, key: -1, size: -1, modified: -1, etag: -1, latest: -1, deleteMarker: -1}
	for i, f := range strings.Split(s, ",") {
		sc.n++
		switch strings.TrimSpace(f) {
		case "Bucket":
			sc.bucket = i
		case "Key":
			sc.key = i
		case "Size":
			sc.size = i
		case "LastModifiedDate":
			sc.modified = i
		case "ETag":
			sc.etag = i
		case "IsLatest":
			sc.latest = i
		case "IsDeleteMarker":
			sc.deleteMarker = i
		}
	}
	for _, f := range []struct {
		name string
		at   int
	}{{"Key", sc.key}, {"Size", sc.size}, {"LastModifiedDate", sc.modified}, {"ETag", sc.etag}} {
		if f.at < 0 {
			return sc, fmt.Errorf("inventory schema %q has no %s field: add it to the report's configuration (ferry needs Key, Size, LastModifiedDate and ETag)", s, f.name)
		}
	}
	return sc, nil
}

// List implements source.Store: the first call reads the report, the
// later ones list the bucket.
// A List that fails reading the report leaves it to the next one (which
// reads it again: the objects already loaded are skipped by the state).
func (inv *Inventory) List(ctx context.Context, fn func(page []pusher.Object) error) error {
	inv.mu.Lock()
	used := inv.used
	inv.mu.Unlock()
	if used {
		return inv.Store.List(ctx, fn)
	}
	if err := inv.read(ctx, fn); err != nil {
		return err
	}
	inv.mu.Lock()
	inv.used = true
	inv.mu.Unlock()
	return nil
}

// read hands on the report's rows under the store's prefix, file by file.
func (inv *Inventory) read(ctx context.Context, fn func(page []pusher.Object) error) error {
	for _, f := range inv.manifest.Files {
		where := "s3://" + inv.mbucket + "/" + f.Key
		if inv.schema.parquet {
			if err := inv.readParquet(ctx, f.Key, fn); err != nil {
				return fmt.Errorf("inventory file %s: %w", where, err)
			}
			continue
		}
		out, err := inv.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(inv.mbucket), Key: aws.String(f.Key)})
		if err != nil {
			return fmt.Errorf("inventory file %s: %w", where, classify(err))
		}
		err = readInventoryCSV(out.Body, strings.HasSuffix(f.Key, ".gz"), inv.schema, inv.bucket, inv.listPrefix(), fn)
		out.Body.Close()
		if err != nil {
			return fmt.Errorf("inventory file %s: %w", where, err)
		}
	}
	return nil
}

// inventoryPage is how many objects a page of the report holds.
const inventoryPage = 1000

// pager hands the objects of a report file to fn in pages of
// inventoryPage, keeping those whose keys start with prefix.
type pager struct {
	prefix string
	fn     func(page []pusher.Object) error
	page   []pusher.Object
}

func newPager(prefix string, fn func(page []pusher.Object) error) *pager {
	return &pager{prefix: prefix, fn: fn, page: make([]pusher.Object, 0, inventoryPage)}
}

// add takes obj, and calls fn when the page is full.
func (p *pager) add(obj pusher.Object) error {
	if !strings.HasPrefix(obj.Key, p.prefix) {
		return nil
	}
	p.page = append(p.page, obj)
	if len(p.page) < inventoryPage {
		return nil
	}
	err := p.fn(p.page)
	p.page = make([]pusher.Object, 0, inventoryPage) // fn may keep the page
	return err
}

// flush calls fn with the last page, if it holds any object.
func (p *pager) flush() error {
	if len(p.page) == 0 {
		return nil
	}
	return p.fn(p.page)
}

// readInventoryCSV reads one CSV file of a report (gzip-compressed when
// gz), and calls fn with pages of the current objects of bucket whose keys
// start with prefix.
func readInventoryCSV(r io.Reader, gz bool, sc schema, bucket, prefix string, fn func(page []pusher.Object) error) error {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = sc.n
	cr.ReuseRecord = true
	pg := newPager(prefix, fn)
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", row, classify(err))
		}
		obj, ok, err := inventoryObject(rec, sc, bucket)
		if err != nil {
			return fmt.Errorf("row %d: %w", row, err)
		}
		if !ok {
			continue
		}
		if err := pg.add(obj); err != nil {
			return err
		}
	}
	return pg.flush()
}

// inventoryObject reads one report row; ok is false for a row to leave
// out (another bucket, a delete marker, a non-current version).
func inventoryObject(rec []string, sc schema, bucket string) (pusher.Object, bool, error) {
	field := func(i int) string {
		if i < 0 {
			return ""
		}
		return rec[i]
	}
	if b := field(sc.bucket); b != "" && b != bucket {
		return pusher.Object{}, false, nil
	}
	if field(sc.deleteMarker) == "true" || field(sc.latest) == "false" {
		return pusher.Object{}, false, nil
	}
	key, err := url.QueryUnescape(field(sc.key))
	if err != nil || key == "" {
		return pusher.Object{}, false, fmt.Errorf("bad key %q (CSV reports URL-encode keys)", field(sc.key))
	}
	obj := pusher.Object{Key: key, ETag: strings.Trim(field(sc.etag), `"`)}
	if s := field(sc.size); s != "" {
		if obj.Size, err = strconv.ParseInt(s, 10, 64); err != nil {
			return obj, false, fmt.Errorf("key %q: bad Size %q", key, s)
		}
	}
	if s := field(sc.modified); s != "" {
		if obj.LastModified, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return obj, false, fmt.Errorf("key %q: bad LastModifiedDate %q", key, s)
		}
	}
	return obj, true, nil
}
