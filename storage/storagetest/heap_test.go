package storagetest

import (
	"io"
	"testing"
)

var sink []byte

// TestHeapWatchSeesAllocations keeps the streaming test's memory check
// honest: a watch must notice a 64 MiB allocation.
func TestHeapWatchSeesAllocations(t *testing.T) {
	h := WatchHeap()
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = byte(i)
	}
	growth := h.Growth()
	sink = nil
	if growth < 64<<20 {
		t.Errorf("heap growth %d MiB after allocating 64 MiB", growth>>20)
	}
}

func TestDataIsDeterministic(t *testing.T) {
	whole := Bytes(9, 1001)
	var odd []byte
	r := Data(9, 1001)
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		odd = append(odd, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	if string(whole) != string(odd) {
		t.Error("Data depends on read sizes")
	}
	if string(Bytes(9, 64)) == string(Bytes(10, 64)) {
		t.Error("Data ignores the seed")
	}
}
