package main

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func init() { Register("compress", compressCases) }

// compressCases are gzip and zstd files: members and frames, padding, empty
// files, truncation and corruption.
func compressCases() ([]File, error) {
	csvText := []byte("id,name\n1,alpha\n2,beta\n3,gamma\n")
	csvWant := []byte(`{"id":"1","name":"alpha"}` + "\n" + `{"id":"2","name":"beta"}` + "\n" + `{"id":"3","name":"gamma"}` + "\n")
	jsonlText := []byte("{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":\"b\"}\n")
	jsonlWant := []byte(`{"n":1,"s":"a"}` + "\n" + `{"n":2,"s":"b"}` + "\n")

	gz, err := gzipOf(csvText)
	if err != nil {
		return nil, err
	}
	gzHead, err := gzipOf(csvText[:15]) // "id,name\n1,alph"
	if err != nil {
		return nil, err
	}
	gzTail, err := gzipOf(csvText[15:])
	if err != nil {
		return nil, err
	}
	zs, err := zstdOf(jsonlText)
	if err != nil {
		return nil, err
	}
	zsA, err := zstdOf(jsonlText[:10])
	if err != nil {
		return nil, err
	}
	zsB, err := zstdOf(jsonlText[10:])
	if err != nil {
		return nil, err
	}
	corrupt := bytes.Clone(gz)
	corrupt[len(corrupt)-6] ^= 0xff // the CRC-32 of the trailer
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	var files []File
	add := func(name string, data []byte, side string, sideData []byte) {
		files = append(files, File{Path: "compress/" + name, Data: data}, File{Path: "compress/" + name + side, Data: sideData})
	}
	want := func(name string, data, w []byte) { add(name, data, ".want", w) }
	fail := func(name string, data []byte, msg string) { add(name, data, ".fail", []byte(msg+"\n")) }

	want("gzip.csv.gz", gz, csvWant)
	want("gzip-two-members.csv.gz", cat(gzHead, gzTail), csvWant)
	want("gzip-zero-padding.csv.gz", cat(gz, make([]byte, 1024)), csvWant)
	want("gzip-members-then-padding.csv.gz", cat(gzHead, gzTail, make([]byte, 3)), csvWant)
	want("gzip-empty-file.csv.gz", nil, nil)
	want("gzip-sniffed.csv", gz, csvWant) // no .gz: found by its magic bytes
	fail("gzip-garbage-after.csv.gz", cat(gz, []byte("garbage\n")), "gzip: invalid header")
	fail("gzip-padding-then-data.csv.gz", cat(gz, make([]byte, 8), []byte{1}), "gzip: data after the zero padding")
	fail("gzip-truncated.csv.gz", gz[:len(gz)-5], "unexpected EOF")
	fail("gzip-bad-crc.csv.gz", corrupt, "gzip: invalid checksum")
	want("zstd.jsonl.zst", zs, jsonlWant)
	want("zstd-two-frames.jsonl.zst", cat(zsA, zsB), jsonlWant)
	want("zstd-empty-file.jsonl.zst", nil, nil)
	fail("zstd-truncated.jsonl.zst", zs[:len(zs)-3], "unexpected EOF")
	return files, nil
}

// gzipOf compresses b as one gzip member with a fixed header (no name, no
// time), so the output is the same every run.
func gzipOf(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// zstdOf compresses b as one zstd frame, with a checksum.
func zstdOf(b []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil), nil
}
