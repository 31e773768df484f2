package filestore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// entry is the progress of one file version, as the snapshot and the log
// keep it. Its JSON form is the one the single-file store wrote: only
// fields may be added.
type entry struct {
	Key      string          `json:"key"`
	ETag     string          `json:"etag"`
	Size     int64           `json:"size"`
	Status   state.Status    `json:"status"`
	Pos      pusher.Position `json:"position"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error,omitempty"`
	Updated  time.Time       `json:"updated_at"`
	// Counted: Loaded and Rejected count the committed records
	// (state.Counts); false in entries of a ferry that did not count them.
	Counted  bool  `json:"counted,omitempty"`
	Loaded   int64 `json:"loaded,omitempty"`
	Rejected int64 `json:"rejected,omitempty"`
	// Rescued counts the committed records loaded with values kept in the
	// target's rescue column.
	Rescued int64 `json:"rescued,omitempty"`
	// Modified is the object's LastModified; Started the first attempt,
	// Attempted the start of the last one (zero in entries of a ferry
	// that did not keep them).
	Modified  time.Time `json:"modified,omitzero"`
	Started   time.Time `json:"started_at,omitzero"`
	Attempted time.Time `json:"attempted_at,omitzero"`
	// Retries are the failures a retry cleared, oldest first.
	Retries []state.Retry `json:"retries,omitempty"`
	// Tail is the checksum of the bytes before the end of a done version
	// (--on-change resume).
	Tail *state.Tail `json:"tail,omitempty"`
	// AfterLoad is a done version's --after-load action.
	AfterLoad *afterLoad `json:"after_load,omitempty"`
}

// afterLoad is state.AfterLoad as an entry keeps it.
type afterLoad struct {
	Status   state.AfterLoadStatus `json:"status"`
	Action   string                `json:"action"`
	Attempts int                   `json:"attempts,omitempty"`
	Error    string                `json:"error,omitempty"`
	At       time.Time             `json:"at,omitzero"`
}

func (a *afterLoad) info() state.AfterLoad {
	if a == nil {
		return state.AfterLoad{}
	}
	return state.AfterLoad{Status: a.Status, Action: a.Action, Attempts: a.Attempts, Error: a.Error, At: a.At}
}

func (e *entry) info(pipeline string) state.FileInfo {
	p := e.progress()
	rescued := int64(-1)
	if e.Counted {
		rescued = e.Rescued
	}
	return state.FileInfo{Pipeline: pipeline, Key: e.Key, ETag: e.ETag, Size: e.Size, Status: e.Status, Attempts: e.Attempts,
		Records: e.Pos.Records, Loaded: p.Loaded, Rejected: p.Rejected, Rescued: rescued, Error: e.Error,
		Modified: e.Modified, Started: e.Started, Attempted: e.Attempted, Updated: e.Updated, Retries: e.Retries,
		AfterLoad: e.AfterLoad.info()}
}

func (e *entry) progress() state.Progress {
	p := state.Progress{Status: e.Status, Pos: e.Pos, Attempts: e.Attempts, Error: e.Error, Loaded: -1, Rejected: -1}
	if e.Counted {
		p.Loaded, p.Rejected = e.Loaded, e.Rejected
	}
	return p
}

// fileID names a file version in a del record.
type fileID struct {
	Key  string `json:"key"`
	ETag string `json:"etag"`
}

// document is the snapshot: the whole state of a pipeline at the last
// compaction. Version 1 is also the format of the single JSON file that
// ferry wrote before the log existed, so a directory written by an older
// ferry opens as a snapshot with an empty log.
type document struct {
	Version  int       `json:"version"`
	Pipeline string    `json:"pipeline"`
	Anchor   time.Time `json:"anchor,omitzero"`
	Files    []*entry  `json:"files"`
}

// record is one line of the log: the changes of one commit (one or several
// steps written with one fsync), applied in the order put, del, anchor.
// A put holds the whole new entry, so replaying a record twice, or a log
// over a snapshot that already contains it, gives the same state.
type record struct {
	// Pipeline names the pipeline in the first line of a log, so that a
	// log without a snapshot says whose it is (state.Inspector.Pipelines).
	Pipeline string    `json:"pipeline,omitempty"`
	Put      []*entry  `json:"put,omitempty"`
	Del      []fileID  `json:"del,omitempty"`
	Anchor   time.Time `json:"anchor,omitzero"`
}

func (r *record) empty() bool { return len(r.Put) == 0 && len(r.Del) == 0 && r.Anchor.IsZero() }

func (r *record) ops() int {
	n := len(r.Put) + len(r.Del)
	if !r.Anchor.IsZero() {
		n++
	}
	return n
}

func (r *record) add(o record) {
	r.Put = append(r.Put, o.Put...)
	r.Del = append(r.Del, o.Del...)
	if !o.Anchor.IsZero() {
		r.Anchor = o.Anchor
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A log line is the CRC-32C of the JSON record in 8 hex digits, a space,
// the record and a newline. A line that is cut short or does not match its
// checksum is told apart from a good one; it is a torn append when it is
// the last line, and corruption anywhere else.
const crcLen = 8

func encodeLine(r record) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, crcLen+1+len(js)+1)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(js, castagnoli))
	line = append(line, js...)
	return append(line, '\n'), nil
}

var errBadChecksum = errors.New("checksum mismatch")

// decodeLine parses a whole line, newline included. An error means the
// line is damaged (errBadChecksum, or too short) or, with a good checksum,
// not a record this version understands.
func decodeLine(line []byte) (record, error) {
	var r record
	if len(line) < crcLen+2 || line[crcLen] != ' ' || line[len(line)-1] != '\n' {
		return r, errBadChecksum
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:crcLen]); err != nil {
		return r, errBadChecksum
	}
	js := line[crcLen+1 : len(line)-1]
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.Checksum(js, castagnoli) != want {
		return r, errBadChecksum
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, fmt.Errorf("not a state record: %w", err)
	}
	if r.empty() {
		return r, errors.New("not a state record: no change in it")
	}
	for _, e := range r.Put {
		if e == nil {
			return r, errors.New("not a state record: null entry")
		}
	}
	return r, nil
}
