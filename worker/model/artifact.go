package model

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/nightshift-ml/nightshift/storage"
)

// Load reads the artifact folder at uri (any URI storage.Open accepts):
// model.json, strictly decoded and validated, then the weights it names,
// checked against its count and CRC-32C. Errors name the URI and field.
func Load(ctx context.Context, st storage.Config, uri string) (*Model, error) {
	b, dir, err := storage.Open(ctx, uri, st)
	if err != nil {
		return nil, err
	}
	specKey := storage.JoinKey(dir, SpecFile)
	data, err := readAll(ctx, b, specKey, maxSpecBytes)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", uri, err)
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", b.URI(specKey), err)
	}
	wKey := storage.JoinKey(dir, spec.Weights.File)
	weights, err := readWeights(ctx, b, wKey, spec.Weights)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", b.URI(wKey), err)
	}
	m, err := New(*spec, weights)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", uri, err)
	}
	return m, nil
}

// readAll reads a whole object of at most limit bytes; an oversized one is
// an invalid artifact.
func readAll(ctx context.Context, b storage.Bucket, key string, limit int64) ([]byte, error) {
	data, err := storage.ReadAll(ctx, b, key, limit)
	if errors.Is(err, storage.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	return data, err
}

// readWeights streams weights.bin, decoding little-endian float32 and
// checking the size and CRC-32C that model.json pins.
func readWeights(ctx context.Context, b storage.Bucket, key string, ref WeightsRef) ([]float32, error) {
	rc, info, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	want := ref.Count * 4
	if info.Size >= 0 && info.Size != want {
		return nil, fmt.Errorf("%w: weights.count: file is %d bytes, model.json says %d float32 values (%d bytes)",
			ErrCorruptWeights, info.Size, ref.Count, want)
	}
	w := make([]float32, ref.Count)
	br := bufio.NewReaderSize(rc, 1<<20)
	crc := uint32(0)
	var buf [4096]byte
	for done := 0; done < len(w); {
		n := min(len(buf), 4*(len(w)-done))
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return nil, fmt.Errorf("%w: weights.count: file ends after %d of %d values: %v", ErrCorruptWeights, done, len(w), err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		for i := 0; i < n; i += 4 {
			w[done] = math.Float32frombits(binary.LittleEndian.Uint32(buf[i:]))
			done++
		}
	}
	if extra, _ := br.Read(buf[:1]); extra > 0 {
		return nil, fmt.Errorf("%w: weights.count: file holds more than %d values", ErrCorruptWeights, len(w))
	}
	if crc != ref.CRC32C {
		return nil, fmt.Errorf("%w: weights.crc32c: file has %d, model.json says %d", ErrCorruptWeights, crc, ref.CRC32C)
	}
	return w, nil
}

// Save writes the artifact to the folder at uri: the weights first, then
// model.json, so a reader that finds model.json finds the weights it pins.
// Each object is written atomically. Spec may have been edited since New
// (metrics, lineage); it is validated again before anything is written.
func (m *Model) Save(ctx context.Context, st storage.Config, uri string) error {
	spec := m.Spec
	spec.Weights.Count = int64(len(m.weights))
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("model %s: %w", uri, err)
	}
	b, dir, err := storage.Open(ctx, uri, st)
	if err != nil {
		return err
	}
	wKey := storage.JoinKey(dir, spec.Weights.File)
	w := storage.NewWriter(ctx, b, wKey, storage.PutOptions{ContentType: "application/octet-stream"})
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf [4096]byte
	crc := uint32(0)
	for rest := m.weights; len(rest) > 0; {
		n := min(len(rest), len(buf)/4)
		for i, v := range rest[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		crc = crc32.Update(crc, castagnoli, buf[:4*n])
		bw.Write(buf[:4*n])
		rest = rest[n:]
	}
	if err := bw.Flush(); err != nil {
		w.Abort()
		return fmt.Errorf("writing %s: %w", b.URI(wKey), err)
	}
	if _, err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", b.URI(wKey), err)
	}
	spec.Weights.CRC32C = crc
	data, err := spec.Encode()
	if err != nil {
		return err
	}
	specKey := storage.JoinKey(dir, SpecFile)
	if _, err := b.Put(ctx, specKey, bytes.NewReader(data), int64(len(data)), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("writing %s: %w", b.URI(specKey), err)
	}
	return nil
}
