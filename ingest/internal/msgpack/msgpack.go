// Package msgpack decodes MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md)
// into the values encoding/json produces, so that the event and breadcrumbs
// sentry-native's Crashpad backend attaches to a minidump upload
// (__sentry-event, __sentry-breadcrumb1/2) can be merged into a JSON event.
//
// The decoder is for untrusted input: every length is checked against the
// bytes that remain before anything is allocated, nesting is bounded, and
// values JSON cannot hold are mapped to ones it can (binary to string,
// NaN and infinities to null, extension types to null except the
// timestamp extension, which becomes seconds as a float).
package msgpack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// MaxDepth bounds nesting of arrays and maps.
const MaxDepth = 64

// ErrTruncated is returned when the input ends inside a value.
var ErrTruncated = errors.New("msgpack: truncated input")

// Decode reads one value from b and returns it with the bytes after it.
// Maps become map[string]any (non-string keys are formatted as text),
// arrays []any, integers int64 or uint64, floats float64, strings and
// binary string, nil nil.
func Decode(b []byte) (any, []byte, error) {
	d := decoder{b: b}
	v := d.value(0)
	if d.err != nil {
		return nil, nil, d.err
	}
	return v, d.b, nil
}

// DecodeAll reads a sequence of values filling all of b, at most max of
// them.
func DecodeAll(b []byte, max int) ([]any, error) {
	var out []any
	for len(b) > 0 {
		if len(out) >= max {
			return nil, fmt.Errorf("msgpack: more than %d values", max)
		}
		v, rest, err := Decode(b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

// decoder latches its first error; later reads return zero values, so
// value can read fields in a straight line.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(ErrTruncated)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (d *decoder) u32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (d *decoder) u64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *decoder) value(depth int) any {
	if d.err != nil {
		return nil
	}
	if depth > MaxDepth {
		d.fail(fmt.Errorf("msgpack: nesting deeper than %d", MaxDepth))
		return nil
	}
	c := d.u8()
	if d.err != nil {
		return nil
	}
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	case c&0xf0 == 0x80:
		return d.mapN(uint64(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayN(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return string(d.take(uint64(c & 0x1f)))
	}
	switch c {
	case 0xc0:
		return nil
	case 0xc2:
		return false
	case 0xc3:
		return true
	case 0xc4, 0xd9:
		return string(d.take(uint64(d.u8())))
	case 0xc5, 0xda:
		return string(d.take(uint64(d.u16())))
	case 0xc6, 0xdb:
		return string(d.take(uint64(d.u32())))
	case 0xc7:
		n := uint64(d.u8())
		return d.ext(int8(d.u8()), n)
	case 0xc8:
		n := uint64(d.u16())
		return d.ext(int8(d.u8()), n)
	case 0xc9:
		n := uint64(d.u32())
		return d.ext(int8(d.u8()), n)
	case 0xca:
		return finite(float64(math.Float32frombits(d.u32())))
	case 0xcb:
		return finite(math.Float64frombits(d.u64()))
	case 0xcc:
		return int64(d.u8())
	case 0xcd:
		return int64(d.u16())
	case 0xce:
		return int64(d.u32())
	case 0xcf:
		v := d.u64()
		if v <= math.MaxInt64 {
			return int64(v)
		}
		return v
	case 0xd0:
		return int64(int8(d.u8()))
	case 0xd1:
		return int64(int16(d.u16()))
	case 0xd2:
		return int64(int32(d.u32()))
	case 0xd3:
		return int64(d.u64())
	case 0xd4:
		return d.ext(int8(d.u8()), 1)
	case 0xd5:
		return d.ext(int8(d.u8()), 2)
	case 0xd6:
		return d.ext(int8(d.u8()), 4)
	case 0xd7:
		return d.ext(int8(d.u8()), 8)
	case 0xd8:
		return d.ext(int8(d.u8()), 16)
	case 0xdc:
		return d.arrayN(uint64(d.u16()), depth)
	case 0xdd:
		return d.arrayN(uint64(d.u32()), depth)
	case 0xde:
		return d.mapN(uint64(d.u16()), depth)
	case 0xdf:
		return d.mapN(uint64(d.u32()), depth)
	}
	d.fail(fmt.Errorf("msgpack: invalid type byte 0x%02x", c))
	return nil
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

func (d *decoder) arrayN(n uint64, depth int) any {
	// Every element takes at least one byte.
	if n > uint64(len(d.b)) {
		d.fail(ErrTruncated)
		return nil
	}
	out := make([]any, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.value(depth+1))
	}
	return out
}

func (d *decoder) mapN(n uint64, depth int) any {
	// Every entry takes at least two bytes.
	if n > uint64(len(d.b))/2 {
		d.fail(ErrTruncated)
		return nil
	}
	out := make(map[string]any, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.value(depth + 1)
		v := d.value(depth + 1)
		out[keyString(k)] = v
	}
	return out
}

func keyString(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case uint64:
		return strconv.FormatUint(t, 10)
	case nil:
		return "null"
	default:
		return fmt.Sprint(t)
	}
}

// ext decodes an extension value: the timestamp extension (type -1)
// becomes Unix seconds as a float, others null.
func (d *decoder) ext(typ int8, n uint64) any {
	p := d.take(n)
	if p == nil || typ != -1 {
		return nil
	}
	switch n {
	case 4:
		return float64(binary.BigEndian.Uint32(p))
	case 8:
		v := binary.BigEndian.Uint64(p)
		nsec, sec := v>>34, v&(1<<34-1)
		return float64(sec) + float64(nsec)/1e9
	case 12:
		nsec := binary.BigEndian.Uint32(p[:4])
		sec := int64(binary.BigEndian.Uint64(p[4:]))
		return float64(sec) + float64(nsec)/1e9
	}
	return nil
}

// Append appends the MessagePack encoding of v to b. It covers the types
// Decode produces (and int, for convenience); maps are written in sorted
// key order so that output is deterministic. Cairn only decodes
// MessagePack in production; tests use Append to build inputs.
func Append(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, 0xc0)
	case bool:
		if t {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case int:
		return Append(b, int64(t))
	case int64:
		if t >= 0 && t <= 0x7f {
			return append(b, byte(t))
		}
		b = append(b, 0xd3)
		return binary.BigEndian.AppendUint64(b, uint64(t))
	case uint64:
		b = append(b, 0xcf)
		return binary.BigEndian.AppendUint64(b, t)
	case float64:
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(t))
	case string:
		b = append(b, 0xdb)
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
		return append(b, t...)
	case []any:
		b = append(b, 0xdd)
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
		for _, e := range t {
			b = Append(b, e)
		}
		return b
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, 0xdf)
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
		for _, k := range keys {
			b = Append(b, k)
			b = Append(b, t[k])
		}
		return b
	}
	panic(fmt.Sprintf("msgpack: cannot encode %T", v))
}
