package parquet

import (
	"bytes"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
)

// The library's Thrift decoder allocates what its input declares: a
// binary value of up to 2 GiB, a list of up to 2^31 elements, before
// reading them. Footers, page headers and offset indexes are decoded
// through boundedReader, which refuses a declaration larger than the bytes
// left to read it from (each element of a list or map takes at least a
// byte).

type thriftReader = thrift.Reader

type boundedReader struct {
	thriftReader
	left func() int64 // bytes left in the input
}

func (r boundedReader) check(what string, n int64) error {
	if left := r.left(); n > left {
		return fmt.Errorf("thrift: a %s of %d declared with %d bytes left", what, n, left)
	}
	return nil
}

func (r boundedReader) ReadBytes() ([]byte, error) {
	n, err := r.ReadLength()
	if err != nil {
		return nil, err
	}
	if err := r.check("binary value", int64(n)); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.Reader(), b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func (r boundedReader) ReadString() (string, error) {
	b, err := r.ReadBytes()
	return string(b), err
}

func (r boundedReader) ReadList() (thrift.List, error) {
	l, err := r.thriftReader.ReadList()
	if err == nil {
		err = r.check("list", int64(l.Size))
	}
	return l, err
}

func (r boundedReader) ReadSet() (thrift.Set, error) {
	l, err := r.thriftReader.ReadSet()
	if err == nil {
		err = r.check("set", int64(l.Size))
	}
	return l, err
}

func (r boundedReader) ReadMap() (thrift.Map, error) {
	m, err := r.thriftReader.ReadMap()
	if err == nil {
		err = r.check("map", int64(m.Size))
	}
	return m, err
}

// decodeThrift decodes b (Thrift compact protocol) into v, all of b; the
// library's decoder panics on some corrupt input.
func decodeThrift(b []byte, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	br := bytes.NewReader(b)
	r := boundedReader{new(thrift.CompactProtocol).NewReader(br), func() int64 { return int64(br.Len()) }}
	if err := thrift.NewDecoder(r).Decode(v); err != nil {
		return err
	}
	if n := br.Len(); n != 0 {
		return fmt.Errorf("thrift: %d bytes after the end", n)
	}
	return nil
}
