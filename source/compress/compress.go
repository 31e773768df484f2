// Package compress detects and undoes the compression of a file: none, gzip
// or zstd.
//
// Reader wraps a byte stream in a decompressor chosen by mode. In Auto mode
// the key's extension decides (.gz/.gzip, .zst/.zstd); failing that, the
// stream's magic bytes do, peeked through a buffer so nothing is lost.
//
// gzip streams are read whole, every member of a multi-member file, with
// github.com/klauspost/compress/gzip (faster than compress/gzip; see
// BenchmarkGzip); zero bytes after the last member (tape-style padding)
// are skipped, as GNU gzip does, while other data after it is an error.
// zstd streams are decoded synchronously by one pooled
// github.com/klauspost/compress/zstd decoder per open file, with the window
// limited to MaxZstdWindow. A zero-byte file is an empty stream, whatever
// its compression, as a zero-byte plain file is. A truncated or corrupt
// stream is always an error (io.ErrUnexpectedEOF or the decoder's), never
// a silent short read.
package compress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Modes.
const (
	Auto = "auto"
	None = "none"
	Gzip = "gzip"
	Zstd = "zstd"
)

// MaxZstdWindow is the largest zstd window accepted (128 MiB, the zstd
// command line's default limit); it bounds a decoder's memory.
const MaxZstdWindow = 128 << 20

// bufSize is the read buffer in front of a decompressor. It also gives the
// gzip inflater an io.ByteReader so it does not add its own small buffer.
const bufSize = 64 << 10

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// ValidMode reports an error unless mode is one of the modes.
func ValidMode(mode string) error {
	switch mode {
	case Auto, None, Gzip, Zstd:
		return nil
	}
	return fmt.Errorf("unknown compression %q (want %s, %s, %s or %s)", mode, Auto, None, Gzip, Zstd)
}

// FromExt returns the compression implied by key's extension, or "" when it
// implies none.
func FromExt(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".gz", ".gzip":
		return Gzip
	case ".zst", ".zstd":
		return Zstd
	}
	return ""
}

// Reader returns r decompressed according to mode (Auto, None, Gzip or
// Zstd; "" means Auto), and the compression it resolved to (never Auto).
// key is the object's key, used by Auto. Closing the returned reader
// releases the decompressor; it does not close r, which the caller owns.
func Reader(r io.Reader, mode, key string) (io.ReadCloser, string, error) {
	if mode == "" {
		mode = Auto
	}
	if err := ValidMode(mode); err != nil {
		return nil, "", err
	}
	if mode == None {
		return io.NopCloser(r), None, nil
	}
	if mode == Auto {
		mode = FromExt(key)
		if mode == "" {
			var err error
			if mode, r, err = sniff(r); err != nil {
				return nil, "", err
			}
			if mode == None {
				return io.NopCloser(r), None, nil
			}
		}
	}
	br := bufio.NewReaderSize(r, bufSize)
	switch mode {
	case Gzip, Zstd:
		// A zero-byte file holds no records, like a zero-byte plain file
		// (an object store does not keep half-written objects).
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				return io.NopCloser(br), mode, nil
			}
			return nil, "", wrap(mode, err)
		}
	}
	switch mode {
	case Gzip:
		rc, err := newGzip(br)
		return rc, Gzip, err
	case Zstd:
		rc, err := newZstd(br)
		return rc, Zstd, err
	}
	return io.NopCloser(br), None, nil
}

// sniff returns the compression named by r's first bytes, and a reader
// of r from its start. It reads those bytes itself rather than through a
// bufio.Reader, so that a plain file (most small files) is read without a
// buffer of its own.
func sniff(r io.Reader) (string, io.Reader, error) {
	var head [4]byte // len(zstdMagic)
	n, err := io.ReadFull(r, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", nil, fmt.Errorf("detect compression: %w", err)
	}
	mode := None
	switch {
	case bytes.HasPrefix(head[:n], gzipMagic):
		mode = Gzip
	case bytes.HasPrefix(head[:n], zstdMagic):
		mode = Zstd
	}
	if n == 0 {
		return mode, r, nil
	}
	return mode, io.MultiReader(bytes.NewReader(head[:n]), r), nil
}

