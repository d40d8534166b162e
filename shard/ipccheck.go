package shard

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Arrow's Go IPC reader sizes slices by the vector lengths it finds in a
// file's flatbuffer schema (fields, children, custom metadata) before it
// reads them, so one corrupt length asks for terabytes and the process dies
// of an out-of-memory error no recover can catch. checkArrowSchema walks
// those vectors first and requires each to fit inside its buffer.

// Vtable slots of the flatbuffer tables that lead to the schema (Arrow's
// File.fbs, Message.fbs and Schema.fbs).
const (
	footerSchema        = 1
	messageHeaderType   = 1
	messageHeader       = 2
	schemaFields        = 1
	schemaCustomMeta    = 2
	schemaFeatures      = 3
	fieldChildren       = 5
	fieldCustomMeta     = 6
	headerTypeSchema    = 1
	maxSchemaDepth      = 64
	uoffsetSize         = 4
	featureSize         = 8
	arrowFileTrailerLen = 10 // int32 footer length, then "ARROW1"
)

// fbuf is a flatbuffer whose every read is bounds-checked.
type fbuf []byte

func (b fbuf) u32(pos int) (int, error) {
	if pos < 0 || pos > len(b)-4 {
		return 0, fmt.Errorf("offset %d is outside the %d-byte flatbuffer", pos, len(b))
	}
	return int(binary.LittleEndian.Uint32(b[pos:])), nil
}

// field returns the position of slot's value in the table at t, or -1
// when the table does not set it.
func (b fbuf) field(t, slot int) (int, error) {
	so, err := b.u32(t)
	if err != nil {
		return 0, err
	}
	vt := t - int(int32(uint32(so)))
	if vt < 0 || vt > len(b)-4 {
		return 0, fmt.Errorf("vtable at %d is outside the flatbuffer", vt)
	}
	vtLen := int(binary.LittleEndian.Uint16(b[vt:]))
	at := vt + 4 + 2*slot
	if 4+2*slot+2 > vtLen || at > len(b)-2 {
		return -1, nil
	}
	off := int(binary.LittleEndian.Uint16(b[at:]))
	if off == 0 {
		return -1, nil
	}
	return t + off, nil
}

// ref follows the offset stored at pos.
func (b fbuf) ref(pos int) (int, error) {
	off, err := b.u32(pos)
	if err != nil {
		return 0, err
	}
	if pos+off >= len(b) {
		return 0, fmt.Errorf("reference at %d points past the flatbuffer", pos)
	}
	return pos + off, nil
}

// vector returns the length and first element of the vector in slot of
// table t, checking that its elements of elemSize bytes fit.
func (b fbuf) vector(t, slot, elemSize int) (n, first int, err error) {
	pos, err := b.field(t, slot)
	if err != nil || pos < 0 {
		return 0, 0, err
	}
	v, err := b.ref(pos)
	if err != nil {
		return 0, 0, err
	}
	if n, err = b.u32(v); err != nil {
		return 0, 0, err
	}
	if n > (len(b)-v-4)/elemSize {
		return 0, 0, fmt.Errorf("a vector claims %d elements in a %d-byte flatbuffer", n, len(b))
	}
	return n, v + 4, nil
}

// table returns the table in slot of table t, or -1 when unset.
func (b fbuf) table(t, slot int) (int, error) {
	pos, err := b.field(t, slot)
	if err != nil || pos < 0 {
		return -1, err
	}
	return b.ref(pos)
}

// checkTables checks every table of the vector in slot of table t with fn.
func (b fbuf) checkTables(t, slot int, fn func(int) error) error {
	n, first, err := b.vector(t, slot, uoffsetSize)
	if err != nil {
		return err
	}
	for i := range n {
		e, err := b.ref(first + i*uoffsetSize)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (b fbuf) checkSchema(t int) error {
	if _, _, err := b.vector(t, schemaFeatures, featureSize); err != nil {
		return err
	}
	if _, _, err := b.vector(t, schemaCustomMeta, uoffsetSize); err != nil {
		return err
	}
	return b.checkTables(t, schemaFields, func(f int) error { return b.checkField(f, 1) })
}

func (b fbuf) checkField(t, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("fields nest deeper than %d", maxSchemaDepth)
	}
	if _, _, err := b.vector(t, fieldCustomMeta, uoffsetSize); err != nil {
		return err
	}
	return b.checkTables(t, fieldChildren, func(c int) error { return b.checkField(c, depth+1) })
}

// checkArrowFileSchema checks the schema in the footer of the Arrow IPC
// file ra holds.
func checkArrowFileSchema(ra *objectReaderAt) error {
	if ra.size < arrowFilePrefix+arrowFileTrailerLen {
		return fmt.Errorf("file of %d bytes is too small", ra.size)
	}
	trailer := make([]byte, arrowFileTrailerLen)
	if _, err := ra.ReadAt(trailer, ra.size-arrowFileTrailerLen); err != nil && err != io.EOF {
		return err
	}
	n := int64(binary.LittleEndian.Uint32(trailer))
	if string(trailer[4:]) != "ARROW1" || n <= 0 || n > ra.size-arrowFilePrefix-arrowFileTrailerLen {
		return fmt.Errorf("no valid footer")
	}
	footer := make(fbuf, n)
	if _, err := ra.ReadAt(footer, ra.size-arrowFileTrailerLen-n); err != nil && err != io.EOF {
		return err
	}
	root, err := footer.ref(0)
	if err != nil {
		return err
	}
	schema, err := footer.table(root, footerSchema)
	if err != nil || schema < 0 {
		return fmt.Errorf("footer has no schema: %v", err)
	}
	return footer.checkSchema(schema)
}

// checkArrowStreamSchema checks the schema message that starts the Arrow
// IPC stream ra holds.
func checkArrowStreamSchema(ra *objectReaderAt) error {
	head := make([]byte, 8)
	if _, err := ra.ReadAt(head, 0); err != nil && err != io.EOF {
		return err
	}
	start, n := int64(8), int64(binary.LittleEndian.Uint32(head[4:]))
	if binary.LittleEndian.Uint32(head) != 0xFFFFFFFF { // before Arrow 0.15: no continuation marker
		start, n = 4, int64(binary.LittleEndian.Uint32(head))
	}
	if n <= 0 || n > ra.size-start {
		return fmt.Errorf("schema message of %d bytes in a %d-byte object", n, ra.size)
	}
	msg := make(fbuf, n)
	if _, err := ra.ReadAt(msg, start); err != nil && err != io.EOF {
		return err
	}
	root, err := msg.ref(0)
	if err != nil {
		return err
	}
	typ, err := msg.field(root, messageHeaderType)
	if err != nil || typ < 0 || typ >= len(msg) || msg[typ] != headerTypeSchema {
		return fmt.Errorf("first message is not a schema")
	}
	schema, err := msg.table(root, messageHeader)
	if err != nil || schema < 0 {
		return fmt.Errorf("schema message has no schema: %v", err)
	}
	return msg.checkSchema(schema)
}
