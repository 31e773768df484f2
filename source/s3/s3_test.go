package s3

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, bucket, prefix string
		wantErr            bool
	}{
		{in: "s3://b", bucket: "b"},
		{in: "s3://b/", bucket: "b"},
		{in: "S3://b/p", bucket: "b", prefix: "p"},
		{in: "s3://my.bucket-1/logs/2024", bucket: "my.bucket-1", prefix: "logs/2024"},
		{in: "s3://b//p/", bucket: "b", prefix: "p"},
		{in: "s3://b/p?x#y z", bucket: "b", prefix: "p?x#y z"}, // keys are not URL-decoded
		{in: "s3://", wantErr: true},
		{in: "s3:///p", wantErr: true},
		{in: "b/p", wantErr: true},
		{in: "http://b/p", wantErr: true},
		{in: "s3:/b", wantErr: true},
		{in: "s3://b:9000/p", wantErr: true},
		{in: "s3://b?x", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		b, p, err := ParseURL(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseURL(%q) = %q, %q; want error", tt.in, b, p)
			}
			continue
		}
		if err != nil || b != tt.bucket || p != tt.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tt.in, b, p, err, tt.bucket, tt.prefix)
		}
	}
}

func TestRelString(t *testing.T) {
	tests := []struct {
		prefix, key, rel string
	}{
		{"", "a.csv", "a.csv"},
		{"", "x/a.csv", "x/a.csv"},
		{"in", "in/a.csv", "a.csv"},
		{"in", "in/x/a.csv", "x/a.csv"},
		{"in/2024", "in/2024/a.csv", "a.csv"},
		{"in", "in/", ""},
		{"in", "inx/a.csv", "inx/a.csv"}, // outside the root: unchanged
		{"in", "in", "in"},
	}
	for _, tt := range tests {
		s := &Store{bucket: "b", prefix: tt.prefix}
		if got := s.Rel(tt.key); got != tt.rel {
			t.Errorf("prefix %q: Rel(%q) = %q, want %q", tt.prefix, tt.key, got, tt.rel)
		}
	}
	obj := &Store{bucket: "b", prefix: "in/2024/a.csv.gz", object: true}
	if got := obj.Rel("in/2024/a.csv.gz"); got != "a.csv.gz" {
		t.Errorf("one object: Rel = %q, want its last path element", got)
	}
	for key, want := range map[string]bool{"in/2024/a.csv.gz": true, "in/2024/a.csv.gz.bak": false, "in/2024/a.csv.gz/x": false, "in/2024/b.csv": false} {
		if got := obj.Contains(key); got != want {
			t.Errorf("one object: Contains(%q) = %v, want %v", key, got, want)
		}
	}
	for key, want := range map[string]bool{"in/a.csv": true, "in": false, "inx/a.csv": false} {
		if got := (&Store{bucket: "b", prefix: "in"}).Contains(key); got != want {
			t.Errorf("prefix in: Contains(%q) = %v, want %v", key, got, want)
		}
	}
	if !(&Store{bucket: "b"}).Contains("any/key") {
		t.Error("no prefix: a key is not contained")
	}
	if got := obj.String(); got != "s3://b/in/2024/a.csv.gz" {
		t.Errorf("one object: String() = %q", got)
	}
	for _, u := range []string{"s3://b", "s3://b/p", "s3://b/p/q"} {
		b, p, _ := ParseURL(u + "/")
		if got := (&Store{bucket: b, prefix: p}).String(); got != u {
			t.Errorf("String() = %q, want %q", got, u)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []Config{
		{URL: "s3://b"},
		{URL: "s3://b/p", Endpoint: "http://127.0.0.1:9000", PathStyle: true},
		{URL: "s3://b/p", Endpoint: "https://s3.example.com"},
	}
	bad := []Config{
		{URL: "b"},
		{URL: "s3://b", Endpoint: "127.0.0.1:9000"},
		{URL: "s3://b", Endpoint: "ftp://x"},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// noAWSEnv isolates a test from the machine's AWS configuration.
func noAWSEnv(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
}

func TestNewUnreachable(t *testing.T) {
	noAWSEnv(t)
	start := time.Now()
	_, err := New(context.Background(), Config{URL: "s3://b/p", Endpoint: "http://127.0.0.1:1", PathStyle: true})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot reach S3 endpoint http://127.0.0.1:1: ") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q", msg)
	}
	if d := time.Since(start); d > CheckTimeout+2*time.Second {
		t.Errorf("took %v", d)
	}
	t.Log(msg)
}

func TestNewEndpointFromEnv(t *testing.T) {
	noAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	_, err := New(context.Background(), Config{URL: "s3://b", PathStyle: true})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach S3 endpoint http://127.0.0.1:1: ") {
		t.Errorf("error = %v, want it to name the endpoint from AWS_ENDPOINT_URL_S3", err)
	}
}

func TestNewBadURL(t *testing.T) {
	if _, err := New(context.Background(), Config{URL: "s3:///x"}); err == nil || !strings.Contains(err.Error(), "no bucket") {
		t.Errorf("error = %v", err)
	}
}

func TestNewVirtualHostedHint(t *testing.T) {
	noAWSEnv(t)
	_, err := New(context.Background(), Config{URL: "s3://b", Endpoint: "http://ferry-test.invalid:9000"})
	if err == nil || !strings.Contains(err.Error(), "path-style") {
		t.Errorf("error = %v, want a path-style hint", err)
	}
}