var gzipPool sync.Pool // of *gzip.Reader

// gzipReader reads the members of a gzip file one at a time, so that
// what follows a member can be told apart: another member, the end, zero
// padding (skipped) or anything else (an error).
type gzipReader struct {
	*gzip.Reader
	src *bufio.Reader
}

func newGzip(src *bufio.Reader) (io.ReadCloser, error) {
	var err error
	z, _ := gzipPool.Get().(*gzip.Reader)
	if z == nil {
		z, err = gzip.NewReader(src)
	} else {
		err = z.Reset(src)
	}
	if err != nil {
		if errors.Is(err, io.EOF) { // not even a header
			err = io.ErrUnexpectedEOF
		}
		return nil, wrap("gzip", err)
	}
	z.Multistream(false)
	return &gzipReader{Reader: z, src: src}, nil
}

func (g *gzipReader) Read(p []byte) (int, error) {
	if g.Reader == nil {
		return 0, errors.New("gzip: read after close")
	}
	for {
		n, err := g.Reader.Read(p)
		if err == io.EOF {
			var more bool
			if more, err = g.nextMember(); err == nil && more {
				if n > 0 || len(p) == 0 {
					return n, nil
				}
				continue
			}
			if err == nil {
				err = io.EOF
			}
		}
		if err != nil && err != io.EOF {
			err = wrap("gzip", err)
		}
		return n, err
	}
}

// nextMember looks at what follows the member just read: another member
// (started, more is true), the end of the file, or zero bytes up to the
// end (padding, skipped). Anything else is gzip.ErrHeader, as the
// multi-member reader reports it.
func (g *gzipReader) nextMember() (more bool, err error) {
	head, err := g.src.Peek(1)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if head[0] == 0 {
		return false, skipZeros(g.src)
	}
	if magic, _ := g.src.Peek(len(gzipMagic)); !bytes.Equal(magic, gzipMagic) {
		return false, gzip.ErrHeader
	}
	if err := g.Reader.Reset(g.src); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return false, err
	}
	g.Reader.Multistream(false)
	return true, nil
}

// errAfterPadding: data other than zeros follows the zero padding after
// the last gzip member.
var errAfterPadding = errors.New("data after the zero padding that follows the last member")

// skipZeros reads r to its end, failing unless every byte is zero.
func skipZeros(r *bufio.Reader) error {
	for {
		b, err := r.Peek(bufSize)
		for _, c := range b {
			if c != 0 {
				return errAfterPadding
			}
		}
		if _, derr := r.Discard(len(b)); derr != nil {
			return derr
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// Close releases the decoder; it does not verify the rest of the stream.
func (g *gzipReader) Close() error {
	if g.Reader == nil {
		return nil
	}
	z := g.Reader
	g.Reader = nil
	z.Close()
	gzipPool.Put(z)
	return nil
}

// zstdPool holds synchronous decoders (concurrency 1: no goroutines, so a
// decoder dropped by the pool leaks nothing).
var zstdPool sync.Pool // of *zstd.Decoder

type zstdReader struct {
	d *zstd.Decoder
}

func newZstd(r io.Reader) (io.ReadCloser, error) {
	d, _ := zstdPool.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxZstdWindow))
		if err != nil {
			return nil, wrap("zstd", err)
		}
	} else if err := d.Reset(r); err != nil {
		zstdPool.Put(d)
		return nil, wrap("zstd", err)
	}
	return &zstdReader{d: d}, nil
}

func (z *zstdReader) Read(p []byte) (int, error) {
	if z.d == nil {
		return 0, errors.New("zstd: read after close")
	}
	n, err := z.d.Read(p)
	if err != nil && err != io.EOF {
		err = wrap("zstd", err)
	}
	return n, err
}

func (z *zstdReader) Close() error {
	if z.d == nil {
		return nil
	}
	d := z.d
	z.d = nil
	if err := d.Reset(nil); err != nil {
		d.Close()
		return nil
	}
	zstdPool.Put(d)
	return nil
}

// wrap prefixes err with the codec's name unless it already starts with it.
func wrap(codec string, err error) error {
	if strings.HasPrefix(err.Error(), codec+":") {
		return err
	}
	return fmt.Errorf("%s: %w", codec, err)
}
