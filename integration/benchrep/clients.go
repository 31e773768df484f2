package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// store is the S3 (MinIO) side: path-style addressing at the test endpoint,
// credentials from the usual AWS environment.
type store struct {
	client *s3.Client
}

func newStore(ctx context.Context, endpoint string) (*store, error) {
	// Part 2 uploads 32 objects at a time: keep that many connections
	// open instead of the default 10 per host.
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 128
		t.MaxIdleConnsPerHost = 64
	})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		// No CRC of every upload: the 2 GiB one is timed, and MinIO on
		// loopback does not need it.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return &store{client: client}, nil
}

func (s *store) createBucket(ctx context.Context, bucket string) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func (s *store) put(ctx context.Context, bucket, key string, body []byte) error {
	_, err := s.putObject(ctx, bucket, key, "text/csv", body)
	return err
}

// putObject uploads body and returns the object's ETag, without quotes (as
// an S3 event notification gives it).
func (s *store) putObject(ctx context.Context, bucket, key, contentType string, body []byte) (etag string, err error) {
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
	})
	if err != nil {
		return "", fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// putFile uploads a file as one object, streaming it from disk.
func (s *store) putFile(ctx context.Context, bucket, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &bucket,
		Key:           &key,
		Body:          f,
		ContentLength: aws.Int64(st.Size()),
		ContentType:   aws.String("text/csv"),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// removeBucket deletes every object of the bucket, then the bucket.
func (s *store) removeBucket(ctx context.Context, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s: %w", bucket, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete objects in s3://%s: %w", bucket, err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("delete s3://%s/%s: %s", bucket, aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
		}
	}
	if _, err := s.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}

// database is the PostgreSQL side.
type database struct {
	pool *pgxpool.Pool
}

func openDatabase(ctx context.Context, url string) (*database, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &database{pool: pool}, nil
}

func (d *database) close() { d.pool.Close() }

// freshTable drops and creates table with the given column list.
func (d *database) freshTable(ctx context.Context, table, columns string) error {
	ident := pgx.Identifier{table}.Sanitize()
	_, err := d.pool.Exec(ctx, "DROP TABLE IF EXISTS "+ident+"; CREATE TABLE "+ident+" "+columns)
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	return nil
}

func (d *database) dropTable(ctx context.Context, table string) error {
	_, err := d.pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
	return err
}

// checkpoint flushes dirty pages so that an earlier load's are not written
// during the next timed one. Only a superuser (or pg_checkpoint) may; the
// error is ignored.
func (d *database) checkpoint(ctx context.Context) {
	_, _ = d.pool.Exec(ctx, "CHECKPOINT")
}

// forgetPipeline deletes a pipeline's progress and rejects, so that it
// starts fresh (an interrupted earlier run may have left some).
func (d *database) forgetPipeline(ctx context.Context, pipeline string) error {
	for _, t := range []string{"ferry.files", "ferry.rejects", "ferry.leases", "ferry.lease_owners"} {
		_, err := d.pool.Exec(ctx, "DELETE FROM "+t+" WHERE pipeline = $1", pipeline)
		if err != nil && !isUndefinedTable(err) {
			return fmt.Errorf("forget pipeline %s in %s: %w", pipeline, t, err)
		}
	}
	return nil
}

func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") // undefined_table, invalid_schema_name
}

// fileStates counts a pipeline's files by status in ferry.files, and
// returns the error of one failed file, if any. A missing ferry.files
// counts as no files (ferry creates it at start).
func (d *database) fileStates(ctx context.Context, pipeline string) (done, failed int, failure string, err error) {
	err = d.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'done'),
		count(*) FILTER (WHERE status = 'failed'),
		coalesce(min(key || ': ' || coalesce(error, '')) FILTER (WHERE status = 'failed'), '')
		FROM ferry.files WHERE pipeline = $1`, pipeline).Scan(&done, &failed, &failure)
	if err != nil && isUndefinedTable(err) {
		return 0, 0, "", nil
	}
	return done, failed, failure, err
}

// countRows returns count(*) and, when distinctID, count(DISTINCT id).
func (d *database) countRows(ctx context.Context, table string, distinctID bool) (rows, distinct int64, err error) {
	ident := pgx.Identifier{table}.Sanitize()
	if distinctID {
		err = d.pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM "+ident).Scan(&rows, &distinct)
	} else {
		err = d.pool.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&rows)
		distinct = rows
	}
	return rows, distinct, err
}
