package format

import (
	"bytes"
	"fmt"
	"io"
)

// Stream is the read buffer the record readers share: Buf[P:N] is read but
// not yet parsed, and Base is the stream offset of Buf[0]. Readers embed it
// and parse from Buf directly.
type Stream struct {
	Buf     []byte
	P, N    int
	Base    int64
	EOF     bool
	ReadErr error // final: the wrapped read error

	rd        io.Reader
	name      string // the format, for error messages
	maxRecord int
	seek      func(off int64) (io.Reader, error)
	zeroReads int
	fixed     bool // a BlockStream: Buf is a block others may read
}

// NewStream returns a Stream reading r with an initial buffer of size
// bytes, growing to at most o.MaxRecordBytes plus 4 KiB.
func NewStream(r io.Reader, name string, size int, o Options) Stream {
	if o.SizeHint > 0 && int64(size) > o.SizeHint {
		size = int(max(o.SizeHint, 4<<10))
	}
	return Stream{Buf: make([]byte, max(size, 1)), rd: r, name: name, maxRecord: o.MaxRecordBytes, seek: o.Seek}
}

// NewStreamAt is NewStream for a stream whose first byte is at offset
// off of the whole stream (a reader resuming where another stopped).
func NewStreamAt(r io.Reader, off int64, name string, size int, o Options) Stream {
	s := NewStream(r, name, size, o)
	s.Base = off
	return s
}

// BlockStream returns a Stream over block, the bytes of a stream from
// offset off up to a record boundary (or the end of the stream), which it
// treats as the end of the stream. Buf is block itself, never written: a
// parallel reader may read it again.
func BlockStream(block []byte, off int64, name string, o Options) Stream {
	return Stream{Buf: block, N: len(block), Base: off, EOF: true, name: name, maxRecord: o.MaxRecordBytes, fixed: true}
}

// Rest hands the stream over at P: the bytes read and not parsed, then
// what the source has not yet returned. The Stream must not be used after,
// nor Rest called when ReadErr is set.
func (s *Stream) Rest() io.Reader {
	buffered := bytes.NewReader(s.Buf[s.P:s.N])
	if s.EOF || s.rd == nil {
		return buffered
	}
	return io.MultiReader(buffered, s.rd)
}

// Fill moves the unparsed bytes to the front of the buffer, grows it when
// they fill it, and reads until the buffer is full, the stream ends or a
// read fails. It does nothing on a BlockStream.
func (s *Stream) Fill() {
	if s.fixed {
		return
	}
	if s.P > 0 {
		s.N = copy(s.Buf, s.Buf[s.P:s.N])
		s.Base += int64(s.P)
		s.P = 0
	}
	if s.N == len(s.Buf) {
		// One record fills the buffer. Readers report records longer than
		// MaxRecordBytes before the buffer outgrows that bound.
		size := 2 * len(s.Buf)
		if limit := s.maxRecord + 4096; size > limit {
			size = max(limit, len(s.Buf)+1)
		}
		nb := make([]byte, size)
		copy(nb, s.Buf[:s.N])
		s.Buf = nb
	}
	for s.N < len(s.Buf) && !s.EOF && s.ReadErr == nil {
		m, err := s.rd.Read(s.Buf[s.N:])
		s.N += m
		if err == io.EOF {
			s.EOF = true
		} else if err != nil {
			s.ReadErr = fmt.Errorf("read at byte %d: %w", s.Base+int64(s.N), err)
		} else if m == 0 {
			if s.zeroReads++; s.zeroReads > 100 {
				s.ReadErr = fmt.Errorf("read at byte %d: %w", s.Base+int64(s.N), io.ErrNoProgress)
			}
		} else {
			s.zeroReads = 0
		}
	}
}

// SkipTo moves to stream offset off, which must be a line boundary (just
// after an LF, or the end of the stream), without parsing what it passes.
// With Options.Seek it reopens the stream just before off instead of
// reading up to it.
func (s *Stream) SkipTo(off int64) error {
	if s.seek != nil && off-1 > s.Base+int64(s.N) {
		rd, err := s.seek(off - 1)
		if err != nil {
			return fmt.Errorf("%s: seek to byte %d: %w", s.name, off-1, err)
		}
		s.rd = rd
		s.Base, s.P, s.N = off-1, 0, 0
		s.EOF, s.zeroReads = false, 0
		s.Fill()
	}
	var prev byte
	for s.Base+int64(s.N) < off {
		if s.ReadErr != nil {
			return s.ReadErr
		}
		if s.EOF {
			return fmt.Errorf("%s: start offset %d is beyond the end of the stream (%d bytes)", s.name, off, s.Base+int64(s.N))
		}
		if s.N > 0 {
			prev = s.Buf[s.N-1]
		}
		s.P = s.N
		s.Fill()
	}
	s.P = int(off - s.Base)
	if s.P > 0 {
		prev = s.Buf[s.P-1]
	}
	if prev == '\n' {
		return nil
	}
	// The last record may end at the end of the stream without a newline.
	for s.P == s.N && !s.EOF && s.ReadErr == nil {
		s.Fill()
	}
	if s.P == s.N && s.EOF {
		return nil
	}
	if s.ReadErr != nil {
		return s.ReadErr
	}
	return fmt.Errorf("%s: start offset %d is not at the end of a line", s.name, off)
}
