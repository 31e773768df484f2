package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	pqformat "github.com/parquet-go/parquet-go/format"
)

// Pages are decompressed here, not by the library's codecs: each page
// decompresses into a buffer of exactly the size its header declares
// (already checked against the limits), and must fill it exactly. The
// library's codecs could allocate what corrupt data claims (a snappy
// block's declared length, a gzip or zstd stream's output), the LZ4_RAW
// one doubled its buffer forever on corrupt input, and a codec that
// decoded into a buffer of its own left the page's buffer unfilled (every
// string of a valid LZ4_RAW file read as "").

// codecSupported reports whether pages compressed with c can be read.
func codecSupported(c pqformat.CompressionCodec) bool {
	switch c {
	case pqformat.Uncompressed, pqformat.Snappy, pqformat.Gzip, pqformat.Brotli, pqformat.Zstd, pqformat.Lz4Raw:
		return true
	}
	return false
}

// errSize is a page that does not decompress to the size its header says.
var errSize = errors.New("does not decompress to the size its header declares")

// decompress decompresses src, compressed with c, into dst, which has
// exactly the length the page header declares.
func decompress(c pqformat.CompressionCodec, dst, src []byte) error {
	switch c {
	case pqformat.Snappy:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return err
		}
		if n != len(dst) {
			return fmt.Errorf("%w (%d bytes, not %d)", errSize, n, len(dst))
		}
		out, err := s2.Decode(dst, src)
		if err != nil {
			return err
		}
		if len(out) != len(dst) || (len(out) > 0 && &out[0] != &dst[0]) {
			return errSize
		}
		return nil
	case pqformat.Lz4Raw:
		n, err := lz4.UncompressBlock(src, dst)
		if err != nil {
			return fmt.Errorf("lz4: %w", err)
		}
		if n != len(dst) {
			return fmt.Errorf("%w (%d bytes, not %d)", errSize, n, len(dst))
		}
		return nil
	case pqformat.Gzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer gzipPool.Put(zr)
		return readExactly(zr, dst)
	case pqformat.Brotli:
		br, _ := brotliPool.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(bytes.NewReader(src))
		} else if err := br.Reset(bytes.NewReader(src)); err != nil {
			return fmt.Errorf("brotli: %w", err)
		}
		defer brotliPool.Put(br)
		return readExactly(br, dst)
	case pqformat.Zstd:
		d := zstdPool.Get().(*zstd.Decoder)
		defer zstdPool.Put(d)
		if err := d.Reset(bytes.NewReader(src)); err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		return readExactly(d, dst)
	}
	return fmt.Errorf("unsupported compression codec %v", c)
}

// Decompressors are reused: each holds tables and windows that are costly
// to set up for every page.
var gzipPool, brotliPool sync.Pool

// zstdMaxWindow bounds the window a zstd frame may declare.
const zstdMaxWindow = 128 << 20

var zstdPool = sync.Pool{New: func() any {
	// A frame may declare a window of up to 512 MiB (the default), which
	// the decoder allocates; writers' pages of a few MiB use a few MiB.
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		panic(err) // only for invalid options
	}
	return d
}}

// readExactly fills dst from r and checks that r has nothing more.
func readExactly(r io.Reader, dst []byte) error {
	if n, err := io.ReadFull(r, dst); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fmt.Errorf("%w (only %d bytes, not %d)", errSize, n, len(dst))
		}
		return err
	}
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w (more than %d bytes)", errSize, len(dst))
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return err
	}
	return nil
}
