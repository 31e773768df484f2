// Command benchgen writes the benchmark CSV that integration/bench.sh loads
// with both `psql \copy` and ferry, or the same rows as JSON lines, and
// uploads a file to S3 (MinIO).
//
// The file is deterministic for a given row count and seed:
//
//	id,ts,user_id,event,amount,ok,note
//	1,2024-03-01T00:00:00.412Z,581923,click,317.05,true,café
//
// or, with -format jsonl, one object a line with the keys in column order
// (a NULL note is null):
//
//	{"id":1,"ts":"2024-03-01T00:00:00.412Z","user_id":581923,"event":"click","amount":317.05,"ok":true,"note":"café"}
//
// id bigint 1..N; ts timestamptz (RFC 3339, milliseconds, UTC, increasing);
// user_id int in 1..1,000,000; event text, one of eight words; amount double
// precision with two decimals; ok boolean; note text that is sometimes NULL
// (an unquoted empty field), sometimes an empty string (""), and otherwise
// mixes quotes, commas and non-ASCII text. Rows average about 68 bytes, so
// 2,000,000 rows are about 136 MB.
//
// Usage:
//
//	benchgen -rows 2000000 -out events.csv
//	benchgen -rows 2000000 -format jsonl -out events.jsonl
//	benchgen -upload -file events.csv -bucket ferry-bench -key events/events.csv
//
// The upload reads the endpoint from FERRY_TEST_S3_ENDPOINT (path-style
// addressing) and credentials from the usual AWS environment, creates the
// bucket if needed and puts the file as one object.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	var (
		rows   = flag.Int64("rows", 2_000_000, "number of data rows to generate")
		format = flag.String("format", "csv", "csv, or jsonl: the same rows as JSON lines")
		seed   = flag.Uint64("seed", 1, "random seed (the same seed and rows give the same file)")
		out    = flag.String("out", "", "generate the CSV into this file (written atomically)")
		upload = flag.Bool("upload", false, "upload -file to s3://-bucket/-key")
		file   = flag.String("file", "", "file to upload (default: -out)")
		bucket = flag.String("bucket", "ferry-bench", "bucket to upload to (created if missing)")
		key    = flag.String("key", "events/events.csv", "object key to upload to")
	)
	flag.Parse()
	if *out == "" && !*upload {
		fmt.Fprintln(os.Stderr, "benchgen: nothing to do: give -out FILE and/or -upload")
		flag.Usage()
		os.Exit(2)
	}
	if *format != "csv" && *format != "jsonl" {
		fatal(fmt.Errorf("-format must be csv or jsonl, got %q", *format))
	}
	if *out != "" {
		start := time.Now()
		n, err := generateFile(*out, *format, *rows, *seed)
		if err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "benchgen: wrote %s: %d rows, %d bytes (%.1f bytes/row) in %.2fs\n",
			*out, *rows, n, float64(n)/float64(max(*rows, 1)), time.Since(start).Seconds())
	}
	if *upload {
		f := *file
		if f == "" {
			f = *out
		}
		if f == "" {
			fatal(errors.New("-upload needs -file or -out"))
		}
		start := time.Now()
		n, err := uploadFile(context.Background(), f, *bucket, *key)
		if err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "benchgen: uploaded %s to s3://%s/%s: %d bytes in %.2fs\n",
			f, *bucket, *key, n, time.Since(start).Seconds())
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "benchgen: %v\n", err)
	os.Exit(1)
}

// generateFile writes the CSV to a temporary file next to path and renames
// it into place, so an interrupted run never leaves a truncated file behind.
func generateFile(path, format string, rows int64, seed uint64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := generate(w, format == "jsonl", rows, seed); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	st, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	return st.Size(), nil
}

var events = [...]string{"view", "click", "purchase", "signup", "login", "logout", "search", "share"}

// notes are already CSV-encoded. Most are short so that a row averages about
// 68 bytes; the long ones carry the quoting and multi-byte cases.
var notes = [...]string{
	``,     // NULL
	`""`,   // empty string
	`ok`,   //
	`café`, // 2-byte UTF-8
	`ñ`,
	`日本`,    // 3-byte UTF-8
	`"a,b"`, // comma
	`checked out`,
	`"n/a, see ticket"`,
	`"say ""hi"""`, // quotes
	`"déjà vu, again"`,
	`"said ""hi"", café ñ 日本"`, // all of it
	`🚀`,                        // 4-byte UTF-8
	`retry later`,
	`"1,5"`,
	`naïve approach`,
	``,
}

