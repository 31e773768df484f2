package json

import (
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// cloudTrail generates a CloudTrail-like document of about size bytes,
// {"Records":[{...},{...},...]}, without holding it in memory.
type cloudTrail struct {
	size    int64 // bytes wanted
	emitted int64 // bytes returned so far
	n       int   // records generated
	buf     []byte
	pos     int
	done    bool
}

func newCloudTrail(size int64) *cloudTrail { return &cloudTrail{size: size} }

func (g *cloudTrail) Read(p []byte) (int, error) {
	for g.pos == len(g.buf) {
		if g.done {
			return 0, io.EOF
		}
		g.buf, g.pos = g.buf[:0], 0
		switch {
		case g.n == 0:
			g.buf = append(g.buf, "{\"Records\":[\n"...)
			g.record()
		case g.emitted >= g.size:
			g.buf = append(g.buf, "\n]}\n"...)
			g.done = true
		default:
			g.buf = append(g.buf, ",\n"...)
			g.record()
		}
	}
	n := copy(p, g.buf[g.pos:])
	g.pos += n
	g.emitted += int64(n)
	return n, nil
}

func (g *cloudTrail) record() {
	i := g.n
	g.n++
	b := g.buf
	b = append(b, `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:session-`...)
	b = strconv.AppendInt(b, int64(i%977), 10)
	b = append(b, `","arn":"arn:aws:sts::123456789012:assumed-role/Role/session","accountId":"123456789012"},"eventTime":"2024-03-01T12:`...)
	b = strconv.AppendInt(b, int64(10+i%50), 10)
	b = append(b, `:00Z","eventSource":"s3.amazonaws.com","eventName":"`...)
	b = append(b, [...]string{"GetObject", "PutObject", "ListBuckets", "AssumeRole"}[i%4]...)
	b = append(b, `","awsRegion":"us-east-1","sourceIPAddress":"10.0.`...)
	b = strconv.AppendInt(b, int64(i%256), 10)
	b = append(b, `.7","userAgent":"aws-sdk-go-v2/1.30 os/linux \"quoted\"","requestParameters":{"bucketName":"bucket","key":"logs/2024/03/01/file-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `.json.gz"},"responseElements":null,"requestID":"`...)
	b = strconv.AppendInt(b, int64(i)*7919, 16)
	b = append(b, `","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::bucket/k"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","bytes":`...)
	b = strconv.AppendInt(b, int64(i%100000), 10)
	b = append(b, ".5}"...)
	g.buf = b
}

// TestMemoryBounded reads a 200 MB document streamed from a generator:
// the heap must stay far below the document's size.
func TestMemoryBounded(t *testing.T) {
	size := int64(200 << 20)
	if testing.Short() {
		size = 20 << 20
	}
	const limit = 64 << 20
	g := newCloudTrail(size)
	r, err := New(g, format.Options{RecordsField: "Records", BatchRows: 10000}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var b pusher.Batch
	var ms runtime.MemStats
	var peak uint64
	rows := 0
	for i := 0; ; i++ {
		err := r.Next(&b)
		rows += b.Len()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() > 10000 {
			t.Fatalf("batch of %d records", b.Len())
		}
		if i%4 == 0 {
			runtime.ReadMemStats(&ms)
			if peak = max(peak, ms.HeapInuse); ms.HeapInuse > limit {
				t.Fatalf("heap in use %d MB after %d MB of the document", ms.HeapInuse>>20, g.emitted>>20)
			}
		}
	}
	if rows != g.n || r.Pos() != (pusher.Position{Records: int64(g.n), Offset: g.emitted - 4}) {
		t.Fatalf("%d rows of %d, pos %+v after %d bytes", rows, g.n, r.Pos(), g.emitted)
	}
	t.Logf("%d records, %d MB; heap in use at most %d MB", rows, g.emitted>>20, peak>>20)
}
