//go:build integration

// Package integration runs ferry end to end against a real PostgreSQL and a
// real MinIO, started by integration/services.sh (make integration). Every
// test gets its own schema and bucket, so tests run in parallel.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	ferryBin    string
	databaseURL string
	s3Endpoint  string
	pool        *pgxpool.Pool
	s3Client    *s3.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	databaseURL = os.Getenv("FERRY_TEST_DATABASE_URL")
	s3Endpoint = os.Getenv("FERRY_TEST_S3_ENDPOINT")
	if databaseURL == "" || s3Endpoint == "" {
		fmt.Fprintln(os.Stderr, "integration tests need FERRY_TEST_DATABASE_URL and FERRY_TEST_S3_ENDPOINT: run them with `make integration`, which starts PostgreSQL and MinIO")
		return 1
	}
	dir, err := os.MkdirTemp("", "ferry-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ferryBin = filepath.Join(dir, "ferry")
	_, thisFile, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(thisFile))
	build := exec.Command("go", "build", "-race", "-o", ferryBin, "./cmd/ferry")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ferry:", err)
		return 1
	}
	ctx := context.Background()
	if pool, err = pgxpool.New(ctx, databaseURL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "PostgreSQL:", err)
		return 1
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s3Client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s3Endpoint)
		o.UsePathStyle = true
	})
	return m.Run()
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newSchema creates a schema for one test and drops it at the end.
func newSchema(t *testing.T) string {
	t.Helper()
	name := randomName("it_")
	exec1(t, "CREATE SCHEMA "+name)
	t.Cleanup(func() { pool.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE") })
	return name
}

// newBucket creates a bucket for one test.
func newBucket(t *testing.T) string {
	t.Helper()
	name := strings.ReplaceAll(randomName("it-"), "_", "-")
	if _, err := s3Client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

func put(t *testing.T, bucket, key string, body []byte) {
	t.Helper()
	if _, err := s3Client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func exec1(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// queryRows returns every row as strings (NULL as "NULL"), for exact checks.
func queryRows(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = "NULL"
			case time.Time:
				parts[i] = v.UTC().Format(time.RFC3339Nano)
			default:
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

// ferry runs the binary and waits for it.
func ferry(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(ferryBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ferry: %v", err)
	}
	t.Logf("ferry %s\nexit %d\n%s", strings.Join(args, " "), code, errb.String())
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func table(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func putInput(bucket, key string, body []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
}

// skipUnlessCI skips the test for a missing service or program, except in
// CI (CI=true), where a missing service fails the run instead.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (required when CI=true)", args...)
	}
	t.Skipf(format, args...)
}