// notesJSON are the notes as JSON values, decoded from their CSV form: an
// unquoted empty field is null, a quoted one loses its quotes and has its
// doubled quotes undoubled.
var notesJSON = func() (out [len(notes)][]byte) {
	for i, n := range notes {
		if n == "" {
			out[i] = []byte("null")
			continue
		}
		if len(n) >= 2 && n[0] == '"' {
			n = strings.ReplaceAll(n[1:len(n)-1], `""`, `"`)
		}
		b, err := json.Marshal(n)
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}()

var base = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// generate writes the header and rows to w, or the same rows as JSON
// lines. It formats with strconv appends into one reused line buffer;
// time.AppendFormat is the only costly call. The random draws are the same
// in both formats, so the rows are too.
func generate(w *bufio.Writer, jsonl bool, rows int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	if !jsonl {
		if _, err := w.WriteString("id,ts,user_id,event,amount,ok,note\n"); err != nil {
			return err
		}
	}
	line := make([]byte, 0, 256)
	ts := base
	for id := int64(1); id <= rows; id++ {
		// About 1.3 s between events on average, with millisecond jitter.
		ts = ts.Add(time.Duration(rng.IntN(2600)) * time.Millisecond)
		cents := rng.IntN(100_000) // 0.00 .. 999.99

		if jsonl {
			line = jsonLine(line[:0], rng, id, ts, cents)
			if _, err := w.Write(line); err != nil {
				return err
			}
			continue
		}
		line = line[:0]
		line = strconv.AppendInt(line, id, 10)
		line = append(line, ',')
		line = ts.AppendFormat(line, "2006-01-02T15:04:05.000Z")
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(1+rng.IntN(1_000_000)), 10)
		line = append(line, ',')
		line = append(line, events[rng.IntN(len(events))]...)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(cents/100), 10)
		line = append(line, '.', byte('0'+cents/10%10), byte('0'+cents%10))
		line = append(line, ',')
		line = strconv.AppendBool(line, rng.IntN(2) == 0)
		line = append(line, ',')
		line = append(line, notes[id%int64(len(notes))]...)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// jsonLine appends row id as a JSON object, drawing from rng what the CSV
// row draws, in the same order.
func jsonLine(line []byte, rng *rand.Rand, id int64, ts time.Time, cents int) []byte {
	line = append(line, `{"id":`...)
	line = strconv.AppendInt(line, id, 10)
	line = append(line, `,"ts":"`...)
	line = ts.AppendFormat(line, "2006-01-02T15:04:05.000Z")
	line = append(line, `","user_id":`...)
	line = strconv.AppendInt(line, int64(1+rng.IntN(1_000_000)), 10)
	line = append(line, `,"event":"`...)
	line = append(line, events[rng.IntN(len(events))]...)
	line = append(line, `","amount":`...)
	line = strconv.AppendInt(line, int64(cents/100), 10)
	line = append(line, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	line = append(line, `,"ok":`...)
	line = strconv.AppendBool(line, rng.IntN(2) == 0)
	line = append(line, `,"note":`...)
	line = append(line, notesJSON[id%int64(len(notes))]...)
	return append(line, "}\n"...)
}

func uploadFile(ctx context.Context, path, bucket, key string) (int64, error) {
	endpoint := os.Getenv("FERRY_TEST_S3_ENDPOINT")
	if endpoint == "" {
		return 0, errors.New("FERRY_TEST_S3_ENDPOINT is not set (run under integration/services.sh)")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return 0, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})

	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
		var owned *types.BucketAlreadyOwnedByYou
		if err != nil && !errors.As(err, &owned) {
			return 0, fmt.Errorf("create bucket %q: %w", bucket, err)
		}
	}

	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &bucket,
		Key:           &key,
		Body:          f,
		ContentLength: aws.Int64(st.Size()),
		ContentType:   aws.String("text/csv"),
	})
	if err != nil {
		return 0, fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return st.Size(), nil
}
