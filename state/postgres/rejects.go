package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrydata/ferry/pusher"
)

// Reject records rejected records of c's file with q, inside the chunk's
// transaction.
func (sc Schema) Reject(ctx context.Context, q Querier, pipeline string, file pusher.Object, rejects []*pusher.RecordError) error {
	if len(rejects) == 0 {
		return nil
	}
	records := make([]int64, len(rejects))
	offsets := make([]*int64, len(rejects))
	errs := make([]string, len(rejects))
	raws := make([]*string, len(rejects))
	for i, r := range rejects {
		records[i] = r.Record
		if r.Offset >= 0 {
			off := r.Offset
			offsets[i] = &off
		}
		errs[i] = cleanText(r.Err.Error())
		if r.Raw != nil {
			raw := cleanText(string(r.Raw))
			raws[i] = &raw
		}
	}
	_, err := sc.on(q).Exec(ctx, `INSERT INTO ferry.rejects (pipeline, key, etag, record, byte_offset, error, raw)
		SELECT $1, $2, $3, r.record, r.byte_offset, r.error, r.raw
		FROM unnest($4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS r(record, byte_offset, error, raw)`,
		pipeline, file.Key, file.ETag, records, offsets, errs, raws)
	if err != nil {
		return Classify(fmt.Errorf("state: record %d rejects of %q: %w", len(rejects), file.Key, err))
	}
	return nil
}

// RejectMessage records a queue message that could not be used (not a
// notification): key is the queue URL, etag empty, raw the body cut at
// pusher.MaxRawBytes.
func (s *Store) RejectMessage(ctx context.Context, pipeline, queueURL, messageID, body string, cause error) error {
	if len(body) > pusher.MaxRawBytes {
		body = body[:pusher.MaxRawBytes]
	}
	_, err := s.db().Exec(ctx, `INSERT INTO ferry.rejects (pipeline, key, etag, message_id, error, raw) VALUES ($1, $2, '', $3, $4, $5)`,
		pipeline, queueURL, messageID, cleanText(cause.Error()), cleanText(body))
	if err != nil {
		return Classify(fmt.Errorf("state: record rejected message %s: %w", messageID, err))
	}
	return nil
}

// cleanText makes s storable as PostgreSQL text: invalid UTF-8 and NUL
// bytes become U+FFFD.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
