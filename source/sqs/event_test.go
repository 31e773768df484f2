package sqs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const s3Body = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
"eventTime":"2026-11-21T10:00:00.123Z","eventName":"ObjectCreated:Put",
"s3":{"s3SchemaVersion":"1.0","bucket":{"name":"logs","arn":"arn:aws:s3:::logs"},
"object":{"key":"alb/2026/red+flower%2B%3D.log.gz","size":1234,"eTag":"0123abcd","versionId":"v1","sequencer":"0055AED6DCD90281E5"}}},
{"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"logs"},"object":{"key":"big.csv","size":"99","eTag":"\"ff-3\""}}}]}`

func TestParseS3(t *testing.T) {
	n, err := Parse([]byte(s3Body))
	if err != nil {
		t.Fatal(err)
	}
	if n.Envelope != "s3" || n.Test || len(n.Events) != 2 {
		t.Fatalf("got %+v", n)
	}
	e := n.Events[0]
	want := Event{Name: "ObjectCreated:Put", Bucket: "logs", Key: "alb/2026/red flower+=.log.gz", Size: 1234, ETag: "0123abcd",
		VersionID: "v1", Sequencer: "0055AED6DCD90281E5", Time: time.Date(2026, 11, 21, 10, 0, 0, 123e6, time.UTC)}
	if e != want {
		t.Errorf("event 0:\n got %+v\nwant %+v", e, want)
	}
	if !e.Created() {
		t.Error("Put not created")
	}
	if e := n.Events[1]; e.Key != "big.csv" || e.Size != 99 || e.ETag != "ff-3" || !e.Created() {
		t.Errorf("event 1: %+v", e)
	}
}

func TestParseSNS(t *testing.T) {
	body := `{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:1:t","Subject":"Amazon S3 Notification",
"Message":` + quote(s3Body) + `,"Timestamp":"2026-11-21T10:00:00.000Z"}`
	n, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if n.Envelope != "sns" || len(n.Events) != 2 || n.Events[0].Key != "alb/2026/red flower+=.log.gz" {
		t.Fatalf("got %+v", n)
	}
	// An SNS test event wraps the S3 test event.
	n, err = Parse([]byte(`{"Type":"Notification","Message":"{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Bucket\":\"logs\"}"}`))
	if err != nil || !n.Test {
		t.Fatalf("SNS test event: %+v, %v", n, err)
	}
}

func TestParseEventBridge(t *testing.T) {
	body := `{"version":"0","id":"17793124","detail-type":"Object Created","source":"aws.s3","account":"1",
"time":"2021-11-12T00:00:00Z","region":"ca-central-1","resources":["arn:aws:s3:::logs"],
"detail":{"version":"0","bucket":{"name":"logs"},"object":{"key":"a b/c.json","size":5,"etag":"b194","version-id":"IYV","sequencer":"617f"},
"request-id":"N4N","requester":"1","reason":"PutObject"}}`
	n, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Name: "Object Created", Bucket: "logs", Key: "a b/c.json", Size: 5, ETag: "b194", VersionID: "IYV", Sequencer: "617f",
		Time: time.Date(2021, 11, 12, 0, 0, 0, 0, time.UTC)}
	if n.Envelope != "eventbridge" || len(n.Events) != 1 || n.Events[0] != want || !n.Events[0].Created() {
		t.Fatalf("got %+v", n)
	}
	n, err = Parse([]byte(strings.Replace(body, "Object Created", "Object Deleted", 1)))
	if err != nil || n.Events[0].Created() {
		t.Fatalf("deleted: %+v, %v", n, err)
	}
}

func TestParseOthers(t *testing.T) {
	n, err := Parse([]byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T10:00:00.000Z","Bucket":"logs","RequestId":"r","HostId":"h"}`))
	if err != nil || !n.Test || len(n.Events) != 0 {
		t.Fatalf("test event: %+v, %v", n, err)
	}
	n, err = Parse([]byte(`{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"x","sequencer":"1"}}}]}`))
	if err != nil || len(n.Events) != 1 || n.Events[0].Created() {
		t.Fatalf("removed: %+v, %v", n, err)
	}
}

func TestParseGarbage(t *testing.T) {
	for _, body := range []string{
		``, `garbage`, `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"a"`,
		`[]`, `{}`, `{"hello":"world"}`, `{"Records":"x"}`, `{"Records":[{"eventName":"ObjectCreated:Put"}]}`,
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":""},"object":{"key":"a"}}}]}`,
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}]}`,
		`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a","size":"big"}}}]}`,
		`{"Type":"Notification","Message":"not json"}`,
		`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{}}}`,
	} {
		_, err := Parse([]byte(body))
		if !errors.Is(err, ErrNotNotification) {
			t.Errorf("Parse(%q) = %v, want ErrNotNotification", body, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(s3Body))
	f.Add([]byte(`{"Type":"Notification","Message":"{}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrNotNotification) {
				t.Fatalf("error not wrapping ErrNotNotification: %v", err)
			}
			return
		}
		for _, e := range n.Events {
			if e.Created() && (e.Bucket == "" || e.Key == "") {
				t.Fatalf("created event without bucket or key: %+v", e)
			}
		}
	})
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
