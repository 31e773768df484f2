package sqs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one object named by a notification.
type Event struct {
	// Name is the event type as sent: "ObjectCreated:Put",
	// "ObjectRemoved:Delete", EventBridge's "Object Created", ...
	Name   string
	Bucket string
	// Key is the object key, decoded (S3 notifications URL-encode it, with
	// "+" for a space).
	Key       string
	Size      int64
	ETag      string // without quotes
	VersionID string
	Sequencer string
	Time      time.Time
}

// Created says whether the event reports a new object version.
func (e Event) Created() bool {
	return strings.HasPrefix(e.Name, "ObjectCreated:") || e.Name == "Object Created"
}

// Removed says whether the event reports an object removed (deleted, or
// hidden by a delete marker).
func (e Event) Removed() bool {
	return strings.HasPrefix(e.Name, "ObjectRemoved:") || e.Name == "Object Deleted"
}

// Notification is a parsed message body.
type Notification struct {
	// Envelope says how the body came: "s3", "sns" (an S3 notification in
	// an SNS envelope) or "eventbridge".
	Envelope string
	// Test is true for S3's s3:TestEvent, sent when a notification is
	// configured; it names no object.
	Test   bool
	Events []Event
}

// ErrNotNotification: the body is not an S3 notification in any of the
// shapes Parse knows.
var ErrNotNotification = errors.New("not an S3 event notification")

// Parse reads a message body: an S3 event notification (Records[]), the
// same wrapped in an SNS envelope (Type "Notification", the notification
// as a JSON string in Message), an EventBridge S3 event (source "aws.s3",
// detail.bucket.name, detail.object.key), or an s3:TestEvent. Anything
// else is an error wrapping ErrNotNotification.
func Parse(body []byte) (Notification, error) {
	var probe struct {
		Records    json.RawMessage `json:"Records"`
		Event      string          `json:"Event"`
		Type       string          `json:"Type"`
		Message    *string         `json:"Message"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
		Time       string          `json:"time"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Notification{}, fmt.Errorf("%w: %v", ErrNotNotification, jsonReason(err))
	}
	switch {
	case probe.Type == "Notification" && probe.Message != nil:
		n, err := Parse([]byte(*probe.Message))
		if err != nil {
			return n, fmt.Errorf("SNS message: %w", err)
		}
		if n.Envelope != "s3" {
			return Notification{}, fmt.Errorf("SNS message: %w: a nested %s envelope", ErrNotNotification, n.Envelope)
		}
		n.Envelope = "sns"
		return n, nil
	case probe.Event == "s3:TestEvent":
		return Notification{Envelope: "s3", Test: true}, nil
	case probe.Records != nil:
		return parseRecords(probe.Records)
	case probe.Source == "aws.s3" && probe.Detail != nil:
		return parseEventBridge(probe.DetailType, probe.Time, probe.Detail)
	}
	return Notification{}, fmt.Errorf("%w: no Records, SNS Message or EventBridge detail", ErrNotNotification)
}

func parseRecords(raw json.RawMessage) (Notification, error) {
	var records []struct {
		EventName string `json:"eventName"`
		EventTime string `json:"eventTime"`
		S3        *struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string      `json:"key"`
				Size      json.Number `json:"size"`
				ETag      string      `json:"eTag"`
				VersionID string      `json:"versionId"`
				Sequencer string      `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(raw, &records); err != nil {
		return Notification{}, fmt.Errorf("%w: Records: %v", ErrNotNotification, jsonReason(err))
	}
	n := Notification{Envelope: "s3", Events: make([]Event, 0, len(records))}
	for i, r := range records {
		if r.S3 == nil || r.EventName == "" {
			return Notification{}, fmt.Errorf("%w: Records[%d] has no eventName or s3", ErrNotNotification, i)
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return Notification{}, fmt.Errorf("%w: Records[%d]: object key %q: %v", ErrNotNotification, i, r.S3.Object.Key, err)
		}
		e := Event{
			Name: r.EventName, Bucket: r.S3.Bucket.Name, Key: key,
			ETag: strings.Trim(r.S3.Object.ETag, `"`), VersionID: r.S3.Object.VersionID, Sequencer: r.S3.Object.Sequencer,
		}
		if r.S3.Object.Size != "" {
			if e.Size, err = strconv.ParseInt(string(r.S3.Object.Size), 10, 64); err != nil {
				return Notification{}, fmt.Errorf("%w: Records[%d]: size %q", ErrNotNotification, i, r.S3.Object.Size)
			}
		}
		e.Time, _ = time.Parse(time.RFC3339Nano, r.EventTime)
		if e.Created() && (e.Bucket == "" || e.Key == "") {
			return Notification{}, fmt.Errorf("%w: Records[%d]: no bucket name or object key", ErrNotNotification, i)
		}
		n.Events = append(n.Events, e)
	}
	return n, nil
}

// parseEventBridge reads the detail of an EventBridge S3 event. Its object
// key is used as sent (EventBridge does not document an encoding).
func parseEventBridge(detailType, at string, raw json.RawMessage) (Notification, error) {
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string      `json:"key"`
			Size      json.Number `json:"size"`
			ETag      string      `json:"etag"`
			VersionID string      `json:"version-id"`
			Sequencer string      `json:"sequencer"`
		} `json:"object"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Notification{}, fmt.Errorf("%w: EventBridge detail: %v", ErrNotNotification, jsonReason(err))
	}
	e := Event{
		Name: detailType, Bucket: d.Bucket.Name, Key: d.Object.Key,
		ETag: strings.Trim(d.Object.ETag, `"`), VersionID: d.Object.VersionID, Sequencer: d.Object.Sequencer,
	}
	e.Time, _ = time.Parse(time.RFC3339Nano, at)
	if d.Object.Size != "" {
		var err error
		if e.Size, err = strconv.ParseInt(string(d.Object.Size), 10, 64); err != nil {
			return Notification{}, fmt.Errorf("%w: EventBridge detail: size %q", ErrNotNotification, d.Object.Size)
		}
	}
	if e.Created() && (e.Bucket == "" || e.Key == "") {
		return Notification{}, fmt.Errorf("%w: EventBridge detail: no bucket name or object key", ErrNotNotification)
	}
	return Notification{Envelope: "eventbridge", Events: []Event{e}}, nil
}

// jsonReason shortens a JSON error.
func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s: %v", te.Field, te)
	}
	return err.Error()
}
